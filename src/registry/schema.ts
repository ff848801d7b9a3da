// Every registry payload the bridge reads, as a schema checked where the body enters the code, with the type the
// rest of the client works on (OCI image-spec and distribution-spec; Docker's token/auth spec). The schemas check
// only the fields we read, and allow what real registries send beside the spec: extra fields everywhere, null
// where a list or map is empty (distribution sends "tags": null; some builders write "Labels": null).

import Ajv, { ValidateFunction } from 'ajv';
import type { ImageMetadata } from './manifests';

export interface Platform {
  os?: string;
  architecture?: string;
  variant?: string;
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  platform?: Platform;
  annotations?: Record<string, unknown> | null;
}

/** An image manifest or an index (manifest list): one shape with optional parts, told apart by isIndex(). */
export interface Manifest {
  mediaType?: string;
  config?: Descriptor;
  manifests?: Descriptor[];
  annotations?: Record<string, unknown> | null;
}

export interface ImageConfig extends Platform {
  created?: string;
  config?: { Labels?: Record<string, unknown> | null } | null;
}

/** Docker token spec: `token`, or OAuth2's `access_token`; lifetime from `expires_in` and `issued_at`. */
export interface TokenAnswer {
  token?: string;
  access_token?: string;
  expires_in?: number;
  issued_at?: string;
}

/** distribution-spec error body: {"errors": [{"code", "message", "detail"}]}. */
export interface ErrorBody {
  errors: Array<{ code: string; message?: string }>;
}

const platform = {
  type: 'object',
  properties: { os: { type: 'string' }, architecture: { type: 'string' }, variant: { type: 'string' } },
};
const annotations = { type: ['object', 'null'] };
const descriptor = {
  type: 'object',
  required: ['digest'],
  properties: { mediaType: { type: 'string' }, digest: { type: 'string' }, platform, annotations },
};

const SCHEMAS = {
  manifest: {
    type: 'object',
    properties: { mediaType: { type: 'string' }, config: descriptor, manifests: { type: 'array', items: descriptor }, annotations },
  },
  imageConfig: {
    type: 'object',
    properties: {
      ...platform.properties,
      created: { type: 'string' },
      config: { type: ['object', 'null'], properties: { Labels: { type: ['object', 'null'] } } },
    },
  },
  tokenAnswer: {
    type: 'object',
    properties: { token: { type: 'string' }, access_token: { type: 'string' }, expires_in: { type: 'number' }, issued_at: { type: 'string' } },
  },
  // What the metadata store hands back from disk: our own earlier write, unless the file was damaged or planted.
  imageMetadata: {
    type: 'object',
    required: ['digest', 'platforms', 'labels', 'annotations'],
    properties: {
      digest: { type: 'string' },
      mediaType: { type: 'string' },
      platforms: { type: 'array', items: { type: 'string' } },
      created: { type: 'string' },
      labels: { type: 'object', additionalProperties: { type: 'string' } },
      annotations: { type: 'object', additionalProperties: { type: 'string' } },
    },
  },
  errorBody: {
    type: 'object',
    required: ['errors'],
    properties: {
      errors: { type: 'array', minItems: 1, items: { type: 'object', required: ['code'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
    },
  },
} as const;

interface SchemaTypes {
  manifest: Manifest;
  imageConfig: ImageConfig;
  tokenAnswer: TokenAnswer;
  imageMetadata: ImageMetadata;
  errorBody: ErrorBody;
}

// Compiled on first use: a sidecar that serves only configuration requests never pays for it.
let ajv: Ajv | undefined;
const compiled = new Map<keyof SchemaTypes, ValidateFunction>();

/** Does the parsed body have the shape of this payload? Narrows it to the payload's type. */
export function matchesSchema<K extends keyof SchemaTypes>(name: K, value: unknown): value is SchemaTypes[K] {
  let validate = compiled.get(name);
  if (!validate) {
    ajv ??= new Ajv({ strict: true, allowUnionTypes: true, validateSchema: false });
    validate = ajv.compile(SCHEMAS[name]);
    compiled.set(name, validate);
  }
  return validate(value);
}
