// RFC 8288 Link header: several comma-separated links, each `<uri>; param=value; ...`, where rel may be quoted
// and hold several space-separated relation types. Commas inside <...> or quotes do not separate links.

export function findNextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const link of splitOutside(header, ',')) {
    const match = /^\s*<([^>]*)>(.*)$/s.exec(link);
    if (!match) continue;
    const [, target, rest] = match;
    for (const param of splitOutside(rest ?? '', ';')) {
      const [name, ...value] = param.split('=');
      if (name?.trim().toLowerCase() !== 'rel') continue;
      const rels = value.join('=').trim().replace(/^"|"$/g, '').toLowerCase().split(/\s+/);
      if (rels.includes('next')) return target;
    }
  }
  return undefined;
}

function splitOutside(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let inAngle = false;
  let inQuote = false;
  for (const ch of text) {
    if (ch === '<' && !inQuote) inAngle = true;
    else if (ch === '>' && !inQuote) inAngle = false;
    else if (ch === '"' && !inAngle) inQuote = !inQuote;
    if (ch === separator && !inAngle && !inQuote) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.filter((p) => p.trim() !== '');
}
