// One page of a tag list (spec registry-v2.md §5.1), read so that a big or hostile page neither blocks the event
// loop nor fills memory. JSON.parse of one 16 MiB page of short tags held the event loop 1.4-1.9 s and built
// 1.5 million strings; so only a page of up to 256 KiB goes through JSON.parse (under 10 ms; 1,000 tags are about
// 30 KiB), and a bigger one is tokenized in 64 KiB slices with a turn of the event loop between them, keeping only
// the entries of its "tags" array, counted as they appear so that a page with too many stops there.

import { setImmediate as nextTurn } from 'node:timers/promises';
import { JSONParser, TokenType } from '@streamparser/json';
import { BridgeError } from '../errors';
import { RegistryResponseError } from './errors';

export interface TagPageReading {
  /** For messages: "the tag list of team/app". */
  subject: string;
  /** A page with more entries than this fails with tooMany(), read no further. */
  maxEntries: number;
  tooMany(): BridgeError;
  /** Pages up to this size are parsed whole (tests set 0 to read every page in slices). */
  wholeParseMaxBytes?: number;
}

const WHOLE_PARSE_MAX_BYTES = 256 * 1024;
// The tokenizer reads 10-30 MiB/s on the 2-core test machine: a slice is a few ms of event loop.
const SLICE_BYTES = 64 * 1024;
// A tag list nests 2 deep, GCR's extended one 4; deeper nesting only makes the parser's stack grow.
const MAX_DEPTH = 32;
// Stands for an entry that is an object or array: never a tag, and never built.
const NESTED_ENTRY = Symbol('nested entry');

/** The entries of the page's "tags" array, in order: strings, and whatever else the registry put there. */
export async function readTagEntries(body: Buffer, reading: TagPageReading): Promise<unknown[]> {
  const isSmall = body.length <= (reading.wholeParseMaxBytes ?? WHOLE_PARSE_MAX_BYTES);
  const entries = isSmall ? parseWhole(body, reading.subject) : await parseInSlices(body, reading);
  if (entries.length > reading.maxEntries) throw reading.tooMany();
  return entries;
}

function parseWhole(body: Buffer, subject: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw notJson(subject, body, err);
  }
  const tags = typeof parsed === 'object' && parsed !== null ? (parsed as { tags?: unknown }).tags : undefined;
  if (tags === null) return []; // some registries send null for an empty list
  if (!Array.isArray(tags)) throw noTagsArray(subject);
  return tags;
}

async function parseInSlices(body: Buffer, reading: TagPageReading): Promise<unknown[]> {
  const picker = new TagsArrayPicker(reading);
  // paths [] emits nothing, and keepStack false drops each value once read: the parser only checks the grammar.
  const parser = new JSONParser({ paths: [], keepStack: false });
  parser.onToken = (token) => picker.take(token.token, token.value);
  try {
    for (let offset = 0; offset < body.length; offset += SLICE_BYTES) {
      if (offset > 0) await nextTurn();
      parser.write(body.subarray(offset, offset + SLICE_BYTES));
    }
    if (!parser.isEnded) parser.end(); // throws when the body stops inside a value
  } catch (err) {
    throw err instanceof BridgeError ? err : notJson(reading.subject, body, err);
  }
  return picker.entries(reading.subject);
}

/**
 * Follows the tokens of a page to the value of the top-level "tags" key and keeps its entries; the grammar itself
 * is the parser's business (it sees each token right after this does).
 */
class TagsArrayPicker {
  private depth = 0;
  private isRootObject = false;
  private isKeyNext = false; // inside the root object: the next string is a key
  private key: string | undefined;
  private tags: 'absent' | 'null' | 'array' | 'other' = 'absent';
  private isInTags = false;
  private picked: unknown[] = [];

  constructor(private readonly reading: TagPageReading) {}

  take(token: TokenType, value: unknown): void {
    if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) {
      this.depth -= 1;
      if (this.depth === 1) this.isInTags = false;
      return;
    }
    if (token === TokenType.COMMA || token === TokenType.COLON) {
      if (token === TokenType.COMMA && this.depth === 1) this.isKeyNext = this.isRootObject;
      return;
    }
    const opens = token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET;
    if (this.depth === 1 && this.isKeyNext) {
      this.key = value as string;
      this.isKeyNext = false;
    } else if (this.depth === 1 && this.isRootObject && this.key === 'tags') {
      // A repeated "tags" key replaces the earlier one, as with JSON.parse.
      this.tags = token === TokenType.LEFT_BRACKET ? 'array' : token === TokenType.NULL ? 'null' : 'other';
      this.isInTags = this.tags === 'array';
      this.picked = [];
    } else if (this.depth === 2 && this.isInTags) {
      this.picked.push(opens ? NESTED_ENTRY : value);
      if (this.picked.length > this.reading.maxEntries) throw this.reading.tooMany();
    }
    if (!opens) return;
    if (this.depth === 0) this.isRootObject = this.isKeyNext = token === TokenType.LEFT_BRACE;
    this.depth += 1;
    if (this.depth > MAX_DEPTH) {
      throw new RegistryResponseError({
        message: `${this.reading.subject} nests deeper than ${MAX_DEPTH} levels`,
        fix: 'check that the registry URL points at a Docker Registry V2 API; a tag list is an object with a "tags" array',
      });
    }
  }

  entries(subject: string): unknown[] {
    if (this.tags === 'null') return [];
    if (this.tags !== 'array') throw noTagsArray(subject);
    return this.picked;
  }
}

function notJson(subject: string, body: Buffer, cause: unknown): RegistryResponseError {
  return new RegistryResponseError({
    message: `${subject} answered with malformed JSON (${body.length} bytes: ${JSON.stringify(body.subarray(0, 80).toString('utf8'))})`,
    fix: 'check that the URL points at a Docker Registry V2 API; if it does, the registry or a proxy is cutting responses short',
    retryable: true, // a body cut short by a proxy or a reset usually comes whole on the next try
    cause,
  });
}

function noTagsArray(subject: string): RegistryResponseError {
  return new RegistryResponseError({
    message: `${subject} has no "tags" array`,
    fix: 'check that the registry URL points at a Docker Registry V2 API',
  });
}
