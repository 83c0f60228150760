/**
 * @module http/routes/models
 * GET /v1/models in one shape both official SDKs parse: Anthropic's page (`data[].type/id/display_name/
 * created_at`, `has_more`, `first_id`, `last_id`) merged with OpenAI's list (`object: "list"`,
 * `data[].object/created/owned_by`). Only the models the caller's key may use are listed; names served only by a
 * pattern (`claude-*`) cannot be listed, but /v1/models/{id} finds them as a request for them would.
 */
import type { Context } from 'hono';
import { GatewayError } from '../../errors.ts';
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
    const data = deps.table.exposedModels().filter((m) => !allowed || allowed.has(m.id)).map((m) => entry(m.id, m.channels));
    return Response.json({ object: 'list', data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
  };
}

export function getModel(deps: AppDeps) {
  return function getModelHandler(x: Exchange, c?: Context) {
    const id = c?.req.param('id') ?? '';
    const allowed = x.principal?.models ?? null;
    // what a request for it would be routed to: a name only a pattern serves (`claude-*`) is found too
    // a name no request may use (hub/schema.ts) is not one the table serves, whatever a pattern matches
    const channels = id.length > MAX_MODEL_LENGTH ? [] : [...new Set(deps.table.routes(id).map((r) => r.channel.name))];
    if (channels.length === 0 || (allowed && !allowed.has(id))) throw new GatewayError(404, 'not_found_error', `model: model "${id}" not found`);
    return Response.json(entry(id, channels));
  };
}
