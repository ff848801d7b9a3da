import { parseTagReuseMs, ServeOptionError } from '../../src/server/serve-options';

describe('GOCD_REGISTRY_BRIDGE_TAG_REUSE_SECONDS', () => {
  it('keeps the client default when unset, and reads whole seconds up to five minutes', () => {
    expect([parseTagReuseMs(undefined), parseTagReuseMs(''), parseTagReuseMs('0'), parseTagReuseMs('10'), parseTagReuseMs('300')]).toEqual([undefined, undefined, 0, 10_000, 300_000]);
  });

  it.each(['-1', '1.5', '301', '10s', ' 10'])('refuses %j, naming the setting and the range', (text) => {
    expect(() => parseTagReuseMs(text)).toThrow(ServeOptionError);
    expect(() => parseTagReuseMs(text)).toThrow(`GOCD_REGISTRY_BRIDGE_TAG_REUSE_SECONDS "${text}" is not a whole number of seconds from 0 to 300`);
  });
});
