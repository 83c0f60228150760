/**
 * @module util/validate
 * Turn a valibot failure into the one-line, field-naming message our error envelopes carry:
 * `messages.0.content: Invalid type: Expected string or Array but received 5` (STYLE rule 6: first issue, dot path).
 */
import * as v from 'valibot';
import { invalidRequest, type GatewayError } from '../errors.ts';

export function issueToError(issue: v.BaseIssue<unknown>): GatewayError {
  const path = v.getDotPath(issue) ?? undefined;
  let message = issue.message;
  if (issue.input === undefined && (issue.kind === 'schema' || issue.type === 'object' || issue.type === 'loose_object')) message = 'Field required';
  return invalidRequest(message, path);
}

/** Parse with a schema or throw the 400 for its first issue. */
export function parseOrThrow<S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  const res = v.safeParse(schema, input, { abortEarly: true });
  if (!res.success) throw issueToError(res.issues[0]);
  return res.output;
}
