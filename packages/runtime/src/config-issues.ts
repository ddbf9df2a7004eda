import type { z } from 'zod';
import { closestName } from './closest-name.js';

/** What a problem's wording needs to know of the config that was read. */
export interface IssueContext {
  /** The value read at a path (from the file, the environment and the flags, merged). */
  value(path: string): unknown;
  /** Where a value came from: `--port`, `OPLOG_LISTEN__PORT in the environment`, `listen.port in app.json`. */
  origin(path: string): string | undefined;
  /** How to set a key: `--entities or OPLOG_ENTITIES`. */
  howToSet(path: string): string;
  /** Every setting's path, for "did you mean". */
  paths: Iterable<string>;
}

type Issue = z.core.$ZodIssue;

/** One schema issue as the problems a person reads: each names where the value came from and what it should be. */
export function describeIssue(issue: Issue, context: IssueContext): string[] {
  const path = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const keyPath = path ? `${path}.${key}` : key;
      const guess = closestName(keyPath, context.paths);
      return `${context.origin(keyPath) ?? keyPath}: not a setting${guess ? ` (did you mean ${guess}?)` : ''}; remove or rename it`;
    });
  }
  const value = context.value(path);
  if (value === undefined) {
    if (issue.code === 'custom') return [issue.message];
    return [`${path || 'the configuration'} is required: set ${context.howToSet(path)}`];
  }
  // The value is repeated only where it cannot be a secret (a token, a URL with a password): a number, a choice.
  const repeat = typeof value !== 'string' || issue.code === 'invalid_type' || issue.code === 'invalid_value';
  return [`${context.origin(path) ?? path}: ${expectation(issue)}${repeat ? `, got ${shown(value)}` : ''}`];
}

function expectation(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected === 'int' ? 'a whole number' : `a ${issue.expected}`}`;
    case 'too_small':
      return `must be ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}${unit(issue.origin)}`;
    case 'too_big':
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}${unit(issue.origin)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    default:
      return issue.message;
  }
}

const unit = (origin: string) => (origin === 'string' ? ' characters long' : origin === 'array' ? ' items' : '');

/** A value as the person wrote it, cut short: the problem line stays one line. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
