/**
 * @module pipeline/context-overflow
 * A provider's refusal of a conversation too long for its context window, told to a Messages client (a translated
 * request: a client of the provider's own format gets the provider's answer as it is) in Anthropic's words:
 * 400 `invalid_request_error` "prompt is too long: 130512 tokens > 128000 maximum".
 *
 * Why: Claude Code 2.1.332 compacts the conversation on any overflow it recognises (it knows most providers' wordings
 * by substring: "maximum context length", "exceeds the context window", …) but it reads the two numbers only from
 * Anthropic's sentence (`/prompt is too long[^0-9]*(\d+)\s*tokens?\s*>\s*(\d+)/i`): with them it cuts exactly the gap
 * from the head of the conversation when the summarising request overflows too (without them, a fifth of it), and
 * tells the user "the request is ~N tokens (limit M)" rather than nothing about sizes. Some wordings (GitHub Copilot's
 * "prompt token count of N exceeds the limit of M", llama.cpp's numbers that are only in its body's fields) it does
 * not recognise at all. Likewise "input length and `max_tokens` exceed context limit: 24235 + 64000 > 64001" (its
 * regex `input length and \`max_tokens\` exceed context limit: (\d+) \+ (\d+) > (\d+)`) makes it retry with a smaller
 * max_tokens, for a refusal that pipeline/output-ceilings.ts did not settle by itself.
 *
 * The provider's own sentence follows Anthropic's, after " (the provider said: …)": both Claude Code regexes take the
 * first numbers, so they still read the Anthropic ones. A wording that names no number, or only the limit while the
 * gateway's own estimate of the prompt (accounting/estimate-tokens.ts) does not exceed it, is left in the provider's
 * words (Claude Code recognises those): an invented count would steer its compaction wrongly.
 */
import { GatewayError } from '../errors.ts';

/** What an overflow refusal says: the prompt's tokens and the window, when it names them; `output` when it blames max_tokens too. */
export interface ContextOverflow {
  tokens?: number;
  limit?: number;
  /** The output tokens asked for, when the refusal counts them in (the prompt alone fits). */
  output?: number;
}

const n = (s: string | undefined) => (s === undefined ? undefined : Number(s));

/**
 * The wordings, each with the provider that words it so (cited where it is seen):
 * - OpenAI, Groq: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512
 *   tokens. Please reduce the length of the messages." (code context_length_exceeded; chathub-dev/chathub#126)
 * - OpenAI (older), DeepSeek, vLLM (older): "This model's maximum context length is 131072 tokens. However, you
 *   requested 131134 tokens (122942 in the messages, 8192 in the completion). Please reduce the length of the messages
 *   or completion." (evalstate/fast-agent#621, DeepSeek; Chanzhaoyu/chatgpt-web#372, OpenAI)
 * - vLLM: "This model's maximum context length is 32768 tokens. However, your request has 40000 input tokens. Please
 *   reduce the length of the input messages." (vllm/entrypoints/openai/serving_engine.py)
 * - vLLM (engine): "The decoder prompt (length 17772) is longer than the maximum model length of 16384."
 *   (xorbitsai/inference#3785, google/tunix#222)
 * - OpenRouter: "This endpoint's maximum context length is 32768 tokens. However, you requested about 42832 tokens
 *   (42832 of text input). Please reduce the length of either one, or use the \"middle-out\" transform …"
 *   (refly-ai/refly#1177); with "…, N of tool input, N in the output" when those are there
 * - Gemini (its OpenAI-compatible endpoint too): "The input token count (1200293) exceeds the maximum number of tokens
 *   allowed (1048576)." (google-gemini/gemini-cli#6678)
 * - llama.cpp server: "the request exceeds the available context size. try increasing the context size or enable
 *   context shift", type exceed_context_size_error, the counts in `n_prompt_tokens` / `n_ctx` (ggml-org/llama.cpp#15780;
 *   formats/openai-chat/errors.ts puts them in the message)
 * Wordings not yet checked against a public report (as remembered; a wording that is otherwise never matches, and
 * the provider's words then reach the client as they are):
 * - Mistral: "Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length"
 * - xAI: "This model's maximum prompt length is 131072 but the request contains 140000 tokens."
 * - GitHub Copilot: "prompt token count of 140000 exceeds the limit of 128000"
 * - Moonshot (Kimi), the limit alone: "Invalid request: Your request exceeded model token limit: 131072"
 * The limit alone:
 * - DashScope (Qwen): "<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 204800]"
 *   (QwenLM/qwen-code#98, QwenLM/Qwen-Agent#615)
 * No number (left in the provider's words): OpenAI's "Your input exceeds the context window of this model. Please
 * adjust your input and try again." (onyx-dot-app/onyx#6051, openai/codex#2921).
 */
export function contextOverflow(said: string): ContextOverflow | null {
  const message = said.length > OVERFLOW_HEAD ? said.slice(0, OVERFLOW_HEAD) : said;
  let m: RegExpExecArray | null;
  if ((m = /maximum context length is (\d+) tokens\. However, your messages resulted in (\d+) tokens/i.exec(message))) return { limit: n(m[1]), tokens: n(m[2]) };
  if ((m = /maximum context length is (\d+) tokens\. However, your request has (\d+) input tokens/i.exec(message))) return { limit: n(m[1]), tokens: n(m[2]) };
  if ((m = /maximum context length is (\d+) tokens\. However, you requested \d+ tokens \((\d+) in the messages, (\d+) in the completion\)/i.exec(message))) {
    return prompt(n(m[1])!, n(m[2])!, n(m[3])!);
  }
  if ((m = /maximum context length is (\d+) tokens\. However, you requested about (\d+) tokens \(([^)]*)\)/i.exec(message))) {
    const output = /(\d+) in the output/i.exec(m[3]!);
    return prompt(n(m[1])!, n(m[2])! - (output ? n(output[1])! : 0), output ? n(output[1])! : 0);
  }
  if ((m = /the decoder prompt \(length (\d+)\) is longer than the maximum model length of (\d+)/i.exec(message))) return { tokens: n(m[1]), limit: n(m[2]) };
  if ((m = /the input token count \((\d+)\) exceeds the maximum number of tokens allowed \((\d+)\)/i.exec(message))) return { tokens: n(m[1]), limit: n(m[2]) };
  if ((m = /exceeds the available context size.*\(n_prompt_tokens: (\d+), n_ctx: (\d+)\)/is.exec(message))) return { tokens: n(m[1]), limit: n(m[2]) };
  if ((m = /prompt contains (\d+) tokens(?: and \d+ draft tokens)?, too large for model with (\d+) maximum context length/i.exec(message))) return { tokens: n(m[1]), limit: n(m[2]) };
  if ((m = /maximum prompt length is (\d+) but the request contains (\d+) tokens/i.exec(message))) return { limit: n(m[1]), tokens: n(m[2]) };
  if ((m = /prompt token count of (\d+) exceeds the limit of (\d+)/i.exec(message))) return { tokens: n(m[1]), limit: n(m[2]) };
  if ((m = /range of input length should be \[\d+, ?(\d+)\]/i.exec(message))) return { limit: n(m[1]) };
  if ((m = /exceeded model token limit: (\d+)/i.exec(message))) return { limit: n(m[1]) };
  if (/exceeds the context window of this model|exceeds the available context size|maximum context length/i.test(message)) return {};
  return null;
}

/**
 * How much of an error's message is read for an overflow: every wording above is a sentence at its start (a wrapper's
 * prefix included), and the message may be an upstream's 1 MB error body, or quote the request. Read whole, the
 * patterns with `.*` or `[^)]*` after a repeated phrase take time quadratic in its length: a 1 MB message of
 * "exceeds the available context size " held the event loop ~4 s, of OpenRouter's opening ~9 s (measured).
 */
const OVERFLOW_HEAD = 4096;

/** A refusal that counts the prompt and the output asked for: the prompt alone over the window, or both together. */
function prompt(limit: number, tokens: number, output: number): ContextOverflow {
  return tokens > limit || output <= 0 ? { tokens, limit } : { tokens, limit, output };
}

/**
 * `err` (a provider's error, read by its format) in Anthropic's words when it is a context overflow whose numbers are
 * known (`estimate`: the gateway's count of the prompt, asked only when the provider names the limit alone); else
 * `err` itself. The provider's sentence is kept, after Anthropic's.
 */
export function overflowInAnthropicWords(err: GatewayError, estimate: () => number | undefined): GatewayError {
  const said = contextOverflow(err.message);
  if (said === null || said.limit === undefined) return err;
  const limit = said.limit;
  let tokens = said.tokens;
  let estimated = false;
  if (tokens === undefined) {
    const e = estimate();
    if (e === undefined || !(e > limit)) return err;
    tokens = e;
    estimated = true;
  }
  if (!Number.isSafeInteger(tokens) || !Number.isSafeInteger(limit) || limit < 1) return err;
  let text: string;
  if (said.output !== undefined && tokens < limit) {
    text = `input length and \`max_tokens\` exceed context limit: ${tokens} + ${said.output} > ${limit}, decrease input length or \`max_tokens\` and try again`;
  } else if (tokens > limit) {
    text = `prompt is too long: ${tokens} tokens > ${limit} maximum`;
  } else {
    return err; // a count that does not exceed the window: not one to put in Anthropic's sentence
  }
  const note = estimated ? `the gateway's estimate of the prompt, ${tokens} tokens; ` : '';
  return new GatewayError(400, 'invalid_request_error', `${text} (${note}the provider said: ${err.message})`, {
    cause: err, code: err.code, param: err.param, headers: err.headers,
  });
}
