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

/**
 * `schema` (a union or a variant) with its option picked by a look at the input instead of by trying each option in
 * turn: valibot builds a whole issue, message included, for every option that does not match, which made up half
 * the validation of a long conversation (one content union or role variant per message): 72 → 37-47 µs for the
 * bench's 200 KB Chat Completions skeleton. Inputs `pick` does not place go to `schema` itself, so their errors are
 * the union's or variant's; a placed input meets the option the union or variant would have settled on, so outputs
 * are the same, and an error inside that option is reported at its own path (`messages.0.content.0.type: Field
 * required` where the union said only "Expected string or array": test/unit/util/validate.test.ts).
 */
function picked<S extends v.GenericSchema>(schema: S, pick: (input: unknown) => v.GenericSchema | undefined): v.LazySchema<S> {
  return v.lazy((input) => (pick(input) ?? schema) as S);
}

/** `v.union([str, arr], message)`, the option picked by the input's type. */
export function stringOrArray<S extends v.GenericSchema<unknown, string>, A extends v.GenericSchema<unknown[]>>(str: S, arr: A, message: string) {
  return picked(v.union([str, arr], message), (input) => (typeof input === 'string' ? str : Array.isArray(input) ? arr : undefined));
}

type VariantOption<K extends string> = v.LooseObjectSchema<{ [key in K]: v.LiteralSchema<string, undefined> } & v.ObjectEntries, undefined>;

/** `v.variant(key, options)` over distinct literal discriminators, the option found by the input's `key`. */
export function variantByKey<K extends string, O extends VariantOption<K>[]>(key: K, options: [...O]) {
  const byValue = new Map<unknown, v.GenericSchema>(options.map((o) => [o.entries[key].literal, o]));
  // two options with one value: valibot would try both in turn, a lookup finds one
  if (byValue.size !== options.length) throw new Error(`variantByKey: two options share a value of "${key}"`);
  return picked(v.variant(key, options), (input) => (input !== null && typeof input === 'object' ? byValue.get((input as Record<string, unknown>)[key]) : undefined));
}

/**
 * An object that valibot's object schemas take and give back unchanged (as a copy with the same keys and values): not
 * an array (valibot takes one, and copies it into a plain object), and no key valibot leaves out of its copy
 * (`__proto__`, `constructor`, `prototype`: own keys that JSON.parse can make). For plain checks that let a valid body
 * be used as it is (hub/schema.ts, formats/openai-chat/request-to-hub.ts).
 */
export function isUnchangedObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && !Object.hasOwn(x, '__proto__') && !Object.hasOwn(x, 'constructor') && !Object.hasOwn(x, 'prototype');
}

/**
 * `v.record(key, value)` that refuses a list: valibot's record takes an array as an object, a map of "0", "1"…, so a
 * list written where a mapping belongs (`headers: ["authorization: Bearer …"]`) passed as a header named "0".
 */
export function mapping<K extends v.GenericSchema<string, string>, V extends v.GenericSchema>(key: K, value: V) {
  const record = v.record(key, value);
  const notAList = v.custom<never>(() => false, 'must be a mapping (name: value), not a list');
  return v.lazy((input) => (Array.isArray(input) ? notAList : record));
}

/**
 * A config number, or a string holding one: `${VAR}` always gives a string, so `port: ${PORT}` reads "9000" (spaces
 * and a line break around it, as an env file may leave, are let go). Anything else goes on to `v.number()` as it
 * came, and is refused as before ('Expected number but received "90x"').
 */
export function numeric() {
  return v.pipe(
    v.unknown(),
    v.transform((x) => (typeof x === 'string' && /^\s*-?(?:\d+\.?\d*|\.\d+)\s*$/.test(x) ? Number(x) : x)),
    v.number(),
  );
}
