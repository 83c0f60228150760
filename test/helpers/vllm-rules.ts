/**
 * @module test/helpers/vllm-rules
 * How vLLM (and SGLang, and llama.cpp's server with `--jinja`) decides whether a hybrid model thinks, for mock upstreams:
 * not by a request field of OpenAI's but by the model's chat template, through `chat_template_kwargs`. From vLLM's
 * "Reasoning Outputs" (https://docs.vllm.ai/en/stable/features/reasoning_outputs/): "The reasoning feature for the
 * Qwen3 series is enabled by default. To disable it, you must pass enable_thinking=False in your chat_template_kwargs",
 * and "DeepSeek-V3.1 reasoning is disabled by default; to enable it, you must also pass thinking=True in your
 * chat_template_kwargs". Top-level fields vLLM does not know (`enable_thinking`, `thinking`, `reasoning_effort` on an
 * older server) are ignored: they change nothing.
 *
 * The answer is in vLLM's shape with `--reasoning-parser`: the thinking streamed as `reasoning` deltas (the field
 * vLLM used to call `reasoning_content`, the same page), then the text; a usage chunk when asked.
 */
import { json } from './upstream.ts';

/** Whether the model behind `body` thinks on this request, as its template would decide. */
export function vllmThinks(body: any): boolean {
  const model = String(body?.model);
  const kwargs = body?.chat_template_kwargs ?? {};
  if (/deepseek-v3\.[12]/i.test(model)) return kwargs.thinking === true;
  if (/qwen3/i.test(model)) return kwargs.enable_thinking !== false;
  return false;
}

export const VLLM_REASONING = 'The user greets me. A short greeting back will do.';
export const VLLM_TEXT = 'Hello! How can I help?';

/** vLLM's answer to a Chat Completions body: streamed or not, with reasoning when the template thinks. */
export function vllmAnswer(body: any): Response {
  const model = String(body?.model);
  const thinks = vllmThinks(body);
  const id = 'chatcmpl-9f2a0c6b1d8e4b7f';
  const created = 1766000000;
  const usage = { prompt_tokens: 12, completion_tokens: thinks ? 30 : 8, total_tokens: thinks ? 42 : 20 };
  if (body?.stream !== true) {
    return json({
      id, object: 'chat.completion', created, model,
      choices: [{ index: 0, message: { role: 'assistant', content: VLLM_TEXT, reasoning: thinks ? VLLM_REASONING : null, tool_calls: [] }, logprobs: null, finish_reason: 'stop', stop_reason: null }],
      usage,
    });
  }
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  const parts = [chunk({ role: 'assistant', content: '' })];
  if (thinks) for (const piece of VLLM_REASONING.match(/.{1,12}/g)!) parts.push(chunk({ reasoning: piece }));
  for (const piece of VLLM_TEXT.match(/.{1,8}/g)!) parts.push(chunk({ content: piece }));
  parts.push(chunk({}, 'stop'));
  if (body?.stream_options?.include_usage) parts.push(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`);
  parts.push('data: [DONE]\n\n');
  return new Response(parts.join(''), { headers: { 'content-type': 'text/event-stream' } });
}
