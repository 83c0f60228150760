/**
 * @module http/routes/models
 * GET /v1/models in one shape both official SDKs parse: Anthropic's page (`data[].type/id/display_name/
 * created_at`, `has_more`, `first_id`, `last_id`) merged with OpenAI's list (`object: "list"`,
 * `data[].object/created/owned_by`). Only the models the caller's key may use are listed; names served only by a
 * pattern (`claude-*`) cannot be listed, but /v1/models/{id} finds them as a request for them would.
 * Anthropic's page parameters (`limit`, `after_id`, `before_id`) are honoured; without `limit` the page holds every
 * model, for the OpenAI SDK reads one page only.
 */
import type { Context } from 'hono';
import { GatewayError, invalidRequest } from '../../errors.ts';
import { MAX_MODEL_LENGTH } from '../../hub/schema.ts';
import type { AppDeps, Exchange } from '../context.ts';

const CREATED = '2025-01-01T00:00:00Z';

function entry(id: string, channels: string[]) {
  return {
    type: 'model', id, display_name: id, created_at: CREATED,
    object: 'model', created: Date.parse(CREATED) / 1000, owned_by: channels.join(','),
  };
}

export function listModels(deps: AppDeps) {
  return function listModelsHandler(x: Exchange) {
    const allowed = x.principal?.models ?? null;
    const all = deps.table.exposedModels().filter((m) => !allowed || allowed.has(m.id)).map((m) => entry(m.id, m.channels));
    const { data, has_more } = page(all, x.req.url);
    return Response.json({ object: 'list', data, has_more, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
  };
}

/**
 * One page of the list, as Anthropic's `limit` (1–1000), `after_id` and `before_id` ask (the SDK's auto-pagination
 * sends `after_id`, or `before_id` when the first call had it); a cursor that names no listed model gives an empty page.
 */
function page<T extends { id: string }>(all: T[], url: string): { data: T[]; has_more: boolean } {
  const q = url.indexOf('?');
  if (q < 0) return { data: all, has_more: false };
  const params = new URLSearchParams(url.slice(q));
  const rawLimit = params.get('limit');
  const limit = rawLimit === null ? Infinity : Number(rawLimit);
  if (rawLimit !== null && (!/^\d+$/.test(rawLimit) || limit < 1 || limit > 1000)) {
    throw invalidRequest(`must be an integer from 1 to 1000, got ${JSON.stringify(rawLimit.slice(0, 40))}`, 'limit');
  }
  const before = params.get('before_id');
  const after = params.get('after_id');
  if (before !== null) {
    const end = all.findIndex((m) => m.id === before);
    const start = end < 0 ? 0 : Math.max(0, end - limit);
    return { data: end < 0 ? [] : all.slice(start, end), has_more: start > 0 };
  }
  const start = after === null ? 0 : all.findIndex((m) => m.id === after) + 1;
  if (after !== null && start === 0) return { data: [], has_more: false };
  const data = all.slice(start, start + limit);
  return { data, has_more: start + data.length < all.length };
}

export function getModel(deps: AppDeps) {
  return function getModelHandler(x: Exchange, c?: Context) {
    const id = c?.req.param('id') ?? '';
    const allowed = x.principal?.models ?? null;
    // what a request for it would be routed to: a name only a pattern serves (`claude-*`) is found too
    // a name no request may use (hub/schema.ts) is not one the table serves, whatever a pattern matches
    const channels = id.length > MAX_MODEL_LENGTH ? [] : [...new Set(deps.table.routes(id).map((r) => r.channel.name))];
    if (channels.length === 0 || (allowed && !allowed.has(id))) throw new GatewayError(404, 'not_found_error', `model: model "${id}" not found`, { code: 'model_not_found' });
    return Response.json(entry(id, channels));
  };
}
