// WWW-Authenticate parsing (RFC 9110 §11.6.1, RFC 6750 §3). Values may be quoted and contain commas
// (scope="repository:a:pull,push"), and one header may carry several challenges (Codeberg sends Bearer and
// Basic together), so this is a small tokenizer rather than a split on ",".

export interface Challenge {
  /** Lower-cased: schemes are case-insensitive. */
  readonly scheme: string;
  /** Parameter names lower-cased; values unquoted. */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const QUOTED = /"((?:[^"\\]|\\.)*)"/y;
const SPACE = /[ \t]*/y;

export function parseWwwAuthenticate(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let pos = 0;
  const skip = (re: RegExp): string | undefined => {
    re.lastIndex = pos;
    const m = re.exec(header);
    if (!m) return undefined;
    pos = re.lastIndex;
    return m[0];
  };
  const skipSpaceAndCommas = (): void => {
    while (pos < header.length && /[ \t,]/.test(header.charAt(pos))) pos += 1;
  };

  skipSpaceAndCommas();
  while (pos < header.length) {
    const scheme = skip(TOKEN);
    if (!scheme) break; // malformed tail: keep what was parsed
    const params: Record<string, string> = {};
    skip(SPACE);
    for (;;) {
      const start = pos;
      const name = skip(TOKEN);
      skip(SPACE);
      if (!name || header.charAt(pos) !== '=') {
        pos = start; // not a parameter: the next challenge starts here
        break;
      }
      pos += 1;
      skip(SPACE);
      QUOTED.lastIndex = pos;
      const quoted = QUOTED.exec(header);
      if (quoted) {
        pos = QUOTED.lastIndex;
        params[name.toLowerCase()] = (quoted[1] ?? '').replace(/\\(.)/g, '$1');
      } else {
        params[name.toLowerCase()] = skip(TOKEN) ?? '';
      }
      skip(SPACE);
      if (header.charAt(pos) !== ',') break;
      pos += 1;
      skip(SPACE);
    }
    challenges.push({ scheme: scheme.toLowerCase(), params });
    skipSpaceAndCommas();
  }
  return challenges;
}

/** Bearer wins when a registry offers several schemes: it is what every Docker-lineage registry means. */
export function preferredChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}
