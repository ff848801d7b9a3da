// JavaScript regular expressions (no flags, Annex B syntax: what `new RegExp(source)` accepts) rewritten as RE2
// syntax with the same meaning, so that they run on a linear-time engine. RE2 cannot express lookaround or
// backreferences, and some JavaScript forms mean something else in RE2 (`[]`, `[\d-z]`, `.`, `\s`, `{` as a
// literal); those are rewritten or, where that is not possible, named so the caller can keep the JS engine.
// re2js's own translateRegExp() only renames escapes, so it would change the meaning of those forms.

export type Re2Translation = { re2: string } | { unsupported: string };

// Meaning is kept for every string of BMP characters; tags are ASCII anyway (the registry layer drops the rest).
const MAX_CODE_POINT = 0x10ffff;
// JavaScript's \s (WhiteSpace and LineTerminator); RE2's \s is [\t\n\f\r ] only.
const JS_SPACE: ReadonlyArray<readonly [number, number]> = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
// What `.` does not match without the s flag; RE2's `.` excludes only \n.
const JS_LINE_TERMINATORS: ReadonlyArray<readonly [number, number]> = [
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
];
const CONTROL_ESCAPES: Readonly<Record<string, number>> = { t: 0x09, n: 0x0a, v: 0x0b, f: 0x0c, r: 0x0d };
const RE2_SHARED_CLASSES = new Set(['d', 'D', 'w', 'W']); // ASCII in both engines without flags

type ClassAtom = { code: number } | { escape: string };

/** A group being read (or the whole pattern): enough to tell whether repeating it changes the key capture. */
interface Frame {
  isKey: boolean;
  /** The key group lies inside. */
  holdsKey: boolean;
  /** Some finished alternative can match the empty string. */
  hasEmptyAlternative: boolean;
  /** The alternative being read can, so far, match the empty string; and so could it before its last atom. */
  emptySoFar: boolean;
  emptyBeforeLast: boolean;
}

/** The group that closed last, while a quantifier may still follow it. */
interface ClosedGroup {
  frame: Frame;
  canBeEmpty: boolean;
}

class Unsupported extends Error {}

/** Rewrites a pattern that `new RegExp(source)` accepted. `keyGroup`: the (?<key>…) capture must mean the same too. */
export function translateToRe2(source: string, options: { keyGroup?: boolean } = {}): Re2Translation {
  try {
    return { re2: new Translator(source, options.keyGroup === true).run() };
  } catch (err) {
    if (err instanceof Unsupported) return { unsupported: err.message };
    throw err;
  }
}

const newFrame = (isKey: boolean): Frame => ({ isKey, holdsKey: false, hasEmptyAlternative: false, emptySoFar: true, emptyBeforeLast: true });

class Translator {
  private i = 0;
  private out = '';
  private readonly frames: Frame[] = [newFrame(false)];
  private closed: ClosedGroup | undefined;

  constructor(
    private readonly source: string,
    private readonly keyGroup: boolean,
  ) {}

  run(): string {
    while (this.i < this.source.length) this.step();
    return this.out;
  }

  private get frame(): Frame {
    return this.frames[this.frames.length - 1]!;
  }

  private step(): void {
    const c = this.source[this.i]!;
    const justClosed = this.closed;
    this.closed = undefined;
    if (c === '\\') return this.escape();
    if (c === '[') return this.characterClass();
    if (c === '(') return this.openGroup();
    if (c === ')') return this.closeGroup();
    if (c === '*' || c === '+' || c === '?') return this.quantifier(c, c === '+' ? 1 : 0, c === '?' ? 1 : Infinity, justClosed);
    if (c === '{') {
      const bounds = /^\{(\d+)(,(\d*))?\}/.exec(this.source.slice(this.i));
      // Annex B: a brace that does not form a quantifier is a literal.
      if (!bounds) return this.atom(literal(0x7b), false, 1);
      const min = Number(bounds[1]);
      const max = bounds[2] === undefined ? min : bounds[3] === '' ? Infinity : Number(bounds[3]);
      return this.quantifier(`{${min}${bounds[2] === undefined ? '' : `,${max === Infinity ? '' : max}`}}`, min, max, justClosed, bounds[0].length);
    }
    if (c === '|') {
      this.frame.hasEmptyAlternative ||= this.frame.emptySoFar;
      this.frame.emptySoFar = true;
      this.out += c;
      this.i++;
      return;
    }
    if (c === '^' || c === '$') return this.atom(c, true, 1); // without the m flag both anchor at the input's ends
    if (c === '.') return this.atom(`[^${JS_LINE_TERMINATORS.map(range).join('')}]`, false, 1);
    this.atom(literal(this.source.charCodeAt(this.i)), false, 1);
  }

  /** Emits one atom of `length` source characters; `canBeEmpty`: it can match without consuming a character. */
  private atom(text: string, canBeEmpty: boolean, length: number): void {
    this.frame.emptyBeforeLast = this.frame.emptySoFar;
    this.frame.emptySoFar &&= canBeEmpty;
    this.out += text;
    this.i += length;
  }

  private quantifier(text: string, min: number, max: number, quantified: ClosedGroup | undefined, length = 1): void {
    // Where a repeated group holds the key, the engines capture differently: JavaScript clears the captures inside
    // a group each time it repeats, and refuses an optional repetition that matches the empty string; RE2 keeps the
    // last captures set. (?:(?<key>a)|b)+ captures undefined in JavaScript and "a" in RE2 on "ab"; (?<key>a*)? on
    // "b" captures undefined and "".
    if (this.keyGroup && quantified && (quantified.frame.holdsKey || quantified.frame.isKey)) {
      if ((quantified.frame.holdsKey && max > 1) || quantified.canBeEmpty) throw new Unsupported('the key group inside a repeated group');
    }
    if (min === 0) this.frame.emptySoFar = this.frame.emptyBeforeLast;
    this.i += length;
    const lazy = this.source[this.i] === '?';
    if (lazy) this.i++;
    this.out += text + (lazy ? '?' : '');
  }

  private openGroup(): void {
    const rest = this.source.slice(this.i);
    if (rest.startsWith('(?=')) throw new Unsupported('a lookahead (?=…)');
    if (rest.startsWith('(?!')) throw new Unsupported('a negative lookahead (?!…)');
    if (rest.startsWith('(?<=') || rest.startsWith('(?<!')) throw new Unsupported('a lookbehind (?<=…) or (?<!…)');
    if (rest.startsWith('(?:')) {
      this.push(false, '(?:', 3);
    } else if (rest.startsWith('(?<')) {
      const named = /^\(\?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
      if (!named) throw new Unsupported('a group name with characters outside [A-Za-z0-9_]');
      this.push(named[1] === 'key', `(?P<${named[1]}>`, named[0].length);
    } else if (rest.startsWith('(?')) {
      throw new Unsupported(`the group syntax ${rest.slice(0, 3)}…`);
    } else {
      this.push(false, '(', 1);
    }
  }

  private push(isKey: boolean, text: string, length: number): void {
    this.frames.push(newFrame(isKey));
    this.out += text;
    this.i += length;
  }

  private closeGroup(): void {
    const frame = this.frames.pop()!; // JavaScript accepted the pattern, so the parentheses balance
    const canBeEmpty = frame.hasEmptyAlternative || frame.emptySoFar;
    this.frame.holdsKey ||= frame.isKey || frame.holdsKey;
    this.atom(')', canBeEmpty, 1);
    this.closed = { frame, canBeEmpty };
  }

  private escape(): void {
    const e = this.source[this.i + 1]!;
    if (RE2_SHARED_CLASSES.has(e)) return this.atom(`\\${e}`, false, 2);
    if (e === 'b' || e === 'B') return this.atom(`\\${e}`, true, 2);
    if (e === 's' || e === 'S') return this.atom(`[${e === 'S' ? '^' : ''}${JS_SPACE.map(range).join('')}]`, false, 2);
    // Annex B: \c not followed by a letter is a backslash, and the c is read next.
    if (e === 'c' && !/[A-Za-z]/.test(this.source[this.i + 2] ?? '')) return this.atom(literal(0x5c), false, 1);
    const { code, length } = this.characterEscape(false);
    this.atom(literal(code), false, length);
  }

  /** An escape that stands for one character, at `\`: its character, and its length in the pattern. */
  private characterEscape(inClass: boolean): { code: number; length: number } {
    const e = this.source[this.i + 1]!;
    const hex = (digits: number) => {
      const text = this.source.slice(this.i + 2, this.i + 2 + digits);
      return text.length === digits && /^[0-9A-Fa-f]+$/.test(text) ? parseInt(text, 16) : undefined;
    };
    const x = hex(2);
    const u = hex(4);
    if (e in CONTROL_ESCAPES) return { code: CONTROL_ESCAPES[e]!, length: 2 };
    if (e === 'b' && inClass) return { code: 0x08, length: 2 };
    if (e === 'x' && x !== undefined) return { code: x, length: 4 };
    if (e === 'u' && u !== undefined) return { code: u, length: 6 };
    if (e === 'c') return { code: this.source.charCodeAt(this.i + 2) % 32, length: 3 }; // callers checked the next one
    if (e === '0' && !/[0-9]/.test(this.source[this.i + 2] ?? '')) return { code: 0, length: 2 };
    if (/[0-9]/.test(e)) throw new Unsupported('a backreference or octal escape such as \\1');
    if (e === 'k') throw new Unsupported('a named backreference \\k<…>');
    return { code: this.source.charCodeAt(this.i + 1), length: 2 }; // an identity escape such as \- or \. (\p: a plain p)
  }

  private characterClass(): void {
    this.i++;
    const negated = this.source[this.i] === '^';
    if (negated) this.i++;
    if (this.source[this.i] === ']') {
      // In JavaScript [] matches nothing and [^] anything; in RE2 a ] right after [ is a literal.
      return this.atom(`[${negated ? '' : '^'}${range([0, MAX_CODE_POINT])}]`, false, 1);
    }
    const items: string[] = [];
    while (this.source[this.i] !== ']') {
      const first = this.classAtom();
      if (this.source[this.i] === '-' && this.source[this.i + 1] !== ']') {
        this.i++;
        const second = this.classAtom();
        // Annex B: a class escape at either end makes the - a literal: [\d-z] is \d, - and z.
        if ('code' in first && 'code' in second) items.push(`${literal(first.code, true)}-${literal(second.code, true)}`);
        else items.push(classItem(first), literal(0x2d, true), classItem(second));
      } else {
        items.push(classItem(first));
      }
    }
    this.atom(`[${negated ? '^' : ''}${items.join('')}]`, false, 1);
  }

  private classAtom(): ClassAtom {
    const c = this.source[this.i]!;
    if (c !== '\\') {
      this.i++;
      return { code: c.charCodeAt(0) };
    }
    const e = this.source[this.i + 1]!;
    if (RE2_SHARED_CLASSES.has(e) || e === 's' || e === 'S') {
      this.i += 2;
      return { escape: e };
    }
    // Annex B: in a class, \c also takes a digit or _; otherwise the backslash is a literal.
    if (e === 'c' && !/[A-Za-z0-9_]/.test(this.source[this.i + 2] ?? '')) {
      this.i++;
      return { code: 0x5c };
    }
    const { code, length } = this.characterEscape(true);
    this.i += length;
    return { code };
  }
}

function classItem(atom: ClassAtom): string {
  if ('code' in atom) return literal(atom.code, true);
  if (RE2_SHARED_CLASSES.has(atom.escape)) return `\\${atom.escape}`;
  return (atom.escape === 's' ? JS_SPACE : complementOf(JS_SPACE)).map(range).join('');
}

function complementOf(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const result: Array<[number, number]> = [];
  let next = 0;
  for (const [lo, hi] of ranges) {
    if (lo > next) result.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) result.push([next, MAX_CODE_POINT]);
  return result;
}

function range([lo, hi]: readonly [number, number]): string {
  return lo === hi ? literal(lo, true) : `${literal(lo, true)}-${literal(hi, true)}`;
}

/** One character as RE2 reads it literally: letters and digits as they are, everything else as \x{…}. */
function literal(code: number, inClass = false): string {
  // A JavaScript pattern without the u flag matches UTF-16 code units; RE2 matches code points.
  if (code >= 0xd800 && code <= 0xdfff) throw new Unsupported('a character outside the Basic Multilingual Plane');
  if (/[A-Za-z0-9_]/.test(String.fromCharCode(code))) return String.fromCharCode(code);
  if (!inClass && code > 0x20 && code < 0x7f) return `\\${String.fromCharCode(code)}`; // RE2 takes \ before any punctuation
  return `\\x{${code.toString(16)}}`;
}
