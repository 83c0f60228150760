/**
 * @module hub/types
 * The internal contract: Anthropic Messages shapes, named as the Anthropic SDK names them
 * (plain names for responses, `…Param` for request shapes, `Raw…Event` for stream events).
 * Deliberately loose: every object may carry fields we do not know yet, and they must survive.
 */

/** `system` inside `messages`: Claude Code 2.1.332 sends mid-conversation system turns (environment notes). */
export type Role = 'user' | 'assistant' | 'system';

export interface CacheControl { type: 'ephemeral'; ttl?: string }

export interface TextBlockParam { type: 'text'; text: string; cache_control?: CacheControl | null; citations?: unknown[] | null; [k: string]: unknown }
export interface Base64Source { type: 'base64'; media_type: string; data: string }
export interface UrlSource { type: 'url'; url: string }
export interface TextSource { type: 'text'; media_type: 'text/plain'; data: string }
export interface ContentSource { type: 'content'; content: string | TextBlockParam[] }
export interface ImageBlockParam { type: 'image'; source: Base64Source | UrlSource | { type: string; [k: string]: unknown }; cache_control?: CacheControl | null; [k: string]: unknown }
export interface DocumentBlockParam {
  type: 'document';
  source: Base64Source | UrlSource | TextSource | ContentSource | { type: string; [k: string]: unknown };
  title?: string | null; context?: string | null; cache_control?: CacheControl | null; [k: string]: unknown;
}
export interface ToolUseBlockParam { type: 'tool_use'; id: string; name: string; input: unknown; cache_control?: CacheControl | null; [k: string]: unknown }
export interface ToolResultBlockParam {
  type: 'tool_result'; tool_use_id: string;
  content?: string | Array<TextBlockParam | ImageBlockParam | DocumentBlockParam | { type: string; [k: string]: unknown }>;
  is_error?: boolean; cache_control?: CacheControl | null; [k: string]: unknown;
}
export interface ThinkingBlockParam { type: 'thinking'; thinking: string; signature: string; [k: string]: unknown }
export interface RedactedThinkingBlockParam { type: 'redacted_thinking'; data: string; [k: string]: unknown }
/** Any block type this gateway does not model (server tool blocks, search results, future types). */
export interface OtherBlockParam { type: string; [k: string]: unknown }

export type ContentBlockParam =
  | TextBlockParam | ImageBlockParam | DocumentBlockParam | ToolUseBlockParam | ToolResultBlockParam
  | ThinkingBlockParam | RedactedThinkingBlockParam;

export interface MessageParam { role: Role; content: string | Array<ContentBlockParam | OtherBlockParam> }

export interface Tool { name: string; description?: string; input_schema: Record<string, unknown>; type?: 'custom'; defer_loading?: boolean; cache_control?: CacheControl | null; [k: string]: unknown }
/** Server tools (web_search_20250305, code_execution_…, …): `type` set, no `input_schema`; toolsets (`mcp_toolset`) have no `name`. */
export interface ServerTool { type: string; name?: string; [k: string]: unknown }

export type ToolChoice =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

export type ThinkingConfigParam =
  | { type: 'enabled'; budget_tokens: number; display?: 'summarized' | 'omitted' | string }
  | { type: 'adaptive'; display?: 'summarized' | 'omitted' | string }
  | { type: 'disabled' };

export type Effort = 'low' | 'medium' | 'high' | 'xhigh' | 'max';

export interface OutputConfig { effort?: Effort | string; format?: { type: 'json_schema'; schema: Record<string, unknown>; [k: string]: unknown } | null; [k: string]: unknown }

export interface MessageCreateParams {
  model: string;
  messages: MessageParam[];
  max_tokens: number;
  system?: string | TextBlockParam[];
  tools?: Array<Tool | ServerTool>;
  tool_choice?: ToolChoice;
  thinking?: ThinkingConfigParam;
  output_config?: OutputConfig;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  metadata?: { user_id?: string | null; [k: string]: unknown };
  stream?: boolean;
  [k: string]: unknown;
}

// ---------- responses ----------

export interface TextBlock { type: 'text'; text: string; citations?: unknown[] | null }
export interface ThinkingBlock { type: 'thinking'; thinking: string; signature: string }
export interface RedactedThinkingBlock { type: 'redacted_thinking'; data: string }
export interface ToolUseBlock { type: 'tool_use'; id: string; name: string; input: unknown }
export interface OtherBlock { type: string; [k: string]: unknown }
export type ContentBlock = TextBlock | ThinkingBlock | RedactedThinkingBlock | ToolUseBlock;

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal' | 'model_context_window_exceeded';

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  [k: string]: unknown;
}

export interface Message {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: Array<ContentBlock | OtherBlock>;
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  usage: Usage;
  [k: string]: unknown;
}

// ---------- stream events ----------

export type TextDelta = { type: 'text_delta'; text: string };
export type InputJsonDelta = { type: 'input_json_delta'; partial_json: string };
export type ThinkingDelta = { type: 'thinking_delta'; thinking: string };
export type SignatureDelta = { type: 'signature_delta'; signature: string };
export type CitationsDelta = { type: 'citations_delta'; citation: unknown };
export type RawContentBlockDelta = TextDelta | InputJsonDelta | ThinkingDelta | SignatureDelta | CitationsDelta;

export interface RawMessageStartEvent { type: 'message_start'; message: Message }
export interface RawContentBlockStartEvent { type: 'content_block_start'; index: number; content_block: ContentBlock | OtherBlock }
export interface RawContentBlockDeltaEvent { type: 'content_block_delta'; index: number; delta: RawContentBlockDelta }
export interface RawContentBlockStopEvent { type: 'content_block_stop'; index: number }
export interface RawMessageDeltaEvent {
  type: 'message_delta';
  delta: { stop_reason: StopReason | null; stop_sequence: string | null; [k: string]: unknown };
  usage: Partial<Usage> & { output_tokens: number };
}
export interface RawMessageStopEvent { type: 'message_stop' }
export interface RawPingEvent { type: 'ping' }
export interface RawErrorEvent { type: 'error'; error: { type: string; message: string } }

export type RawMessageStreamEvent =
  | RawMessageStartEvent | RawContentBlockStartEvent | RawContentBlockDeltaEvent | RawContentBlockStopEvent
  | RawMessageDeltaEvent | RawMessageStopEvent | RawPingEvent | RawErrorEvent;
