// What of a URL or a remote answer may appear in a message, a log line or the status page.

/** Query strings can carry tokens, signatures or cursors: keep them out of messages. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** A Location header as redactUrl shows it, resolved against the URL that sent it. */
export function redactLocation(location: string | null, base: string): string {
  if (!location) return 'nowhere';
  try {
    return redactUrl(new URL(location, base).toString());
  } catch {
    return 'an unreadable location';
  }
}

/** Control characters (a hostile answer's ANSI escapes or line breaks) never reach a log line or a web page. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}
