// Globs over slash-separated names (repository slugs `octocat/hello-world`, branches `release/1.2`): `*` matches any
// run of characters within one segment (never `/`), `**` any run across segments (`/` included), and every other
// character only itself. Written by whoever edits the credentials file, so never turned into a regular expression:
// matching walks the text once, carrying the set of pattern positions reached (a Thompson simulation), which takes
// at most text length × pattern length steps whatever the input.

// Special in other glob dialects (shell, gitignore, minimatch): refused so that nobody relies on a meaning they lack.
const RESERVED = /[?[\]{}\\!]/;
const MAX_GLOB_LENGTH = 255;

type Token = { kind: 'char'; char: string } | { kind: 'star' } | { kind: 'globstar' };

export interface PathGlob {
  readonly pattern: string;
  matches(text: string): boolean;
}

/** Why the pattern is not a glob of this dialect, or undefined when it is one. */
export function globProblem(pattern: string): string | undefined {
  if (pattern === '') return 'is empty';
  if (pattern.length > MAX_GLOB_LENGTH) return `is longer than ${MAX_GLOB_LENGTH} characters`;
  const reserved = RESERVED.exec(pattern)?.[0];
  if (reserved) return `uses ${JSON.stringify(reserved)}, which has no meaning here (only * and ** are wildcards)`;
  if (pattern.includes('***')) return 'has three or more * in a row (write * within a segment or ** across segments)';
  return undefined;
}

/** Compiles a pattern that globProblem accepts; throws on one it refuses, so check it first to report the problem. */
export function compileGlob(pattern: string): PathGlob {
  const problem = globProblem(pattern);
  if (problem) throw new Error(`glob ${JSON.stringify(pattern)} ${problem}`);
  const tokens: Token[] = [];
  const chars = [...pattern]; // by code point, as the text is read
  for (let i = 0; i < chars.length; i += 1) {
    const char = chars[i]!;
    if (char !== '*') tokens.push({ kind: 'char', char });
    else if (chars[i + 1] === '*') {
      tokens.push({ kind: 'globstar' });
      i += 1;
    } else tokens.push({ kind: 'star' });
  }
  const prefix = literalRun(tokens, 0, 1);
  const suffix = literalRun(tokens, tokens.length - 1, -1);
  if (prefix.length === tokens.length) return { pattern, matches: (text) => text === pattern };
  // Most texts differ from most patterns in their fixed ends (another team's repos): a cheap refusal before the walk.
  const couldMatch = (text: string) => text.length >= prefix.length + suffix.length && text.startsWith(prefix) && text.endsWith(suffix);
  return { pattern, matches: (text) => couldMatch(text) && simulate(tokens, text) };
}

/** The characters of the char tokens from `from`, stepping by `step`, up to the first wildcard, in text order. */
function literalRun(tokens: readonly Token[], from: number, step: 1 | -1): string {
  const chars: string[] = [];
  for (let i = from; i >= 0 && i < tokens.length; i += step) {
    const token = tokens[i]!;
    if (token.kind !== 'char') break;
    chars.push(token.char);
  }
  return (step === 1 ? chars : chars.reverse()).join('');
}

function simulate(tokens: readonly Token[], text: string): boolean {
  // reached[i] = 1: the first i tokens can match the text read so far. Two buffers, swapped per character.
  let reached = new Uint8Array(tokens.length + 1);
  let next = new Uint8Array(tokens.length + 1);
  reach(tokens, reached, 0);
  for (const char of text) {
    next.fill(0);
    let any = false;
    for (let i = 0; i < tokens.length; i += 1) {
      if (reached[i] === 0) continue;
      const token = tokens[i]!;
      if (token.kind === 'char' ? token.char === char : token.kind === 'globstar' || char !== '/') {
        reach(tokens, next, token.kind === 'char' ? i + 1 : i); // a wildcard stays, to take more characters
        any = true;
      }
    }
    if (!any) return false;
    [reached, next] = [next, reached];
  }
  return reached[tokens.length] === 1;
}

/** Marks position i and those reached from it by letting wildcards match nothing. */
function reach(tokens: readonly Token[], positions: Uint8Array, i: number): void {
  positions[i] = 1;
  while (i < tokens.length && tokens[i]!.kind !== 'char') positions[(i += 1)] = 1;
}
