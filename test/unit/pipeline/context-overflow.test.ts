/**
 * pipeline/context-overflow: each provider's real overflow wording read for its numbers, and put in Anthropic's words
 * only where those numbers are known; Claude Code 2.1.332's own regexes (from its bundle) must read the result.
 */
import { describe, expect, test } from 'bun:test';
import { contextOverflow, overflowInAnthropicWords } from '../../../src/pipeline/context-overflow.ts';
import { chatErrorToGateway } from '../../../src/formats/openai-chat/errors.ts';
import { refusedCeiling } from '../../../src/pipeline/output-ceilings.ts';
import { GatewayError } from '../../../src/errors.ts';

// Claude Code 2.1.332 (node_modules/@anthropic-ai/claude-code/bin/claude.exe): what it reads the numbers with
const CC_PROMPT_TOO_LONG = /prompt is too long[^0-9]*(\d+)\s*tokens?\s*>\s*(\d+)/i;
const CC_MAX_TOKENS = /input length and `max_tokens` exceed context limit: (\d+) \+ (\d+) > (\d+)/;

const WORDINGS: [string, string, { tokens?: number; limit?: number; output?: number }][] = [
  ['OpenAI', "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens. Please reduce the length of the messages.", { limit: 128000, tokens: 130512 }],
  ['DeepSeek (prompt alone over)', "This model's maximum context length is 131072 tokens. However, you requested 140000 tokens (131834 in the messages, 8166 in the completion). Please reduce the length of the messages or completion.", { limit: 131072, tokens: 131834 }],
  ['DeepSeek (with the completion)', "This model's maximum context length is 131072 tokens. However, you requested 131134 tokens (122942 in the messages, 8192 in the completion). Please reduce the length of the messages or completion.", { limit: 131072, tokens: 122942, output: 8192 }],
  ['vLLM', "This model's maximum context length is 32768 tokens. However, your request has 40000 input tokens. Please reduce the length of the input messages.", { limit: 32768, tokens: 40000 }],
  ['vLLM engine', 'The decoder prompt (length 17772) is longer than the maximum model length of 16384.', { tokens: 17772, limit: 16384 }],
  ['OpenRouter', 'This endpoint\'s maximum context length is 32768 tokens. However, you requested about 42832 tokens (42832 of text input). Please reduce the length of either one, or use the "middle-out" transform to compress your prompt automatically.', { limit: 32768, tokens: 42832 }],
  ['OpenRouter (with output)', 'This endpoint\'s maximum context length is 200000 tokens. However, you requested about 210000 tokens (150000 of text input, 4000 of tool input, 56000 in the output). Please reduce the length of either one, or use the "middle-out" transform to compress your prompt automatically.', { limit: 200000, tokens: 154000, output: 56000 }],
  ['Gemini', 'The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).', { tokens: 1200293, limit: 1048576 }],
  ['llama.cpp (its fields in the message)', 'the request exceeds the available context size. try increasing the context size or enable context shift (n_prompt_tokens: 14429, n_ctx: 8192)', { tokens: 14429, limit: 8192 }],
  ['Mistral', 'Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length', { tokens: 40000, limit: 32768 }],
  ['xAI', "This model's maximum prompt length is 131072 but the request contains 140000 tokens.", { limit: 131072, tokens: 140000 }],
  ['GitHub Copilot', 'prompt token count of 140000 exceeds the limit of 128000', { tokens: 140000, limit: 128000 }],
  ['DashScope', '<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 204800]', { limit: 204800 }],
  ['Moonshot', 'Invalid request: Your request exceeded model token limit: 131072', { limit: 131072 }],
  ['OpenAI (newer)', 'Your input exceeds the context window of this model. Please adjust your input and try again.', {}],
];

const err = (message: string, status = 400) => new GatewayError(status, undefined, message);
const none = () => undefined;

describe('contextOverflow: each provider\'s wording', () => {
  for (const [who, said, want] of WORDINGS) test(who, () => expect(contextOverflow(said)).toEqual(want));

  test('other errors are none', () => {
    for (const s of ['max_tokens is too large: 128000. This model supports at most 16384 completion tokens, whereas you provided 128000.', 'Rate limit reached for gpt-4o', 'Request too large for model `llama3-70b-8192` in organization on tokens per minute (TPM): Limit 6000, Requested 7000', 'messages.0.content: Input should be a valid string']) {
      expect(contextOverflow(s)).toBeNull();
    }
  });
});

describe('overflowInAnthropicWords', () => {
  for (const [who, said, want] of WORDINGS) {
    if (want.tokens === undefined) continue;
    test(`${who}: Anthropic's sentence, that Claude Code reads, then the provider's`, () => {
      const told = overflowInAnthropicWords(err(said), none);
      expect(told.status).toBe(400);
      expect(told.type).toBe('invalid_request_error');
      expect(told.message.endsWith(`(the provider said: ${said})`)).toBe(true);
      if (want.output !== undefined) {
        expect(told.message.startsWith(`input length and \`max_tokens\` exceed context limit: ${want.tokens} + ${want.output} > ${want.limit}, decrease input length or \`max_tokens\` and try again (`)).toBe(true);
        expect(CC_MAX_TOKENS.exec(told.message)!.slice(1).map(Number)).toEqual([want.tokens!, want.output!, want.limit!]);
      } else {
        expect(told.message.startsWith(`prompt is too long: ${want.tokens} tokens > ${want.limit} maximum (`)).toBe(true);
        expect(CC_PROMPT_TOO_LONG.exec(told.message)!.slice(1).map(Number)).toEqual([want.tokens!, want.limit!]);
      }
    });
  }

  test('the limit alone: the gateway\'s estimate, only when it exceeds the limit (and saying it is one)', () => {
    const said = 'Range of input length should be [1, 30720]';
    expect(overflowInAnthropicWords(err(said), () => 20000).message).toBe(said);
    expect(overflowInAnthropicWords(err(said), none).message).toBe(said);
    const told = overflowInAnthropicWords(err(said), () => 31000);
    expect(told.message).toBe(`prompt is too long: 31000 tokens > 30720 maximum (the gateway's estimate of the prompt, 31000 tokens; the provider said: ${said})`);
    expect(CC_PROMPT_TOO_LONG.exec(told.message)!.slice(1).map(Number)).toEqual([31000, 30720]);
  });

  test('no number, or not an overflow: the error unchanged', () => {
    const a = err('Your input exceeds the context window of this model. Please adjust your input and try again.');
    expect(overflowInAnthropicWords(a, () => 999999)).toBe(a);
    const b = err('Rate limit reached', 429);
    expect(overflowInAnthropicWords(b, () => 999999)).toBe(b);
  });

  test('only the message\'s head is read: a sentence far into a long message (an echoed request) is none', () => {
    // read whole, a 1 MB message of a repeated opening held the event loop for seconds (context-overflow.ts: OVERFLOW_HEAD)
    const far = `${'x'.repeat(8000)} This model's maximum context length is 5 tokens. However, your messages resulted in 9 tokens.`;
    expect(contextOverflow(far)).toBeNull();
    expect(overflowInAnthropicWords(err(far), none).message).toBe(far);
    expect(contextOverflow(`litellm.BadRequestError: ${WORDINGS[0]![1]}`)).toEqual({ limit: 128000, tokens: 130512 });
  });

  test('a max_tokens refusal that output-ceilings settles is still read by it in the rewritten message', () => {
    const said = "This model's maximum context length is 8192 tokens. However, you requested 8256 tokens (64 in the messages, 8192 in the completion).";
    expect(refusedCeiling(overflowInAnthropicWords(err(said), none).message)).toEqual(refusedCeiling(said));
  });

  test('llama.cpp: its counts, in fields of their own, reach the message (formats/openai-chat/errors.ts)', () => {
    // ggml-org/llama.cpp#15780 (and oobabooga/textgen#7257 with HTTP 400)
    const body = { error: { code: 400, message: 'the request exceeds the available context size. try increasing the context size or enable context shift', type: 'exceed_context_size_error', n_prompt_tokens: 14429, n_ctx: 8192 } };
    const told = overflowInAnthropicWords(chatErrorToGateway(400, body), none);
    expect(told.message.startsWith('prompt is too long: 14429 tokens > 8192 maximum (the provider said: the request exceeds')).toBe(true);
  });
});
