// How a new value is written into a YAML scalar that already has a style: the author's quoting is kept, except that
// a plain scalar YAML would read as something other than a string (a tag 1.10 is the float 1.1) gets double quotes.

import { parse } from 'yaml';

export type ScalarStyle = 'plain' | 'double' | 'single';

export function writeScalar(value: string, style: ScalarStyle): string {
  if (style === 'double') return JSON.stringify(value);
  if (style === 'single') return `'${value.replace(/'/g, "''")}'`;
  return readsAsString(value) ? value : JSON.stringify(value);
}

function readsAsString(value: string): boolean {
  try {
    return parse(value) === value;
  } catch {
    return false;
  }
}
