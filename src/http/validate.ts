/**
 * Request validation with zod, and messages that name the offending field the way the
 * contract shows: `data.userProperties.organizationId is required.`
 */
import { z } from 'zod';
import { identifierProblem } from '../accounts';
import { invalidArgument } from '../errors';
import { policyProblem, type Policy } from '../policy';

const ARTICLE: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
};

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = Object.hasOwn(value, key) ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  }
  return value;
}

function describe(issue: z.core.$ZodIssue, input: unknown): string {
  const field = issue.path.map(String).join('.') || 'The request body';
  switch (issue.code) {
    case 'invalid_type':
      if (valueAt(input, issue.path) === undefined) return `${field} is required.`;
      return `${field} must be ${ARTICLE[issue.expected] ?? issue.expected}.`;
    case 'too_small':
      if (issue.origin === 'string') {
        return Number(issue.minimum) <= 1 ? `${field} must not be empty.` : `${field} must be at least ${issue.minimum} characters.`;
      }
      if (issue.origin === 'array') return `${field} must have at least ${issue.minimum} entries.`;
      return `${field} must be at least ${issue.minimum}.`;
    case 'too_big':
      if (issue.origin === 'string') return `${field} must be at most ${issue.maximum} characters.`;
      if (issue.origin === 'array') return `${field} must have at most ${issue.maximum} entries.`;
      return `${field} must be at most ${issue.maximum}.`;
    case 'invalid_format':
      return issue.format === 'email' ? `${field} must be a valid email address.` : `${field} is not valid.`;
    case 'custom':
      // A problem inside the value names its member itself (".allow must ...").
      return issue.message.startsWith('.') ? `${field}${issue.message}.` : `${field} ${issue.message}.`;
    default:
      return `${field} is not valid.`;
  }
}

/** Parses `input` with `schema`, or throws invalid_argument naming the first bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidArgument(input === undefined ? 'data is required.' : 'The request body must be a JSON object.');
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw invalidArgument(describe(result.error.issues[0]!, input));
}

/*
 * The checks below are plain functions (their messages name the problem); `.meta()` states the
 * same rule as JSON Schema for the API description (src/http/openapi), and
 * test/openapi/schema-agreement.test.ts holds the two to agreeing on generated input.
 */

/** 1–256 printable ASCII characters, neither first nor last a space (contract §0). */
export const IDENTIFIER_PATTERN = '^[\\x21-\\x7E](?:[\\x20-\\x7E]{0,254}[\\x21-\\x7E])?$';
/** A permission name: 1–256 printable ASCII characters, neither first nor last a space. */
export const PERMISSION_PATTERN = IDENTIFIER_PATTERN;

/** A user or organization id (contract §0). */
export const identifier = z
  .string()
  .check((ctx) => {
    const problem = identifierProblem(ctx.value);
    if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  })
  .meta({ minLength: 1, maxLength: 256, pattern: IDENTIFIER_PATTERN });

/** An apiKey or authToken as typed; its content is judged by the credential check. */
export const credential = z.string().min(1).max(512);

export const email = z.email().max(254);

const permissionList = {
  type: 'array',
  maxItems: 256,
  items: { type: 'string', minLength: 1, maxLength: 256, pattern: PERMISSION_PATTERN },
};

export const policy = z
  .custom<Policy>()
  .check((ctx) => {
    const problem = policyProblem(ctx.value);
    if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  })
  .meta({
    description: 'Permission names to allow and to reject; `*` is every permission and reject always wins (contract §6.3).',
    type: 'object',
    properties: { allow: permissionList, reject: permissionList },
    additionalProperties: false,
  });

/** The `{"data": {...}}` wrapper of every JSON request. */
export const envelope = <T extends z.ZodRawShape>(shape: T) => z.object({ data: z.object(shape) });

/** Unix seconds. */
export const unixSeconds = z.number().int().nonnegative();
/** An ISO 8601 time as the gateway writes it. */
export const isoTime = z.iso.datetime();
