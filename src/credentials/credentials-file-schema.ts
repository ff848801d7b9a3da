// The shape of the credentials file: drone/drone-registry-plugin's YAML list (address, username, password, email,
// token, aws_access_key_id, aws_secret_access_key), our filters for Drone requests (repos, namespaces, events,
// branches, deny_forks) and password_file / password_env. Unknown keys are refused, so a typo such as `pasword` is an error, not an entry
// without a password. The schema is typed by RawCredentialsEntry, so the two cannot drift apart.

import type { JSONSchemaType } from 'ajv';
/** The build events a Drone request may carry (drone-go `drone/const.go`). */
export const DRONE_EVENTS = ['push', 'pull_request', 'tag', 'promote', 'rollback', 'cron', 'custom'] as const;
export type DroneEvent = (typeof DRONE_EVENTS)[number];

/** One entry as written. `null` is what YAML gives for a key with nothing after it; the loader refuses it. */
export interface RawCredentialsEntry {
  address: string;
  username?: string | null;
  password?: string | null;
  password_file?: string | null;
  password_env?: string | null;
  email?: string | null;
  token?: string | null;
  aws_access_key_id?: string | null;
  aws_secret_access_key?: string | null;
  repos?: string[] | null;
  namespaces?: string[] | null;
  events?: DroneEvent[] | null;
  branches?: string[] | null;
  deny_forks?: boolean | null;
}

/** Every key an entry may hold, in the order the fix for an unknown key lists them. */
export const ENTRY_KEYS: readonly (keyof RawCredentialsEntry)[] = [
  'address',
  'username',
  'password',
  'password_file',
  'password_env',
  'email',
  'token',
  'aws_access_key_id',
  'aws_secret_access_key',
  'repos',
  'namespaces',
  'events',
  'branches',
  'deny_forks',
];

const FILTER_KEYS: readonly string[] = ['repos', 'namespaces', 'events', 'branches', 'deny_forks'];

/** Keys whose value the reference plugin reads as a string even when YAML sees a number or a boolean (yaml.v2). */
export const STRING_KEYS: ReadonlySet<string> = new Set(ENTRY_KEYS.filter((key) => !FILTER_KEYS.includes(key)));

const text = { type: 'string', minLength: 1, nullable: true } as const;
// An empty filter list would match nobody: refused, since leaving the key out is how to match everyone.
const list = { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 }, nullable: true } as const;

export const credentialsFileSchema: JSONSchemaType<RawCredentialsEntry[]> = {
  type: 'array',
  items: {
    type: 'object',
    required: ['address'],
    additionalProperties: false,
    properties: {
      address: { type: 'string' },
      username: text,
      password: text,
      password_file: text,
      password_env: text,
      email: text,
      token: text,
      aws_access_key_id: text,
      aws_secret_access_key: text,
      repos: list,
      namespaces: list,
      events: { type: 'array', minItems: 1, items: { type: 'string', enum: DRONE_EVENTS }, nullable: true },
      branches: list,
      deny_forks: { type: 'boolean', nullable: true },
    },
  },
};
