/**
 * @module channels/openai/transport
 * How to reach each provider (not how to translate for it: that is presets.ts): public base URL,
 * credential header, API version. A channel's `base_url` / `api_version` override these.
 */
export interface Transport {
  base_url?: string;
  /** `authorization: Bearer <key>` (default) or Azure's `api-key: <key>`. */
  auth: 'bearer' | 'api-key';
  api_version?: string;
}

export const TRANSPORT: Record<string, Transport> = {
  openai: { base_url: 'https://api.openai.com/v1', auth: 'bearer' },
  // base_url: https://RESOURCE.openai.azure.com/openai/deployments/{model}  ({model} = the upstream model/deployment)
  // or the v1 API: https://RESOURCE.openai.azure.com/openai/v1 with api_version unset.
  // The reasoning deployments the preset is shaped for (max_completion_tokens, reasoning_effort) are served on recent
  // versions only: o3, o4-mini on 2025-04-01-preview, o3-mini and o1 from 2024-12-01-preview; on the GA 2024-10-21 Azure
  // refuses them ("Model o3-mini is enabled only for api versions 2024-12-01-preview and later"). MicrosoftDocs
  // azure-ai-docs, articles/ai-foundry/openai/how-to/reasoning.md, "API & feature support"
  azure: { auth: 'api-key', api_version: '2025-04-01-preview' },
  deepseek: { base_url: 'https://api.deepseek.com/v1', auth: 'bearer' },
  openrouter: { base_url: 'https://openrouter.ai/api/v1', auth: 'bearer' },
  groq: { base_url: 'https://api.groq.com/openai/v1', auth: 'bearer' },
  mistral: { base_url: 'https://api.mistral.ai/v1', auth: 'bearer' },
  xai: { base_url: 'https://api.x.ai/v1', auth: 'bearer' },
  gemini: { base_url: 'https://generativelanguage.googleapis.com/v1beta/openai', auth: 'bearer' },
  zai: { base_url: 'https://api.z.ai/api/paas/v4', auth: 'bearer' },
  cerebras: { base_url: 'https://api.cerebras.ai/v1', auth: 'bearer' },
  huggingface: { base_url: 'https://router.huggingface.co/v1', auth: 'bearer' },
  // the international endpoint; mainland China accounts use https://api.moonshot.cn/v1
  moonshot: { base_url: 'https://api.moonshot.ai/v1', auth: 'bearer' },
  // the international (Singapore) endpoint; mainland China accounts use https://dashscope.aliyuncs.com/compatible-mode/v1
  dashscope: { base_url: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1', auth: 'bearer' },
  ollama: { base_url: 'http://127.0.0.1:11434/v1', auth: 'bearer' },
  vllm: { base_url: 'http://127.0.0.1:8000/v1', auth: 'bearer' },
  'llama.cpp': { base_url: 'http://127.0.0.1:8080/v1', auth: 'bearer' },
};
