import type { CommandIo } from '../../src/cli';

/** In-process command streams a test can read; stdin is given up front. */
export function capturedIo(env: NodeJS.ProcessEnv = {}, stdin = ''): CommandIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: (text) => {
      out += text;
    },
    stderr: (text) => {
      err += text;
    },
    readStdin: async () => stdin,
    env: { DOCKER_CONFIG: '/nonexistent/gocd-registry-bridge-tests', ...env },
    out: () => out,
    err: () => err,
  };
}
