// Structured logging: one JSON object per line on stderr, which the shim copies into GoCD's plugin log.
// Secrets (passwords, tokens) are registered as they are seen and masked in every line written after that.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

/** A field's value already serialised to JSON, written into the line as it is: for a value logged again and again. */
export class SerializedJson {
  constructor(readonly json: string) {}
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Masks this value in every later log line. */
  registerSecret(secret: string): void;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const MASK = '***';
// Short values ("a", "1") would mask unrelated text; registry passwords and tokens are longer than this.
const MIN_SECRET_LENGTH = 4;
// Bearer tokens are registered as they are issued (every few minutes per repository): keep the most recent only,
// or memory and the per-line scrub grow without bound. Passwords are registered again on every poll, so they stay.
const MAX_SECRETS = 512;

export function createLogger(write: (line: string) => void, minLevel: LogLevel = 'info'): Logger {
  /** secret → the forms it takes in a log line (raw, JSON-escaped); insertion order is recency. */
  const secrets = new Map<string, string[]>();
  // One pass over the line whatever the number of secrets (a split per secret cost a served Drone request more
  // than its signature check). Rebuilt only when the set changes: re-registering a known secret, as every poll
  // does, leaves it alone.
  let pattern: RegExp | undefined;
  const scrub = (text: string): string => {
    if (secrets.size === 0) return text;
    pattern ??= anyOf([...secrets.values()].flat());
    return text.replace(pattern, MASK);
  };
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVEL_RANK[level] < LEVEL_RANK[minLevel]) return;
    // Written field by field rather than as one object, so a SerializedJson goes in as it is: the Drone extension
    // logs the same 20-40 addresses for a build again and again. A field named time, level or msg comes after the
    // line's own, and JSON.parse keeps the last of two equal keys.
    let line = `{"time":"${new Date().toISOString()}","level":"${level}","msg":${JSON.stringify(msg)}`;
    for (const key in fields) {
      const value = fields[key];
      const json = value instanceof SerializedJson ? value.json : JSON.stringify(value, errorReplacer);
      if (json !== undefined) line += `,${JSON.stringify(key)}:${json}`;
    }
    write(scrub(`${line}}`));
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    registerSecret(secret) {
      if (secret.length < MIN_SECRET_LENGTH) return;
      const known = secrets.delete(secret); // re-inserted as the most recent
      if (!known) pattern = undefined;
      const escaped = JSON.stringify(secret).slice(1, -1); // as it appears inside a JSON log line
      secrets.set(secret, escaped === secret ? [secret] : [secret, escaped]);
      if (secrets.size > MAX_SECRETS) secrets.delete(secrets.keys().next().value as string);
    },
  };
}

/** Matches any of the strings, the longest first where several start at one place, so none is left half masked. */
function anyOf(strings: string[]): RegExp {
  const alternatives = [...new Set(strings)].sort((a, b) => b.length - a.length).map((text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(alternatives.join('|'), 'g');
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack, cause: value.cause };
  }
  return value;
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  registerSecret: () => undefined,
};
