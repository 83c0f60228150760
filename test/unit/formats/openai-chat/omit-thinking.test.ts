import { describe, expect, test } from 'bun:test';
import { chatChunksToHubEvents } from '../../../../src/formats/openai-chat/stream-to-hub.ts';
import { chatResponseToHub, reasoningKeptIn } from '../../../../src/formats/openai-chat/response-to-hub.ts';
import { resolveQuirks } from '../../../../src/channels/openai/presets.ts';
import { sseDecoder } from '../../../../src/sse/decode.ts';
import type { TranslateContext } from '../../../../src/formats/types.ts';
import type { RawMessageStreamEvent } from '../../../../src/hub/types.ts';
import { fixtureSseBody, readFixture } from '../../../helpers/fixtures.ts';

const ctx = (omitThinking: boolean): TranslateContext => ({ requestedModel: 'claude-sonnet-5-5', upstreamModel: 'deepseek-reasoner', dropped: [], estimatedInputTokens: 10, defaultMaxTokens: 4096, thinkingStyle: 'adaptive', omitThinking });

async function events(omit: boolean): Promise<RawMessageStreamEvent[]> {
  const out: RawMessageStreamEvent[] = [];
  await new Response(fixtureSseBody('openai-compatible/deepseek/stream-reasoning.sse')).body!
    .pipeThrough(sseDecoder()).pipeThrough(chatChunksToHubEvents(ctx(omit), resolveQuirks('deepseek', undefined)))
    .pipeTo(new WritableStream({ write: (e) => void out.push(e) }));
  return out;
}

describe('thinking.display "omitted"', () => {
  test('stream: the thinking block stays (with its signature) but carries no text', async () => {
    const shown = await events(false);
    const hidden = await events(true);
    const thinkingDeltas = (es: RawMessageStreamEvent[]) => es.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'thinking_delta').length;
    expect(thinkingDeltas(shown)).toBeGreaterThan(0);
    expect(thinkingDeltas(hidden)).toBe(0);
    const starts = (es: RawMessageStreamEvent[]) => es.filter((e) => e.type === 'content_block_start').map((e) => (e as any).content_block.type);
    expect(starts(hidden)).toEqual(starts(shown));
    // DeepSeek needs its reasoning back in later turns: the signature carries it
    const signatures = hidden.flatMap((e) => (e.type === 'content_block_delta' && e.delta.type === 'signature_delta' ? [e.delta.signature] : []));
    const thinking = shown.map((e) => (e.type === 'content_block_delta' && e.delta.type === 'thinking_delta' ? e.delta.thinking : '')).join('');
    expect(signatures.map(reasoningKeptIn)).toEqual([thinking]);
    const text = (es: RawMessageStreamEvent[]) => es.map((e) => (e.type === 'content_block_delta' && e.delta.type === 'text_delta' ? e.delta.text : '')).join('');
    expect(text(hidden)).toBe(text(shown));
  });
  test('JSON: empty thinking text', () => {
    const body = JSON.parse(readFixture('openai-compatible/deepseek/response-reasoning.json'));
    const shown = chatResponseToHub(body, ctx(false), resolveQuirks('deepseek', undefined));
    const hidden = chatResponseToHub(body, ctx(true), resolveQuirks('deepseek', undefined));
    expect((shown.content[0] as any).thinking.length).toBeGreaterThan(0);
    expect(hidden.content[0]).toMatchObject({ type: 'thinking', thinking: '' });
    expect(reasoningKeptIn((hidden.content[0] as any).signature)).toBe((shown.content[0] as any).thinking);
    expect(hidden.content.slice(1)).toEqual(shown.content.slice(1));
    // a provider that needs nothing back: the signature is the provider's (none), not the text
    const other = chatResponseToHub(body, ctx(true), resolveQuirks('openrouter', undefined));
    expect(other.content[0]).toEqual({ type: 'thinking', thinking: '', signature: (shown.content[0] as any).signature });
  });
});
