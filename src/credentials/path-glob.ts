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
  return { pattern, matches: (text) => simulate(tokens, text) };
}

function simulate(tokens: readonly Token[], text: string): boolean {
  // reached[i]: the first i tokens can match the text read so far.
  let reached = closure(tokens, [0]);
  for (const char of text) {
    const next: number[] = [];
    for (const i of reached) {
      const token = tokens[i];
      if (!token) continue; // the whole pattern is used up, and text is left
      if (token.kind === 'char' ? token.char === char : token.kind === 'globstar' || char !== '/') {
        next.push(token.kind === 'char' ? i + 1 : i); // a wildcard stays, to take more characters
      }
    }
    if (next.length === 0) return false;
    reached = closure(tokens, next);
  }
  return reached.includes(tokens.length);
}

/** The positions plus those reached by letting wildcards match nothing; sorted and without repeats. */
function closure(tokens: readonly Token[], positions: readonly number[]): number[] {
  const seen = new Set<number>();
  for (let i of positions) {
    seen.add(i);
    while (tokens[i] && tokens[i]!.kind !== 'char') seen.add((i += 1));
  }
  return [...seen].sort((a, b) => a - b);
}
