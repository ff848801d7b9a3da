import { parseWwwAuthenticate, preferredChallenge } from '../../src/registry/challenge';

describe('parseWwwAuthenticate', () => {
  it('reads a Bearer challenge with a comma inside a quoted scope', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:team/app:pull,push' } },
    ]);
  });

  it('reads two challenges in one header', () => {
    const challenges = parseWwwAuthenticate('Bearer realm="https://x/token", service="x", Basic realm="x basic"');
    expect(challenges.map((c) => c.scheme)).toEqual(['bearer', 'basic']);
    expect(challenges[1]?.params.realm).toBe('x basic');
  });

  it('accepts unquoted values, mixed case and escaped quotes', () => {
    expect(parseWwwAuthenticate('BASIC Realm=plain, charset="UTF-8", note="a \\"quoted\\" word"')).toEqual([
      { scheme: 'basic', params: { realm: 'plain', charset: 'UTF-8', note: 'a "quoted" word' } },
    ]);
  });

  it('answers nothing for an empty header', () => {
    expect(parseWwwAuthenticate('')).toEqual([]);
  });
});

describe('preferredChallenge', () => {
  it('prefers Bearer over Basic whatever the order', () => {
    expect(preferredChallenge(parseWwwAuthenticate('Basic realm="a", Bearer realm="b"'))?.scheme).toBe('bearer');
  });

  it('answers undefined for schemes the bridge does not speak', () => {
    expect(preferredChallenge(parseWwwAuthenticate('Negotiate abc'))).toBeUndefined();
  });
});
