/**
 * @module test/helpers/moonshot-rules
 * What Moonshot's Kimi API (https://api.moonshot.ai/v1) refuses, for mock upstreams, answered with the 400 it sends
 * (`{"error": {"message", "type": "invalid_request_error"}}`). Thinking is on for kimi-k2-thinking always ("a dedicated
 * thinking model with thinking forcibly enabled"), and for kimi-k2.5 / kimi-k2.6 unless `thinking: {type: "disabled"}`
 * ("enabled by default", https://platform.kimi.ai/docs/guide/use-kimi-k2-thinking-model); never for the K2 instruct
 * models (kimi-k2-0905-preview, kimi-k2-turbo-preview). With thinking on:
 * - every assistant message with tool calls must carry its `reasoning_content`: "thinking is enabled but
 *   reasoning_content is missing in assistant tool call message at index N" (VicBilibily/GCMP#162,
 *   cloudwego/eino-ext#700, continuedev/continue#11600). An empty string is taken here: what Kimi does with one
 *   (a history written by another model) is not documented;
 * - a forced call is refused: "tool_choice 'required' is incompatible with thinking enabled" (AstrBotDevs/AstrBot#7805),
 *   "tool_choice 'specified' is incompatible with thinking enabled" for a named function (can1357/oh-my-pi#1077).
 * kimi-k2.5 / kimi-k2.6 take only their own temperature, 1.0 thinking and 0.6 not ("Cannot be modified",
 * https://platform.kimi.ai/docs/api/models-overview): "invalid temperature: only 1 is allowed for this model"
 * (countbot-ai/CountBot#61, arcsin1/oh-my-ppt#45).
 */
import { json } from './upstream.ts';

/** Whether Kimi thinks on this request. */
export function kimiThinks(body: any): boolean {
  const model = String(body?.model);
  if (model.startsWith('kimi-k2-thinking')) return true;
  if (/^kimi-k2\.\d/.test(model)) return body?.thinking?.type !== 'disabled';
  return false;
}

/** Kimi's 400 for a Chat Completions body it would refuse, or null when it would serve it. */
export function moonshotRefusal(body: any): Response | null {
  const message = moonshotProblem(body);
  return message === null ? null : json({ error: { message, type: 'invalid_request_error' } }, 400);
}

/** Why Kimi would refuse a Chat Completions body, in its words; null when it would serve it. */
export function moonshotProblem(body: any): string | null {
  const thinks = kimiThinks(body);
  if (/^kimi-k2\.\d/.test(String(body?.model)) && body?.temperature !== undefined) {
    const only = thinks ? 1 : 0.6;
    if (body.temperature !== only) return `invalid temperature: only ${only} is allowed for this model`;
  }
  if (!thinks) return null;
  if (body?.tool_choice === 'required') return "tool_choice 'required' is incompatible with thinking enabled";
  if (typeof body?.tool_choice === 'object' && body.tool_choice !== null) return "tool_choice 'specified' is incompatible with thinking enabled";
  const messages: any[] = body?.messages ?? [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m.role === 'assistant' && Array.isArray(m.tool_calls) && m.tool_calls.length > 0 && typeof m.reasoning_content !== 'string') {
      return `thinking is enabled but reasoning_content is missing in assistant tool call message at index ${i}`;
    }
  }
  return null;
}
