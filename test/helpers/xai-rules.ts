/**
 * @module test/helpers/xai-rules
 * What xAI's Chat Completions API refuses about reasoning, for mock upstreams, answered with the 400 it sends:
 * - `reasoning_effort` is taken by grok-4.3 (none|low|medium|high, https://docs.x.ai/developers/model-capabilities/text/reasoning)
 *   and grok-3-mini (low|high, https://docs.x.ai/docs/guides/reasoning); grok-4.20, reasoning or not, refuses it:
 *   `{"code":"invalid-argument","error":"Model grok-4.20-0309-reasoning does not support parameter reasoningEffort."}`
 *   (vercel/ai @ai-sdk/xai@4.0.8, which stopped sending it there), as grok-4 and grok-3 did;
 * - reasoning models refuse `presence_penalty`, `frequency_penalty` and `stop` ("Requests that include them return an error",
 *   the same page).
 */
import { json } from './upstream.ts';

const EFFORTS: Array<[RegExp, readonly string[]]> = [
  [/^grok-4\.3/, ['none', 'low', 'medium', 'high']],
  [/^grok-3-mini/, ['low', 'high']],
];

/** Why xAI would refuse a Chat Completions body, or null when it would serve it. */
export function xaiProblem(body: any): string | null {
  const model = String(body?.model);
  if (body?.reasoning_effort !== undefined) {
    const takes = EFFORTS.find(([re]) => re.test(model))?.[1];
    if (!takes) return `Model ${model} does not support parameter reasoningEffort.`;
    if (!takes.includes(body.reasoning_effort)) return `Invalid reasoning effort ${JSON.stringify(body.reasoning_effort)} for model ${model}; expected one of ${takes.join(', ')}.`;
  }
  if (!/non-reasoning/.test(model)) {
    for (const k of ['presence_penalty', 'frequency_penalty', 'stop']) {
      if (body?.[k] !== undefined) return `Model ${model} does not support parameter ${k === 'stop' ? 'stop' : k === 'presence_penalty' ? 'presencePenalty' : 'frequencyPenalty'}.`;
    }
  }
  return null;
}

/** xAI's 400 for a body it would refuse, or null. */
export function xaiRefusal(body: any): Response | null {
  const error = xaiProblem(body);
  return error === null ? null : json({ code: 'invalid-argument', error }, 400);
}
