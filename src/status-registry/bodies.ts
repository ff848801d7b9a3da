// The API's request bodies, checked where they arrive (ajv, all errors at once, as the original's Joi did with
// abortEarly:false), and the names in the path. Anything malformed is a 400 that says which field and how to fix it.

import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import type { Handler } from './handlers';
import { SECRET_ENV_PREFIX } from './handlers';
import { BuildReport, Registration, StatusRegistryError } from './record';

const NAME = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001f\\u007f]+$' } as const;
const URL_TEXT = { type: 'string', pattern: '^https?://[^\\s]+$', maxLength: 2048 } as const;
const SECRET_FILE = { type: 'string', minLength: 1, maxLength: 255 } as const;
const SECRET_ENV = { type: 'string', pattern: `^${SECRET_ENV_PREFIX}[A-Z0-9_]+$` } as const;
const BEARER = { tokenFile: SECRET_FILE, tokenEnv: SECRET_ENV } as const;
const DRONE = { server: URL_TEXT, repository: { type: 'string', pattern: '^[^/\\s]+/[^/\\s]+$' }, build: { type: 'integer', minimum: 1 }, environment: NAME, ...BEARER } as const;

const handlerSchema = {
  type: 'object',
  required: ['kind'],
  properties: { kind: { type: 'string' } },
  discriminator: { propertyName: 'kind' },
  oneOf: [
    { properties: { kind: { const: 'webhook' }, url: URL_TEXT, secretFile: SECRET_FILE, secretEnv: SECRET_ENV }, required: ['kind', 'url'], additionalProperties: false },
    { properties: { kind: { const: 'drone-0.8' }, ...DRONE }, required: ['kind', 'server', 'repository', 'build', 'environment'], additionalProperties: false },
    { properties: { kind: { const: 'drone' }, ...DRONE }, required: ['kind', 'server', 'repository', 'build', 'environment'], additionalProperties: false },
    { properties: { kind: { const: 'gocd' }, server: URL_TEXT, pipeline: NAME, ...BEARER }, required: ['kind', 'server', 'pipeline'], additionalProperties: false },
  ],
} as const;

const registrationSchema = {
  type: 'object',
  required: ['repositories'],
  additionalProperties: false,
  properties: {
    repositories: { type: 'array', minItems: 1, maxItems: 1000, uniqueItems: true, items: NAME },
    handlers: { type: 'object', additionalProperties: false, properties: { success: handlerSchema, failure: handlerSchema } },
    failFast: { type: 'boolean' },
    allowUnlisted: { type: 'boolean' },
  },
} as const;

const reportSchema = {
  type: 'object',
  required: ['repo', 'status', 'number'],
  additionalProperties: false,
  properties: {
    repo: NAME,
    status: { type: 'string', maxLength: 64 },
    number: { type: 'integer', minimum: 1 },
    wave: { type: 'integer', minimum: 1 },
  },
} as const;

// Compiled on first use: the sidecar inside the jar loads this module but never serves the status registry.
let validators: { registration: ValidateFunction; report: ValidateFunction } | undefined;
function compiled() {
  if (!validators) {
    const ajv = new Ajv({ allErrors: true, strict: true, discriminator: true });
    validators = { registration: ajv.compile(registrationSchema), report: ajv.compile(reportSchema) };
  }
  return validators;
}

interface RegistrationBody {
  repositories: string[];
  handlers?: { success?: Handler; failure?: Handler };
  failFast?: boolean;
  allowUnlisted?: boolean;
}

/** PUT …/packages/{pkg}/{version}: {repositories, handlers?, failFast? (true), allowUnlisted? (false)}. */
export function parseRegistration(body: string): Registration {
  const value = parseJson(body, 'the registration');
  const check = compiled().registration;
  if (!check(value)) throw invalid('the registration', check.errors, 'send {"repositories": ["owner/name", …], "handlers": {"success": H, "failure": H}, "failFast": true}; H is {"kind": "webhook" | "drone" | "drone-0.8" | "gocd", …}');
  const parsed = value as RegistrationBody;
  return { repositories: parsed.repositories, handlers: parsed.handlers ?? {}, failFast: parsed.failFast ?? true, allowUnlisted: parsed.allowUnlisted ?? false };
}

/** POST …/builds: {repo, status, number, wave?}. */
export function parseReport(body: string): BuildReport {
  const value = parseJson(body, 'the build report');
  const check = compiled().report;
  if (!check(value)) throw invalid('the build report', check.errors, 'send {"repo": "owner/name", "status": "success" | "failure", "number": 41}');
  return value as BuildReport;
}

/** A package or version from the path: 1 to 255 characters, no control characters; anything else is kept exactly. */
export function checkName(what: 'package' | 'version', text: string): string {
  if (text.length === 0 || text.length > 255 || /[\u0000-\u001f\u007f]/.test(text)) {
    throw new StatusRegistryError(400, {
      message: `the ${what} name must be 1 to 255 characters without control characters`,
      fix: 'percent-encode each path segment (encodeURIComponent): "/", "@", ":" and spaces are fine once encoded',
    });
  }
  return text;
}

function parseJson(body: string, what: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new StatusRegistryError(400, { message: `${what} is not JSON`, fix: 'send a JSON object with Content-Type: application/json' });
  }
}

function invalid(what: string, errors: ErrorObject[] | null | undefined, fix: string): StatusRegistryError {
  const problems = (errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? 'is invalid'}`);
  return new StatusRegistryError(400, { message: `${what} is invalid: ${[...new Set(problems)].join('; ')}`, fix });
}
