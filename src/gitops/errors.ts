// The three ways a write-back ends badly, one class each, so the CLI's exit code and the route's status come from
// the class alone (spec §3: 1/422 bad input, 2/502 git or auth, 3/409 retries exhausted).

import { BridgeError, BridgeErrorInit } from '../errors';

/** An input that cannot be used as given: a missing setting, a bad tag, a path outside the repository, a marker that matches nothing. */
export class GitOpsInputError extends BridgeError {
  constructor(init: BridgeErrorInit) {
    super('INVALID_CONFIGURATION', init);
  }
}

/** git failed: clone, fetch, commit, signing or a push refused for any reason other than a non-fast-forward. */
export class GitOpsGitError extends BridgeError {
  constructor(init: BridgeErrorInit) {
    super('GIT_REMOTE', init);
  }
}

/** Every push was rejected as non-fast-forward: others kept moving the branch. */
export class GitOpsContendedError extends BridgeError {
  constructor(
    init: BridgeErrorInit,
    readonly attempts: number,
  ) {
    super('GIT_CONTENDED', init);
  }
}
