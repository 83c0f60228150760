import { expect, test } from 'bun:test';
import { anthropicFormat } from '../../../../src/formats/anthropic/index.ts';
import { hubEventsToChatChunks } from '../../../../src/formats/openai-chat/stream-from-hub.ts';
import { sseDecoder } from '../../../../src/sse/decode.ts';
import { stageToTransform, type TranslateContext } from '../../../../src/formats/types.ts';

test('event and delta types newer than the gateway are skipped, not fatal', async () => {
  const ctx: TranslateContext = { requestedModel: 'm', upstreamModel: 'm', dropped: [], estimatedInputTokens: 1, defaultMaxTokens: 1, thinkingStyle: 'none' };
  const body = [
    'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
    'event: brand_new_event\ndata: {"type":"brand_new_event","x":1}\n\n',
    'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"hologram_delta","h":1}}\n\n',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}\n\n',
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}\n\n',
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
  ].join('');
  const out: string[] = [];
  await new Response(body).body!.pipeThrough(sseDecoder()).pipeThrough(stageToTransform(anthropicFormat.streamToHub(ctx, undefined)))
    .pipeThrough(hubEventsToChatChunks(ctx, { includeUsage: false }))
    .pipeTo(new WritableStream({ write: (e) => void out.push(e.data) }));
  expect(out.at(-1)).toBe('[DONE]');
  const content = out.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('');
  expect(content).toBe('hi');
  expect(out.some((d) => d.includes('"finish_reason":"stop"'))).toBe(true);
});
