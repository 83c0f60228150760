/**
 * @module test/e2e/provider-rules
 * Anthropic SDK client → gateway (real HTTP) → `openai` channel with a provider preset → a mock of that provider that
 * ENFORCES one documented rule of it (answering 400/422 the way the provider does when the rule is broken) and
 * otherwise answers with recorded traffic (../shared/fixtures/upstream). Each test is one rule a translated request
 * used to break.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, json, type MockUpstream, type RecordedRequest } from '../helpers/upstream.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { readFixture } from '../helpers/fixtures.ts';
import { mistralRefusal } from '../helpers/mistral-rules.ts';

const KEY = 'sk-gw-provider-rules-1';

/** What each provider answers when a rule is broken, else the recorded answer. */
type Rule = (body: any) => Response | null;

const RULES: Record<string, Rule> = {
  // OpenAI reasoning models (o1, o3, o4-mini, gpt-5…): only the default temperature; top_p is no parameter of theirs
  openai(body) {
    if (!/^(o1|o3|o4|gpt-5)/.test(body.model)) return null;
    if (body.temperature !== undefined && body.temperature !== 1) {
      return json({ error: { message: `Unsupported value: 'temperature' does not support ${body.temperature} with this model. Only the default (1) value is supported.`, type: 'invalid_request_error', param: 'temperature', code: 'unsupported_value' } }, 400);
    }
    if (body.top_p !== undefined) {
      return json({ error: { message: "Unsupported parameter: 'top_p' is not supported with this model.", type: 'invalid_request_error', param: 'top_p', code: 'unsupported_parameter' } }, 400);
    }
    return null;
  },
  // Mistral: the checks of mistral-common's request validator (message order, last role, tool-call ids and answers)
  mistral: mistralRefusal,
};

const RECORDED: Record<string, string> = {
  openai: 'openai-chat/response-o3-mini-reasoning-tokens.json',
  mistral: 'openai-chat/response-text.json',
};

let upstream: MockUpstream;
let gw: TestGateway;
let client: Anthropic;

beforeAll(() => {
  upstream = startMockUpstream((r: RecordedRequest) => {
    const provider = r.path.split('/')[1]!;
    return RULES[provider]?.(r.json) ?? json(JSON.parse(readFixture(RECORDED[provider]!)));
  });
  gw = startGateway({
    keys: [{ key: KEY, name: 'rules' }],
    routing: { circuit_failures: 1000 },
    channels: [
      { name: 'mistral', type: 'openai', provider: 'mistral', base_url: `${upstream.url}/mistral`, api_key: 'sk-up', models: { 'claude-opus-5-5': 'mistral-large-latest' } },
      { name: 'openai', type: 'openai', provider: 'openai', base_url: `${upstream.url}/openai`, api_key: 'sk-up', models: { 'claude-sonnet-5-5': 'o3', 'claude-haiku-5-5': 'gpt-4.1-mini' } },
    ],
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => { await gw.stop(); await upstream.stop(); });

describe('OpenAI reasoning models', () => {
  test('temperature and top_p (the Anthropic SDK still sends them) are left out for o3 and reported; gpt-4.1 still gets them', async () => {
    const params = { max_tokens: 200, temperature: 0.3, top_p: 0.9, messages: [{ role: 'user' as const, content: 'hi' }] };
    const res = await client.messages.create({ ...params, model: 'claude-sonnet-5-5' } as Anthropic.MessageCreateParamsNonStreaming).withResponse();
    expect(res.data.content[0]).toMatchObject({ type: 'text' });
    expect(res.response.headers.get('x-switchboard-dropped')).toBe('temperature (o3 takes only its default), top_p (o3 takes only its default)');
    const sent = upstream.requests.at(-1)!.json;
    expect(sent.temperature).toBeUndefined();
    expect(sent.top_p).toBeUndefined();

    await client.messages.create({ ...params, model: 'claude-haiku-5-5' } as Anthropic.MessageCreateParamsNonStreaming);
    expect(upstream.requests.at(-1)!.json).toMatchObject({ model: 'gpt-4.1-mini', temperature: 0.3, top_p: 0.9 });
  });
});

describe('Mistral', () => {
  test('a prefilled answer (the conversation ends with an assistant turn) is continued, not refused', async () => {
    const res = await client.messages.create({
      model: 'claude-opus-5-5', max_tokens: 50,
      messages: [{ role: 'user', content: 'Give me JSON.' }, { role: 'assistant', content: '{"answer":' }],
    });
    expect(res.content[0]).toMatchObject({ type: 'text' });
    expect(upstream.requests.at(-1)!.json.messages.at(-1)).toEqual({ role: 'assistant', content: '{"answer":', prefix: true });
  });
});
