// The credentials file edited while Drone requests flow: a valid edit is served once loaded, an invalid one never
// is (the last good entries stay), and no request in between fails or sees a half-written file.

import { postSigned } from '../support/drone-signer';
import { DRONE_SECRET, startDroneSidecar } from '../support/drone-sidecar';

const FIRST = '- address: registry.example.com\n  username: ci-bot\n  password: first-pa55word\n';
const SECOND = `${FIRST}- address: gcr.io\n  username: _json_key\n  password: second-pa55word\n`;
const BROKEN = `${SECOND}- address: quay.io\n  username: robot\n  pasword: typo\n`;
const BODY = JSON.stringify({ repo: { slug: 'octocat/hello' }, build: { event: 'push', target: 'main' } });
// Loads take milliseconds; this bounds a wait on a loaded machine, never a pass.
const WAIT_LIMIT_MS = 20_000;

describe('the credentials file edited while requests flow', () => {
  it('serves a valid edit once loaded, keeps the last good entries through an invalid one, and fails no request', async () => {
    const sidecar = await startDroneSidecar({ credentials: FIRST, store: { debounceMs: 20, recheckMs: 250 } });
    const answers: { status: number; addresses: string[] }[] = [];
    let flowing = true;
    const flow = (async () => {
      while (flowing) {
        const response = await postSigned(sidecar.endpoint, { secret: DRONE_SECRET, body: BODY });
        const addresses = response.status === 200 ? (JSON.parse(response.body.toString('utf8')) as { address: string }[]).map((login) => login.address) : [];
        answers.push({ status: response.status, addresses });
      }
    })();
    const waitFor = async (done: () => boolean) => {
      const limit = Date.now() + WAIT_LIMIT_MS;
      while (!done() && Date.now() < limit) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(done()).toBe(true);
    };
    const servedSince = (from: number, addresses: string[]) => answers.slice(from).filter((answer) => answer.addresses.join() === addresses.join()).length;
    try {
      await waitFor(() => servedSince(0, ['registry.example.com']) >= 5);

      sidecar.writeCredentials(SECOND);
      await waitFor(() => servedSince(0, ['registry.example.com', 'gcr.io']) >= 1);

      sidecar.writeCredentials(BROKEN);
      await waitFor(() => sidecar.store.status().lastError !== undefined);
      const afterRefusal = answers.length;
      await waitFor(() => answers.length >= afterRefusal + 20);
      expect(answers.slice(afterRefusal).every((answer) => answer.addresses.join() === 'registry.example.com,gcr.io')).toBe(true);
    } finally {
      flowing = false;
      await flow;
      await sidecar.close();
    }
    expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    const seen = new Set(answers.map((answer) => answer.addresses.join()));
    expect([...seen].sort()).toEqual(['registry.example.com', 'registry.example.com,gcr.io']);
    expect(sidecar.store.status().lastError?.message).toMatch(/"pasword" is not a credentials-file key/);
    expect(sidecar.log.lines.join('\n')).not.toContain('second-pa55word');
  }, 60_000);
});
