// A GoCD message handler: the body's ajv schema (or none, for the two configuration requests, whose body GoCD
// sends as null), how its errors reach GoCD, and the handling itself.

import Ajv, { JSONSchemaType, ValidateFunction } from 'ajv';
import { BridgeError } from '../errors';
import type { GoCdContext } from './context';

export class InvalidRequestError extends BridgeError {
  constructor(message: string) {
    super('INVALID_REQUEST', {
      message,
      fix: 'this request did not come from a GoCD server speaking package-repository 1.0; check what calls the sidecar',
    });
  }
}

/**
 * plain-text: any failure is a non-200 reply with one line, which GoCD shows verbatim.
 * connection-result: a failure is still 200, as {"status":"failure","messages":[…]}.
 */
export type ErrorReply = 'plain-text' | 'connection-result';

export interface RequestHandler {
  readonly errorReply: ErrorReply;
  run(rawBody: string, requestName: string, ctx: GoCdContext): Promise<unknown>;
}

// Built and each schema compiled on first use: compiling all of them at load slowed the sidecar's start.
// No check of our schemas against JSON Schema's meta-schema at run time: JSONSchemaType already types them at
// build time, strict mode still rejects unknown keywords, and compiling the meta-schema was most of the first
// poll's time in ajv (BENCHMARKS.md, P2).
let ajv: Ajv | undefined;
const schemaCompiler = (): Ajv => (ajv ??= new Ajv({ allErrors: true, strict: true, validateSchema: false }));

export function defineHandler<Req>(definition: {
  schema: JSONSchemaType<Req>;
  errorReply: ErrorReply;
  handle(request: Req, ctx: GoCdContext): Promise<unknown>;
}): RequestHandler {
  let validate: ValidateFunction<Req> | undefined;
  return {
    errorReply: definition.errorReply,
    async run(rawBody, requestName, ctx) {
      if (rawBody.trim() === '') throw new InvalidRequestError(`GoCD sent ${requestName} without a body`);
      let body: unknown;
      try {
        body = JSON.parse(rawBody);
      } catch (err) {
        throw new InvalidRequestError(`the body of ${requestName} is not valid JSON (${(err as Error).message})`);
      }
      validate ??= schemaCompiler().compile(definition.schema);
      if (!validate(body)) {
        throw new InvalidRequestError(`the body of ${requestName} is not what GoCD sends: ${schemaCompiler().errorsText(validate.errors, { dataVar: 'body' })}`);
      }
      return definition.handle(body, ctx);
    },
  };
}

/** For the configuration requests: GoCD sends no body, and the answer does not depend on anything. */
export function defineBodylessHandler(answer: () => unknown): RequestHandler {
  return { errorReply: 'plain-text', run: async () => answer() };
}
