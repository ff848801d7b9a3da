import { createLogger, SerializedJson } from '../src/log';

describe('createLogger', () => {
  const logger = () => {
    const lines: string[] = [];
    return { log: createLogger((line) => lines.push(line), 'debug'), lines };
  };

  it('masks a registered secret, raw and as JSON escapes it', () => {
    const { log, lines } = logger();
    log.registerSecret('pa"ss\\word');
    log.info('oops', { detail: 'the password is pa"ss\\word' });
    expect(lines[0]).not.toContain('pa\\"ss\\\\word');
    expect(JSON.parse(lines[0]!).detail).toBe('the password is ***');
  });

  it('masks secrets made of regular-expression syntax, and the longer of two that overlap', () => {
    const { log, lines } = logger();
    log.registerSecret('p(a)s*s.w+o?r|d[1]$');
    log.registerSecret('token');
    log.registerSecret('token-and-more');
    log.info('check', { a: 'x p(a)s*s.w+o?r|d[1]$ y', b: 'pXaXs', c: '<token-and-more>', d: 'tokens' });
    expect(JSON.parse(lines[0]!)).toMatchObject({ a: 'x *** y', b: 'pXaXs', c: '<***>', d: '***s' });
  });

  it('masks a secret registered after lines were already written', () => {
    const { log, lines } = logger();
    log.registerSecret('first-secret');
    log.info('one', { a: 'first-secret second-secret' });
    log.registerSecret('second-secret');
    log.info('two', { a: 'first-secret second-secret' });
    expect(JSON.parse(lines[0]!).a).toBe('*** second-secret');
    expect(JSON.parse(lines[1]!).a).toBe('*** ***');
  });

  it('keeps only the most recent secrets, so issued tokens do not pile up', () => {
    const { log, lines } = logger();
    log.registerSecret('password-kept');
    for (let i = 0; i < 600; i += 1) {
      log.registerSecret(`token-${i}-abcdef`);
      if (i % 100 === 0) log.registerSecret('password-kept'); // re-registered on every poll, as the GoCD layer does
    }
    log.info('check', { a: 'token-0-abcdef', b: 'token-599-abcdef', c: 'password-kept' });
    expect(JSON.parse(lines[0]!)).toMatchObject({ a: 'token-0-abcdef', b: '***', c: '***' });
  });

  it('does not mask values too short to be secrets', () => {
    const { log, lines } = logger();
    log.registerSecret('abc');
    log.info('abc is fine');
    expect(JSON.parse(lines[0]!).msg).toBe('abc is fine');
  });

  it('writes a SerializedJson field as it is, masked like any other, and leaves out undefined fields', () => {
    const { log, lines } = logger();
    log.registerSecret('hunter22');
    log.info('served', { addresses: new SerializedJson('["a.example.com","hunter22.example.com"]'), status: 200, gone: undefined });
    expect(JSON.parse(lines[0]!)).toEqual({ time: expect.any(String), level: 'info', msg: 'served', addresses: ['a.example.com', '***.example.com'], status: 200 });
  });

  it('writes an Error field with its name, message and stack', () => {
    const { log, lines } = logger();
    log.error('failed', { error: new TypeError('bad thing') });
    expect(JSON.parse(lines[0]!).error).toMatchObject({ name: 'TypeError', message: 'bad thing', stack: expect.stringContaining('bad thing') });
  });
});
