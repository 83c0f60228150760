/**
 * @module test/helpers/dashscope-rules
 * What Alibaba Cloud Model Studio (DashScope, its OpenAI-compatible mode) refuses, for mock upstreams, answered with
 * the 400 it sends:
 * - thinking on a non-streamed request: "parameter.enable_thinking must be set to false for non-streaming calls"
 *   (`invalid_parameter_error`; the envelope as infiniflow/ragflow#8972, OpenBMB/UltraRAG#287 and
 *   vybestack/llxprt-code#229 quote it from qwen3-32b and Qwen3-235B-A22B). Thinking is on when `enable_thinking` is
 *   true, or when it is absent on a model whose default is on: the open Qwen3 models (Aliyun's reference: "Qwen3 商业版
 *   模型默认值为 False，Qwen3 开源版模型默认值为 True", quoted in sunmh207/AI-Codereview-Gitlab#104) and Qwen3.5
 *   ("Qwen3.5 (enabled by default)", https://docs.qwencloud.com/developer-guides/text-generation/thinking);
 * - `max_tokens` above the model's ceiling: "<400> InternalError.Algo.InvalidParameter: Range of max_tokens should be
 *   [1, 8192]" (qwen-max: musistudio/claude-code-router#184, anomalyco/opencode#16971; 65536 for qwen3 models,
 *   NousResearch/hermes-agent#55561).
 */
import { json } from './upstream.ts';

/** Open Qwen3 (qwen3-8b, qwen3-32b, qwen3-235b-a22b…) and Qwen3.5: thinking on unless `enable_thinking: false`. */
export function thinksByDefault(model: string): boolean {
  return /^qwen3-[\d.]+b(-a[\d.]+b)?$/.test(model) || /^qwen3\.\d/.test(model);
}

/** Output ceilings a mock enforces, by upstream model (the recorded refusals above). */
export const DASHSCOPE_CEILINGS: Record<string, number> = { 'qwen-max': 8192, 'qwen3-max': 65536 };

const refusal = (message: string) => json({
  error: { code: 'invalid_parameter_error', param: null, message, type: 'invalid_request_error' },
  id: 'chatcmpl-f5a1f1ee-dac6-9c1b-9bdb-2f0c22b8af45', request_id: 'f5a1f1ee-dac6-9c1b-9bdb-2f0c22b8af45',
}, 400);

/** DashScope's 400 for a Chat Completions body it would refuse, or null when it would serve it. */
export function dashscopeRefusal(body: any): Response | null {
  const model = String(body?.model);
  const thinking = body?.enable_thinking ?? thinksByDefault(model);
  if (body?.stream !== true && thinking === true) return refusal('parameter.enable_thinking must be set to false for non-streaming calls');
  const ceiling = DASHSCOPE_CEILINGS[model];
  if (ceiling !== undefined && typeof body?.max_tokens === 'number' && body.max_tokens > ceiling) {
    return refusal(`<400> InternalError.Algo.InvalidParameter: Range of max_tokens should be [1, ${ceiling}]`);
  }
  return null;
}
