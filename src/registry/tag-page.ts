// One page of a tag list, read as it streams in, so that a big or hostile page neither
// blocks the event loop nor fills memory. JSON.parse of one 16 MiB page of short tags held the event loop
// 1.4-1.9 s and built 1.5 million strings. So a page is held only up to 256 KiB and then parsed whole (under 10 ms;
// 1,000 tags are about 30 KiB); past that, it is tokenized as it arrives, in 16 KiB slices with a turn of the event
// loop between them, keeping only the entries of its "tags" array, counted as they appear, so that a page with
// too many stops there and the rest of it is never downloaded (BENCHMARKS.md, R1).

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
  /** Pages up to this size are held and parsed whole (tests set 0 to tokenize every page as it arrives). */
  wholeParseMaxBytes?: number;
}

const WHOLE_PARSE_MAX_BYTES = 256 * 1024;
// The tokenizer reads 10-30 MiB/s on the 2-core test machine: a slice is about a millisecond of event loop, and
// several walks read at once each take a slice per turn.
const SLICE_BYTES = 16 * 1024;
// A tag list nests 2 deep, GCR's extended one 4; deeper nesting only makes the parser's stack grow.
const MAX_DEPTH = 32;
// Stands for an entry that is an object or array: never a tag, and never built.
const NESTED_ENTRY = Symbol('nested entry');
const QUOTED_BYTES = 80; // of the body's start, quoted in the malformed-JSON message

/** Takes one page's body as it arrives (write), and answers the entries of its "tags" array in order (end). */
export class TagPageReader {
  /** Body bytes written so far. */
  bytes = 0;
  private held: Buffer[] = [];
  private head = Buffer.alloc(0);
  private parser: JSONParser | undefined;
  private picker: TagsArrayPicker | undefined;
  private bytesSinceTurn = 0;

  constructor(private readonly reading: TagPageReading) {}

  async write(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    if (this.head.length < QUOTED_BYTES) this.head = Buffer.concat([this.head, chunk.subarray(0, QUOTED_BYTES - this.head.length)]);
    if (!this.parser) {
      this.held.push(chunk);
      if (this.bytes <= (this.reading.wholeParseMaxBytes ?? WHOLE_PARSE_MAX_BYTES)) return;
      this.startTokenizing();
      chunk = Buffer.concat(this.held.splice(0));
    }
    for (let offset = 0; offset < chunk.length; offset += SLICE_BYTES) {
      const slice = chunk.subarray(offset, offset + SLICE_BYTES);
      this.guarded(() => this.parser!.write(slice));
      this.bytesSinceTurn += slice.length;
      if (this.bytesSinceTurn >= SLICE_BYTES) {
        this.bytesSinceTurn = 0;
        await nextTurn(); // chunks already received arrive without one: yield here, not only between reads
      }
    }
  }

  /** The entries, once the whole body is written; fails when it is not a tag list or is cut short. */
  end(): unknown[] {
    const entries = this.parser ? this.endTokenizing() : this.parseWhole();
    if (entries.length > this.reading.maxEntries) throw this.reading.tooMany();
    return entries;
  }

  private parseWhole(): unknown[] {
    const parsed = this.guarded(() => JSON.parse(Buffer.concat(this.held).toString('utf8')) as unknown);
    const tags = typeof parsed === 'object' && parsed !== null ? (parsed as { tags?: unknown }).tags : undefined;
    if (tags === null) return []; // some registries send null for an empty list
    if (!Array.isArray(tags)) throw noTagsArray(this.reading.subject);
    return tags;
  }

  private startTokenizing(): void {
    const picker = new TagsArrayPicker(this.reading);
    // paths [] emits nothing, and keepStack false drops each value once read: the parser only checks the grammar.
    const parser = new JSONParser({ paths: [], keepStack: false });
    parser.onToken = (token) => picker.take(token.token, token.value);
    this.parser = parser;
    this.picker = picker;
  }

  private endTokenizing(): unknown[] {
    this.guarded(() => {
      if (!this.parser!.isEnded) this.parser!.end(); // throws when the body stops inside a value
    });
    return this.picker!.entries();
  }

  /** Runs a step of parsing; what fails in it, other than our own caps, is JSON that cannot be read. */
  private guarded<T>(step: () => T): T {
    try {
      return step();
    } catch (err) {
      if (err instanceof BridgeError) throw err;
      throw new RegistryResponseError({
        message: `${this.reading.subject} answered with malformed JSON (${this.bytes} bytes: ${JSON.stringify(this.head.toString('utf8'))})`,
        fix: 'check that the URL points at a Docker Registry V2 API; if it does, the registry or a proxy is cutting responses short',
        retryable: true, // a body cut short by a proxy or a reset usually comes whole on the next try
        cause: err,
      });
    }
  }
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

  entries(): unknown[] {
    if (this.tags === 'null') return [];
    if (this.tags !== 'array') throw noTagsArray(this.reading.subject);
    return this.picked;
  }
}

function noTagsArray(subject: string): RegistryResponseError {
  return new RegistryResponseError({
    message: `${subject} has no "tags" array`,
    fix: 'check that the registry URL points at a Docker Registry V2 API',
  });
}
