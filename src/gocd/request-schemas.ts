// The JSON bodies GoCD sends, with the ajv schemas that check them on arrival. Each schema is
// typed by its request type, so the two cannot drift apart.

import type { JSONSchemaType } from 'ajv';

/** property key → {"value": "..."}; GoCD drops null values, so `value` may be missing. */
export type ConfigurationMap = Record<string, { value?: string | null }>;

export interface RepositoryRequest {
  'repository-configuration': ConfigurationMap;
}

export interface PackageRequest extends RepositoryRequest {
  'package-configuration': ConfigurationMap;
}

export interface PreviousRevision {
  revision: string;
  timestamp?: string | null;
  data?: Record<string, string | null> | null;
}

export interface LatestRevisionSinceRequest extends PackageRequest {
  'previous-revision': PreviousRevision;
}

const configurationMap: JSONSchemaType<ConfigurationMap> = {
  type: 'object',
  required: [],
  additionalProperties: {
    type: 'object',
    required: [],
    properties: { value: { type: 'string', nullable: true } },
  },
};

export const repositoryRequestSchema: JSONSchemaType<RepositoryRequest> = {
  type: 'object',
  required: ['repository-configuration'],
  properties: { 'repository-configuration': configurationMap },
};

export const packageRequestSchema: JSONSchemaType<PackageRequest> = {
  type: 'object',
  required: ['repository-configuration', 'package-configuration'],
  properties: { 'repository-configuration': configurationMap, 'package-configuration': configurationMap },
};

export const latestRevisionSinceRequestSchema: JSONSchemaType<LatestRevisionSinceRequest> = {
  type: 'object',
  required: ['repository-configuration', 'package-configuration', 'previous-revision'],
  properties: {
    'repository-configuration': configurationMap,
    'package-configuration': configurationMap,
    'previous-revision': {
      type: 'object',
      required: ['revision'],
      properties: {
        revision: { type: 'string' },
        timestamp: { type: 'string', nullable: true },
        data: {
          type: 'object',
          nullable: true,
          required: [],
          additionalProperties: { type: 'string', nullable: true },
        },
      },
    },
  },
};
