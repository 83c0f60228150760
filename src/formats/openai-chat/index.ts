/**
 * @module formats/openai-chat
 * OpenAI Chat Completions ↔ hub. Upstream role (an `openai` channel serving a Messages client):
 * request-from-hub, response-to-hub, stream-to-hub, errors. Inbound role (a Chat Completions client served
 * by an Anthropic channel): request-to-hub, response-from-hub, stream-from-hub, error-body.
 */
import type { GatewayError } from '../../errors.ts';
import type { Format } from '../types.ts';
import type { ChatQuirks } from './quirks.ts';
import { chatToolsFromHub, hubRequestToChat } from './request-from-hub.ts';
import { chatResponseToHub } from './response-to-hub.ts';
import { relayedChatResponseToHub, relayedChatStreamToHub } from './relayed-response-to-hub.ts';
import { chatChunksToHubStage } from './stream-to-hub.ts';
import { chatErrorToGateway } from './errors.ts';
import { chatRequestToHub, chatToolsToHub } from './request-to-hub.ts';
import { hubResponseToChat } from './response-from-hub.ts';
import { hubEventsToChatStage } from './stream-from-hub.ts';
import { chatErrorBody, chatStreamErrorEvent } from './error-body.ts';
import { endsWithEvent, joinedLastEvent, lastEventStart, lineAt } from '../../sse/decode.ts';
import { bufferIndexOf } from '../../util/bytes.ts';

const DONE = new TextEncoder().encode('data: [DONE]');

export const openaiChatFormat: Format<ChatQuirks> = {
  id: 'openai-chat',

  requestToHub(body, ctx) {
    const o = (body ?? {}) as { stream_options?: { include_usage?: unknown } };
    ctx.streamUsage = o.stream_options?.include_usage === true;
    return chatRequestToHub(body, ctx, { defaultMaxTokens: ctx.defaultMaxTokens, thinkingStyle: () => ctx.thinkingStyle });
  },
  toolsToHub: chatToolsToHub,
  toolsFromHub: chatToolsFromHub,
  responseFromHub: (message, ctx) => hubResponseToChat(message, ctx),
  streamFromHub: (ctx) => hubEventsToChatStage(ctx, { includeUsage: ctx.streamUsage ?? false }),
  errorBody: (err: GatewayError) => chatErrorBody(err),
  streamErrorEvent: chatStreamErrorEvent,
  // message content (string or text parts), tool descriptions; image and file data URLs after their `data:…,`
  verbatimText: {
    text: new Set(['content', 'text', 'description']),
    dataUrl: new Set(['url', 'file_data']),
    opaque: new Set(['metadata']),
  },

  requestFromHub: (hub, ctx, quirks) => hubRequestToChat(hub, ctx, quirks),
  responseToHub: (body, ctx, quirks) => chatResponseToHub(body, ctx, quirks),
  relayedResponseToHub: relayedChatResponseToHub,
  relayedStreamToHub: relayedChatStreamToHub,
  streamToHub: (ctx, quirks) => chatChunksToHubStage(ctx, quirks),
  errorToGateway: chatErrorToGateway,
  // usage comes at the end (stream_options.include_usage), if at all: message_start takes the local estimate
  streamStartsWithUsage: false,
  endsStream: (chunk, before) => endsWithEvent(chunk, DONE, before),
  endsWithError,
};

const EVENT_ERROR = new TextEncoder().encode('event: error');
const ERROR_KEY = new TextEncoder().encode('"error"');
const utf8 = new TextDecoder();

/**
 * A chunk whose last event is an error object, after which such a stream sends nothing (OpenAI's, OpenRouter's
 * `{"error": …}` chunk, https://openrouter.ai/docs/api-reference/streaming "Handling Errors During Streaming"; vLLM's
 * `{"object": "error"}`), or Groq's `event: error`: parsed only when the last event holds `"error"`. `before`: the
 * chunk read before, where it may have begun.
 */
function endsWithError(last: Uint8Array, before?: Uint8Array | null): boolean {
  // an event begun in the read before: its start joined to this read
  const chunk = (before && joinedLastEvent(last, before)) || last;
  const at = lastEventStart(chunk);
  if (at < 0) return false;
  if (lineAt(chunk, at, EVENT_ERROR)) return true;
  if (bufferIndexOf.call(chunk, ERROR_KEY, at) < 0) return false;
  const data = /^data: ?(\{.*\})\s*$/m.exec(utf8.decode(chunk.subarray(at)))?.[1];
  if (data === undefined) return false;
  try {
    const o = JSON.parse(data) as { error?: unknown; object?: unknown } | null;
    return !!o && typeof o === 'object' && ((o.error !== undefined && o.error !== null) || o.object === 'error');
  } catch {
    return false;
  }
}
