// POST /gitops/update (issue 13): the gitops-update command over HTTP, behind the gitops API-token policy. The
// answer's status follows spec §3: 200 the result, 422 bad input, 502 the git remote failed, 409 retries exhausted.

import { GitOpsContendedError, GitOpsGitError, GitOpsInputError, GitOpsService } from '../gitops';
import type { Logger } from '../log';
import type { GitOpsOutcome } from './metrics';
import type { Reply, Route } from './router';

// The settings are a few hundred bytes of JSON.
const GITOPS_BODY_BYTES = 64 * 1024;
// A clone, five pushes with backoff up to 16 s, and a wait behind earlier runs for the same branch.
const GITOPS_TIMEOUT_MS = 180_000;
const JSON_TYPE = 'application/json; charset=utf-8';

export function gitOpsRoute(service: GitOpsService, log: Logger, observe: (outcome: GitOpsOutcome) => void): Route {
  return {
    name: 'gitops-update',
    methods: ['POST'],
    path: '/gitops/update',
    auth: 'gitops',
    maxBodyBytes: GITOPS_BODY_BYTES,
    timeoutMs: GITOPS_TIMEOUT_MS,
    handle: ({ body }) => answer(service, body, log, observe),
  };
}

async function answer(service: GitOpsService, body: string, log: Logger, observe: (outcome: GitOpsOutcome) => void): Promise<Reply> {
  try {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new GitOpsInputError({ message: 'the body is not JSON', fix: 'send a JSON object with git_repo, destination_file and image_tag' });
    }
    const result = await service.update(parsed);
    observe(result.result);
    return { status: 200, body: JSON.stringify(result), contentType: JSON_TYPE };
  } catch (err) {
    const [status, outcome] = err instanceof GitOpsInputError ? [422, 'bad_input'] as const : err instanceof GitOpsGitError ? [502, 'git_error'] as const : err instanceof GitOpsContendedError ? [409, 'contended'] as const : [];
    if (status === undefined) throw err;
    observe(outcome);
    const { message, fix } = err as GitOpsInputError;
    log.warn('gitops update refused', { status, error: message });
    return { status, body: JSON.stringify({ error: message, fix }), contentType: JSON_TYPE };
  }
}
