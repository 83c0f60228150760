/**
 * @module test/unit/formats/openai-chat/response-to-hub
 * Chat Completions JSON → Anthropic Message: every recorded non-stream response, then one table row per
 * mapping rule (reasoning, think tags, refusal, tool calls, finish reasons, usage), then upstream error
 * bodies → GatewayError (every recorded `error-*.json`).
 */
import { describe, expect, test } from 'bun:test';
import { GatewayError } from '../../../../src/errors.ts';
import type { Message } from '../../../../src/hub/types.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import { DEFAULT_CHAT_QUIRKS, type ChatQuirks } from '../../../../src/formats/openai-chat/quirks.ts';
import { ThinkTagSplitter, chatResponseToHub, newMessageId, newToolUseId, parseToolArguments, usageToHub } from '../../../../src/formats/openai-chat/response-to-hub.ts';
import { chatErrorToGateway } from '../../../../src/formats/openai-chat/errors.ts';
import { redactSecrets } from '../../../../src/util/redact.ts';
import { CHAT_FINISH_TO_STOP_REASON, STOP_REASON_TO_CHAT_FINISH } from '../../../../src/formats/openai-chat/stop-reason.ts';
import { listFixtures, readFixture } from '../../../helpers/fixtures.ts';

function makeCtx(over: Partial<TranslateContext> = {}): TranslateContext {
  return {
    requestedModel: 'claude-sonnet-5-5', upstreamModel: 'up', dropped: [], estimatedInputTokens: 77,
    defaultMaxTokens: 4096, thinkingStyle: 'none', ...over,
  };
}
const quirks = (over: Partial<ChatQuirks> = {}): ChatQuirks => ({ ...DEFAULT_CHAT_QUIRKS, ...over });
const convert = (body: unknown, q: Partial<ChatQuirks> = {}, ctx = makeCtx()) => chatResponseToHub(body, ctx, quirks(q));
const completion = (message: Record<string, unknown>, finish: string | null = 'stop', extra: Record<string, unknown> = {}) =>
  ({ id: 'x', object: 'chat.completion', created: 1, model: 'up', choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }], ...extra });

/** The blocks, reduced to what matters: `thinking[signature prefix]:…`, `text:…`, `tool:name(id) input`. */
function blocks(m: Message): string[] {
  return m.content.map((b) => {
    switch (b.type) {
      case 'thinking': return `thinking[${(b as { signature: string }).signature.slice(0, 8)}]:${(b as { thinking: string }).thinking}`;
      case 'text': return `text:${(b as { text: string }).text}`;
      case 'tool_use': { const t = b as { id: string; name: string; input: unknown }; return `tool:${t.name}(${t.id}) ${JSON.stringify(t.input)}`; }
      default: return b.type;
    }
  });
}

describe('recorded responses', () => {
  const RESPONSES = [...listFixtures('openai-chat'), ...listFixtures('openai-compatible')].filter((f) => /\/response-[^/]+\.json$/.test(f));
  const expected: Record<string, { q?: Partial<ChatQuirks>; blocks: string[]; stop: string; usage: Record<string, number> }> = {
    'openai-chat/response-text.json': { blocks: ['text:I\'m unable to provide real-time weather '], stop: 'end_turn', usage: { input_tokens: 14, output_tokens: 37 } },
    'openai-chat/response-text-gpt41nano.json': { blocks: ['text:'], stop: 'end_turn', usage: {} },
    'openai-chat/response-length-cutoff.json': { blocks: ['text:'], stop: 'max_tokens', usage: {} },
    'openai-chat/response-refusal.json': { blocks: ['text:I\'m very sorry, but I can\'t assist with '], stop: 'refusal', usage: { input_tokens: 79, output_tokens: 12 } },
    'openai-chat/response-tool-calls-parallel.json': {
      blocks: [
        'tool:GetWeatherArgs(call_fdNz3vOBKYgOIpMdWotB9MjY) {"city":"Edinburgh","country":"GB","units":"c"}',
        'tool:get_stock_price(call_h1DWI1POMJLb0KwIyQHWXD4p) {"ticker":"AAPL","exchange":"NASDAQ"}',
      ],
      stop: 'tool_use', usage: { input_tokens: 149, output_tokens: 60 },
    },
    'openai-chat/response-o3-mini-reasoning-tokens.json': { blocks: ['text:'], stop: 'end_turn', usage: {} },
    'openai-compatible/azure/response-content-filter-results.json': { blocks: ['text:'], stop: 'end_turn', usage: {} },
    'openai-compatible/cerebras/response-gpt-oss-reasoning.json': { blocks: ['thinking[]:User asks simple question: capital of F', 'text:The capital of France is **Paris**.'], stop: 'end_turn', usage: { input_tokens: 74, output_tokens: 36 } },
    'openai-compatible/deepseek/response-reasoning.json': { blocks: ['thinking[]:We are asked: "How many \'r\'s are in the', 'text:The word "strawberry" contains three ins'], stop: 'end_turn', usage: { input_tokens: 18, output_tokens: 345, cache_read_input_tokens: 0 } },
    'openai-compatible/deepseek/response-reasoning-tool-calls.json': {
      blocks: ['thinking[]:The user wants to play a dice game. I ne', 'text:Let me load the dice rolling capability!', 'tool:load_capability(call_00_sXqYgMESDht75NCLLZtt9804) {"id":"DICE_ROLL"}'],
      stop: 'tool_use', usage: { input_tokens: 51, output_tokens: 116, cache_read_input_tokens: 512 },
    },
    'openai-compatible/gemini/response-tool-calls-without-id.json': { blocks: ['tool:get_current_time(toolu_) {}'], stop: 'tool_use', usage: { input_tokens: 35, output_tokens: 74 } },
    'openai-compatible/groq/response-gpt-oss-reasoning.json': { blocks: ['thinking[]:The user asks: "What is the largest city', 'text:{"city":"Mexico City","country":"Mexico"}'], stop: 'end_turn', usage: { input_tokens: 178, output_tokens: 94 } },
    'openai-compatible/huggingface/response-deepseek-r1-think-tags-length.json': {
      q: { think_tags: true }, blocks: ['thinking[]:\nHmm, the user just said "hello". Such a'], stop: 'max_tokens', usage: { input_tokens: 4, output_tokens: 100 },
    },
    'openai-compatible/ollama/response-cloud-gpt-oss-tool-call.json': {
      blocks: ['thinking[]:The conversation: user asked "What is th', 'tool:final_result(call_o2vnpxrw) {"city":"Paris","country":"France"}'], stop: 'tool_use', usage: { input_tokens: 206, output_tokens: 194 },
    },
    'openai-compatible/ollama/response-local-qwen3-reasoning.json': { blocks: ['thinking[]:Okay, the user is asking for the capital', 'text:{ "city": "Paris", "country": "France" }'], stop: 'end_turn', usage: { input_tokens: 136, output_tokens: 15 } },
    'openai-compatible/openrouter/response-reasoning.json': { blocks: ['thinking[EugCCkgI]:The user is asking me to reply with the ', 'text:ok'], stop: 'end_turn', usage: { input_tokens: 43, output_tokens: 53 } },
    'openai-compatible/openrouter/response-tool-call.json': { blocks: ['tool:divide(3sniiMddS) {"numerator":123,"denominator":456,"on_inf":"infinity"}'], stop: 'tool_use', usage: { input_tokens: 134, output_tokens: 43 } },
  };

  test('every recorded response has an expectation', () => {
    expect(RESPONSES.sort()).toEqual(Object.keys(expected).sort());
  });

  test.each(RESPONSES)('%s', (file) => {
    const body = JSON.parse(readFixture(file));
    const want = expected[file]!;
    const msg = convert(body, want.q);
    const got = blocks(msg).map((b) => b.replace(/toolu_[A-Za-z0-9]{24}/, 'toolu_'));
    // `text:` with nothing after it means "the recording's own content, whatever it is"
    const content = body.choices[0].message.content;
    const wanted = want.blocks.map((b) => (b === 'text:' ? `text:${String(content)}` : b));
    expect(got.length).toBe(wanted.length);
    got.forEach((g, i) => expect(g.startsWith(wanted[i]!), `${g.slice(0, 60)} starts with ${wanted[i]}`).toBe(true));
    expect(msg.stop_reason).toBe(want.stop as Message['stop_reason']);
    expect(msg.usage).toMatchObject(Object.keys(want.usage).length ? want.usage : usageToHub(body.usage));
    expect(msg.id).toMatch(/^msg_[A-Za-z0-9]{24}$/);
    expect(msg.model).toBe('claude-sonnet-5-5');
    expect(msg.type).toBe('message');
    expect(msg.role).toBe('assistant');
  });
});

describe('response rules', () => {
  test('an answer without usage: the input estimate the pipeline made, and the output counted from its length', () => {
    const msg = convert({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'a'.repeat(40), tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"q":"abcd"}' } }] }, finish_reason: 'tool_calls' }] }, {}, makeCtx({ estimatedInputTokens: 321 }));
    expect(msg.usage).toEqual({ input_tokens: 321, output_tokens: Math.ceil((40 + '{"q":"abcd"}'.length) / 4) });
  });

  test.each([
    ['reasoning_content → thinking first', completion({ content: 'a', reasoning_content: 'r' }), {}, ['thinking[]:r', 'text:a']],
    ['reasoning (OpenRouter/Groq/Ollama)', completion({ content: 'a', reasoning: 'r' }), {}, ['thinking[]:r', 'text:a']],
    ['reasoning_details text entries only', completion({ content: 'a', reasoning_details: [{ type: 'reasoning.text', text: 'r1' }, { type: 'reasoning.text', text: 'r2', signature: 'SIGNATURE' }] }), {}, ['thinking[SIGNATUR]:r1r2', 'text:a']],
    ['reasoning + identical reasoning_details: not doubled', completion({ content: 'a', reasoning: 'r', reasoning_details: [{ type: 'reasoning.text', text: 'r' }] }), {}, ['thinking[]:r', 'text:a']],
    ['encrypted reasoning only: no thinking block', completion({ content: 'a', reasoning_details: [{ type: 'reasoning.encrypted', data: 'gAAA' }] }), {}, ['text:a']],
    ['<think> tags (quirks.think_tags)', completion({ content: '<think>\nplan\n</think>\n\nanswer' }), { think_tags: true }, ['thinking[]:\nplan\n', 'text:answer']],
    ['<think> tags left alone without the quirk', completion({ content: '<think>x</think>y' }), {}, ['text:<think>x</think>y']],
    ['a tag mid-text is prose, not thinking', completion({ content: 'use <think> tags' }), { think_tags: true }, ['text:use <think> tags']],
    ['refusal → text', completion({ content: null, refusal: 'No.' }), {}, ['text:No.']],
    ['Mistral content parts', completion({ content: [{ type: 'thinking', thinking: [{ type: 'text', text: 't' }] }, { type: 'text', text: 'x' }] }), {}, ['thinking[]:t', 'text:x']],
    ['empty content: no block', completion({ content: '' }), {}, []],
    ['unparseable arguments kept as _raw', completion({ content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a": tru' } }] }, 'tool_calls'), {}, ['tool:f(c1) {"_raw":"{\\"a\\": tru"}']],
    ['empty or null arguments → {}', completion({ content: null, tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '' } }, { id: 'c2', function: { name: 'g', arguments: 'null' } }] }, 'tool_calls'), {}, ['tool:f(c1) {}', 'tool:g(c2) {}']],
    ['non-object arguments kept as _raw', completion({ content: null, tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '[1,2]' } }] }, 'tool_calls'), {}, ['tool:f(c1) {"_raw":"[1,2]"}']],
    ['deprecated function_call', completion({ content: null, function_call: { name: 'f', arguments: '{"a":1}' } }, 'function_call'), {}, ['tool:f(toolu_) {"a":1}']],
  ] as const)('%s', (_name, body, q, want) => {
    expect(blocks(convert(body, q)).map((b) => b.replace(/toolu_[A-Za-z0-9]{24}/, 'toolu_'))).toEqual([...want]);
  });

  // Anthropic refuses a text block of whitespace alone ("text content blocks must contain non-whitespace text"): a
  // client keeps the block in its history, and the conversation dies once it reaches an anthropic channel
  test.each([
    ['"\\n\\n" before a tool call (DeepSeek, Qwen, GLM, Kimi): the call alone', completion({ content: '\n\n', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, 'tool_calls'), {}, ['tool:f(c1) {"a":1}'], 'tool_use'],
    ['a space, reasoning and a call: the thinking block and the call', completion({ content: ' ', reasoning_content: 'r', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, 'tool_calls'), {}, ['thinking[]:r', 'tool:f(c1) {}'], 'tool_use'],
    ['whitespace alone, no call: no block at all', completion({ content: ' \n\t\n' }), {}, [], 'end_turn'],
    ['whitespace in content parts (Mistral)', completion({ content: [{ type: 'text', text: '\n' }, { type: 'text', text: '\n' }], tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '{}' } }] }, 'tool_calls'), {}, ['tool:f(c1) {}'], 'tool_use'],
    ['whitespace after </think> (quirks.think_tags)', completion({ content: '<think>plan</think>\n\n', tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '{}' } }] }, 'tool_calls'), { think_tags: true }, ['thinking[]:plan', 'tool:f(c1) {}'], 'tool_use'],
    ['whitespace around words is text: kept exactly', completion({ content: '\n\nSure.\n', tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '{}' } }] }, 'tool_calls'), {}, ['text:\n\nSure.\n', 'tool:f(c1) {}'], 'tool_use'],
  ] as const)('whitespace-only content: %s', (_name, body, q, want, stop) => {
    const msg = convert(body, q);
    expect(blocks(msg)).toEqual([...want]);
    expect(msg.stop_reason).toBe(stop);
  });

  test.each([
    ['stop', false, 'end_turn'],
    ['length', false, 'max_tokens'],
    ['tool_calls', true, 'tool_use'],
    ['function_call', true, 'tool_use'],
    ['content_filter', false, 'refusal'],
    ['model_length', false, 'model_context_window_exceeded'],
    ['stop', true, 'tool_use'], // tool calls with finish_reason "stop" (several providers)
    ['tool_calls', false, 'end_turn'], // a call announced and not made (jasonxu114514/opencode2api#27)
    [null, false, 'end_turn'],
    ['eos', false, 'end_turn'],
  ] as const)('finish_reason %p (tool calls: %p) → %p', (finish, withTools, want) => {
    const message = withTools ? { content: null, tool_calls: [{ id: 'c', function: { name: 'f', arguments: '{}' } }] } : { content: 'x' };
    expect(convert(completion(message, finish)).stop_reason).toBe(want);
  });

  test('vLLM stop_reason string → stop_sequence', () => {
    const body = completion({ content: 'x' }, 'stop');
    (body.choices[0] as Record<string, unknown>).stop_reason = 'END';
    const msg = convert(body);
    expect([msg.stop_reason, msg.stop_sequence]).toEqual(['stop_sequence', 'END']);
  });

  test.each([
    // OpenRouter's choice may carry `error` with finish_reason "error" (the model finished the request with an error)
    ['error', { error: { code: 502, message: 'Provider disconnected' } }, 502, 'api_error', 'Provider disconnected'],
    ['error', {}, 502, 'api_error', 'upstream ended the answer with finish_reason "error"'],
    // DeepSeek: generation interrupted for want of inference resources
    ['insufficient_system_resource', {}, 529, 'overloaded_error', 'upstream ended the answer with finish_reason "insufficient_system_resource"'],
  ] as const)('finish_reason %p %p: an error (%p %p), not a partial answer that looks whole', (finish, extra, status, type, message) => {
    const body = completion({ content: 'partial' }, finish);
    Object.assign(body.choices[0]!, extra);
    let err: unknown;
    try { convert(body); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(status);
    expect((err as GatewayError).type).toBe(type);
    expect((err as GatewayError).message).toBe(message);
  });

  test('one id for several calls (Xinference): each tool_use gets its own, the first keeps it', () => {
    const call = (name: string) => ({ id: 'call_same', type: 'function', function: { name, arguments: '{}' } });
    const msg = convert(completion({ content: null, tool_calls: [call('f'), call('g'), call('h')] }, 'tool_calls'));
    const ids = msg.content.map((b) => (b as { id: string }).id);
    expect(ids[0]).toBe('call_same');
    expect(new Set(ids).size).toBe(3);
    for (const id of ids.slice(1)) expect(id).toMatch(/^toolu_[A-Za-z0-9]{24}$/);
  });

  test('ids numbered per answer (call_0 again): a call whose id the history holds gets a fresh one', () => {
    const call = (id: string) => ({ id, type: 'function', function: { name: 'f', arguments: '{}' } });
    const msg = convert(completion({ content: null, tool_calls: [call('call_0'), call('call_1')] }, 'tool_calls'), {}, makeCtx({ historyToolIds: ['call_0'] }));
    const ids = msg.content.map((b) => (b as { id: string }).id);
    expect(ids[0]).toMatch(/^toolu_[A-Za-z0-9]{24}$/);
    expect(ids[1]).toBe('call_1');
  });

  test('stop tables: every stop_reason has a finish_reason, and every finish_reason maps back', () => {
    for (const [finish, stop] of Object.entries(CHAT_FINISH_TO_STOP_REASON)) {
      expect(Object.keys(STOP_REASON_TO_CHAT_FINISH)).toContain(stop);
      if (finish !== 'function_call' && finish !== 'model_length') expect(STOP_REASON_TO_CHAT_FINISH[stop]).toBe(finish as never);
    }
  });

  test.each([
    ['plain', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }, { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0 }],
    ['OpenAI cached_tokens', { prompt_tokens: 1000, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 900 } }, { input_tokens: 100, output_tokens: 5, cache_read_input_tokens: 900 }],
    ['DeepSeek prompt_cache_hit_tokens', { prompt_tokens: 563, completion_tokens: 116, prompt_cache_hit_tokens: 512, prompt_cache_miss_tokens: 51 }, { input_tokens: 51, output_tokens: 116, cache_read_input_tokens: 512 }],
    ['Hugging Face top-level cached_tokens', { prompt_tokens: 40, completion_tokens: 1, cached_tokens: 30 }, { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 30 }],
    ['OpenRouter cache_write_tokens', { prompt_tokens: 100, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 10, cache_write_tokens: 60 } }, { input_tokens: 30, output_tokens: 1, cache_read_input_tokens: 10, cache_creation_input_tokens: 60 }],
    ['reasoning outside completion_tokens (xAI, Gemini)', { prompt_tokens: 35, completion_tokens: 12, total_tokens: 109 }, { input_tokens: 35, output_tokens: 74, cache_read_input_tokens: 0 }],
    ['missing fields', {}, { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0 }],
  ] as const)('usage: %s', (_name, usage, want) => {
    expect(usageToHub(usage)).toEqual(want);
  });

  test('no usage: the local input estimate', () => {
    expect(convert(completion({ content: 'x' })).usage).toEqual({ input_tokens: 77, output_tokens: 1 });
  });

  test('n>1: the first choice, and a note', () => {
    const ctx = makeCtx();
    const body = completion({ content: 'zero' });
    (body.choices as unknown[]).push({ index: 1, message: { role: 'assistant', content: 'one' }, finish_reason: 'stop' });
    expect(blocks(convert(body, {}, ctx))).toEqual(['text:zero']);
    expect(ctx.dropped).toEqual(['choices 1+ (only the first choice is returned)']);
  });

  test.each([
    ['error object in a 200 body', { error: { message: 'Provider returned error', code: 429 } }, 429, 'rate_limit_error'],
    ['error in a 200 body without a status', { error: { message: 'boom' } }, 502, 'api_error'],
    ['no choices', { id: 'x', choices: [] }, 502, 'api_error'],
    ['not an object', 'oops', 502, 'api_error'],
  ] as const)('%s → GatewayError', (_name, body, status, type) => {
    let err: unknown;
    try { convert(body); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(GatewayError);
    expect([(err as GatewayError).status, (err as GatewayError).type]).toEqual([status, type]);
  });

  test('parseToolArguments', () => {
    expect(parseToolArguments(' ')).toEqual({});
    expect(parseToolArguments('{"a":[1]}')).toEqual({ a: [1] });
    expect(parseToolArguments('"str"')).toEqual({ _raw: '"str"' });
    // encoded twice (vllm-project/vllm#54964): the object; a string of anything else stays raw
    expect(parseToolArguments(JSON.stringify('{"a":1}'))).toEqual({ a: 1 });
    expect(parseToolArguments(JSON.stringify('[1]'))).toEqual({ _raw: '"[1]"' });
    expect(parseToolArguments(JSON.stringify('{oops'))).toEqual({ _raw: '"{oops"' });
    // raw line breaks inside strings (some models): the object, as a stream reads it; anything else stays raw
    expect(parseToolArguments('{"content":"a\nb"}')).toEqual({ content: 'a\nb' });
    expect(parseToolArguments('{"a":1}{"a":1}')).toEqual({ _raw: '{"a":1}{"a":1}' });
  });

  test('ThinkTagSplitter: one character at a time gives the same split', () => {
    const s = new ThinkTagSplitter();
    const out = [...'  <think>a<b</think>\n\nc<think>d'].flatMap((ch) => s.push(ch)).concat(s.end());
    const joined = (kind: string) => out.filter((x) => x.kind === kind).map((x) => x.text).join('');
    expect(joined('thinking')).toBe('a<b');
    expect(joined('text')).toBe('c<think>d');
  });
});

describe('upstream errors', () => {
  const ERRORS = [...listFixtures('openai-chat'), ...listFixtures('openai-compatible')].filter((f) => /\/error-\d{3}-[^/]+\.json$/.test(f));

  test.each(ERRORS)('%s', (file) => {
    const status = Number(/error-(\d{3})-/.exec(file)![1]);
    const body = JSON.parse(readFixture(file));
    const err = chatErrorToGateway(status, body);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err.status).toBe(status);
    expect(err.type).toBe(({ 400: 'invalid_request_error', 404: 'not_found_error', 429: 'rate_limit_error' } as Record<number, string>)[status] as never);
    expect(err.message).toContain(body.error.message);
  });

  test.each([
    [400, 'invalid_request_error'], [401, 'authentication_error'], [403, 'permission_error'], [404, 'not_found_error'],
    [413, 'request_too_large'], [429, 'rate_limit_error'], [500, 'api_error'], [502, 'api_error'], [503, 'overloaded_error'],
    [504, 'timeout_error'], [529, 'overloaded_error'], [422, 'invalid_request_error'],
  ] as const)('HTTP %i → %s', (status, type) => {
    expect(chatErrorToGateway(status, { error: { message: 'm' } }).type).toBe(type);
  });

  test.each([
    ['OpenAI', { error: { message: 'bad', type: 'invalid_request_error', param: 'max_tokens', code: 'unsupported_parameter' } }, 'bad', 'unsupported_parameter', 'max_tokens'],
    ['OpenRouter metadata.raw appended', { error: { code: 429, message: 'Provider returned error', metadata: { raw: 'rate-limited upstream' } } }, 'Provider returned error: rate-limited upstream', null, null],
    ['vLLM top-level message', { object: 'error', message: 'model not found', type: 'NotFoundError' }, 'model not found', null, null],
    ['FastAPI detail', { detail: 'Not Found' }, 'Not Found', null, null],
    ['FastAPI validation list', { detail: [{ type: 'missing', loc: ['body', 'messages'], msg: 'Field required' }, { type: 'extra_forbidden', loc: ['body', 'store'], msg: 'Extra inputs are not permitted' }] }, 'messages: Field required; store: Extra inputs are not permitted', null, null],
    // Mistral's 422 (editor-code-assistant/eca#231)
    ['Mistral validation error', { object: 'error', message: { detail: [{ type: 'extra_forbidden', loc: ['body', 'max_completion_tokens'], msg: 'Extra inputs are not permitted', input: 32000 }] }, type: 'invalid_request_error', param: null, code: null }, 'max_completion_tokens: Extra inputs are not permitted', null, null],
    // Gemini's OpenAI-compatible endpoint (n4ze3m/page-assist#406)
    ['a list of one (Gemini)', [{ error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } }], 'Resource has been exhausted (e.g. check quota).', null, null],
    ['string error', { error: 'upstream down' }, 'upstream down', null, null],
    ['plain text body', 'Bad Gateway', 'Bad Gateway', null, null],
    ['empty body', undefined, 'upstream returned HTTP 418', null, null],
  ] as const)('message from %s', (_name, body, message, code, param) => {
    const err = chatErrorToGateway(418, body);
    expect([err.message, err.code, err.param]).toEqual([message, code, param]);
  });

  test('keys never leak into messages', () => {
    const err = chatErrorToGateway(401, { error: { message: 'Incorrect API key provided: sk-proj-abcdefghijklmnop1234. Authorization: Bearer sk-or-v1-0123456789abcdef' } });
    expect(err.type).toBe('authentication_error');
    expect(err.message).not.toContain('abcdefghijklmnop1234');
    expect(err.message).not.toContain('0123456789abcdef');
    expect(redactSecrets('https://x/v1beta?key=AIzaSyA-secret-secret-secret&alt=sse')).toBe('https://x/v1beta?key=[redacted]&alt=sse');
    expect(redactSecrets('gsk_abcdefghijklmnopqrstuvwxyz and xai-ABCDEFGHIJKLMNOP')).toBe('[redacted] and [redacted]');
  });

  test('an error code inside a 200 picks the status', () => {
    expect(chatErrorToGateway(200, { error: { message: 'x', status_code: 400, type: 'invalid_request_error' } }).status).toBe(400);
    expect(chatErrorToGateway(200, { error: { message: 'x', code: 'rate_limit_exceeded' } }).status).toBe(502);
  });
});

describe('ids', () => {
  test('message and tool-use ids: the prefix and 24 letters or digits, all distinct across many refills of the random pool', () => {
    const ids = new Set<string>();
    const chars = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const m = newMessageId();
      const t = newToolUseId();
      expect(m).toMatch(/^msg_[A-Za-z0-9]{24}$/);
      expect(t).toMatch(/^toolu_[A-Za-z0-9]{24}$/);
      ids.add(m.slice(4)).add(t.slice(6));
      for (const c of m.slice(4)) chars.add(c);
    }
    expect(ids.size).toBe(10000);
    expect(chars.size).toBe(62);
  });
});
