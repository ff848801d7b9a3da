import { RE2JS } from 're2js';
import { translateToRe2 } from '../../src/selection/re2-syntax';

// Pieces that combine into the forms where JavaScript (without flags, Annex B) and RE2 read a pattern differently.
const PIECES = [
  'a', 'b', '1', '-', '.', '\\.', '\\-', '\\d', '\\D', '\\w', '\\W', '\\s', '\\S', '\\b', '\\B', '^', '$', '|', '(', ')', '(?:',
  '(?<key>', '*', '+', '?', '*?', '{2}', '{1,}', '{0,2}', '{', '}', ']', '[', '[^', '[]', '[^]', 'a-z', '\\d-z', '\\x41', '\\u0041',
  '\\x4', '\\u00', '\\cA', '\\c', '\\c1', '\\0', '\\t', '\\v', '\\r', '\\n', '\\p', '\\Q', '\\E', '\\y', '\\/', '\\\\', ' ', '\u00a0',
  '\r', '\n', '\u2028', '_', '\\{', '\\[', ',', '(?=', '(?!', '(?<=', '\\1', '\\k',
];
const CHARACTERS = ['a', 'b', '1', '2', '-', '.', '_', ' ', '\n', '\r', '\t', '\v', '\u00a0', '\u2028', '\\', '[', ']', '{', '}', ',', 'A', '\x01', '\x08', 'p', 'Q', 'E', 'y', '/', '\0', 'c', 'x', 'u'];

/** mulberry32: the same cases on every run. */
function random(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

describe('translateToRe2', () => {
  it('keeps JavaScript\'s answers and key captures for thousands of random patterns', () => {
    const pick = random(9);
    const differences: string[] = [];
    let compared = 0;
    for (let round = 0; round < 6000 && differences.length < 5; round++) {
      const source = Array.from({ length: 1 + pick(8) }, () => PIECES[pick(PIECES.length)]).join('');
      let js: RegExp;
      try {
        js = new RegExp(source);
      } catch {
        continue; // not a pattern users can save
      }
      const keyGroup = source.includes('(?<key>');
      const translation = translateToRe2(source, { keyGroup });
      if ('unsupported' in translation) continue; // stays on the JavaScript engine
      const re2 = RE2JS.compile(translation.re2);
      compared++;
      for (let i = 0; i < 20; i++) {
        const input = Array.from({ length: pick(8) }, () => CHARACTERS[pick(CHARACTERS.length)]).join('');
        const expected = [js.test(input), keyGroup ? js.exec(input)?.groups?.key : undefined];
        const actual = [re2.test(input), keyGroup ? (re2.exec(input) as { groups?: Record<string, string> } | null)?.groups?.key : undefined];
        if (JSON.stringify(expected) !== JSON.stringify(actual)) differences.push(`${JSON.stringify(source)} on ${JSON.stringify(input)}`);
      }
    }
    expect(differences).toEqual([]);
    expect(compared).toBeGreaterThan(2000);
  });

  it.each<[string, string]>([
    ['(?=a)', 'a lookahead (?=…)'],
    ['(?!a)', 'a negative lookahead (?!…)'],
    ['(?<!a)b', 'a lookbehind (?<=…) or (?<!…)'],
    ['(a)\\1', 'a backreference or octal escape such as \\1'],
    ['[\\1]', 'a backreference or octal escape such as \\1'],
    ['(?<n>a)\\k<n>', 'a named backreference \\k<…>'],
    ['(?<$n>a)', 'a group name with characters outside [A-Za-z0-9_]'],
    ['\ud83d\ude00', 'a character outside the Basic Multilingual Plane'],
  ])('names what keeps %p on the JavaScript engine', (source, construct) => {
    expect(translateToRe2(source)).toEqual({ unsupported: construct });
  });
});
