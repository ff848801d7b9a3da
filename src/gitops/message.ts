// The commit message (spec §3.2): GNU envsubst semantics on a template, so messages written for the original plugin
// render the same; [skip ci] on request so a pipeline watching the infrastructure repository does not loop.

const DEFAULT_MESSAGE = '[Auto] Update $PLUGIN_DESTINATION_FILE to $PLUGIN_IMAGE_TAG';
const SKIP_CI = '[skip ci]';

/**
 * `$NAME` and `${NAME}` become the variable's value, an unknown name becomes '' (envsubst with no argument); an
 * empty result falls back to the default message (spec §6 case 8).
 */
export function renderMessage(template: string | undefined, variables: Readonly<Record<string, string | undefined>>, options: { skipCi: boolean }): string {
  const expand = (text: string) => text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_all, braced?: string, bare?: string) => variables[(braced ?? bare) as string] ?? '');
  let message = expand(template ?? '').trim();
  if (message === '') message = expand(DEFAULT_MESSAGE);
  return options.skipCi && !message.includes(SKIP_CI) ? `${message} ${SKIP_CI}` : message;
}
