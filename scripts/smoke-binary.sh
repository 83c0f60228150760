#!/usr/bin/env bash
# Smoke-test a compiled Switchboard: start it with no Bun and no node_modules on PATH, from a directory holding
# a hostile .env and bunfig.toml, send one request through a mock upstream, shut it down cleanly.
set -euo pipefail
BIN=$(realpath "$1")
BUN=$(realpath node_modules/.bin/bun)
work=$(mktemp -d)
trap 'kill $gw $up 2>/dev/null || true; rm -rf "$work"' EXIT

# a mock Anthropic upstream (the only Bun process here)
cat > "$work/upstream.ts" <<'TS'
const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: async (req) => {
  const body = await req.json();
  return Response.json({ id: 'msg_smoke', type: 'message', role: 'assistant', model: body.model,
    content: [{ type: 'text', text: `smoke ok, key=${req.headers.get('x-api-key')}` }], stop_reason: 'end_turn', stop_sequence: null,
    usage: { input_tokens: 3, output_tokens: 2 } });
} });
console.log(s.port);
TS
"$BUN" "$work/upstream.ts" > "$work/upstream.port" &
up=$!
for _ in $(seq 50); do [ -s "$work/upstream.port" ] && break; sleep 0.1; done
UP_PORT=$(cat "$work/upstream.port")

mkdir "$work/run"
cat > "$work/run/config.yaml" <<YAML
keys:
  - { key: sk-smoke-test-key, name: smoke }
channels:
  - name: mock
    type: anthropic
    base_url: http://127.0.0.1:${UP_PORT}
    api_key: \${SMOKE_UPSTREAM_KEY}
    models: [claude-smoke]
YAML
# these must be ignored by the binary
echo 'SMOKE_UPSTREAM_KEY=from-dotenv' > "$work/run/.env"
printf '[serve]\nport = 1\n' > "$work/run/bunfig.toml"

cd "$work/run"
start=$(date +%s%N)
env -i PATH=/usr/bin:/bin SMOKE_UPSTREAM_KEY=from-env "$BIN" --config config.yaml --port 0 > "$work/gw.log" 2>&1 &
gw=$!
url=""
for _ in $(seq 100); do
  url=$(grep -o '"url":"[^"]*"' "$work/gw.log" | head -1 | cut -d'"' -f4 || true)
  [ -n "$url" ] && break; sleep 0.05
done
[ -n "$url" ] || { echo "binary did not start"; cat "$work/gw.log"; exit 1; }
resp=$(curl -sS -X POST "${url}v1/messages" -H 'x-api-key: sk-smoke-test-key' -H 'content-type: application/json' \
  -d '{"model":"claude-smoke","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}')
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
# started with an empty environment: the binary restarted itself with the engine's settings (src/engine.ts)
for setting in '"upstream_concurrency":4096' '"heap_budget_mb":16'; do
  grep -q "$setting" "$work/gw.log" || { echo "engine settings not in force: $setting"; cat "$work/gw.log"; exit 1; }
done
# the listen queue set through bun:ffi, which the compiled binary must carry (src/http/listen-backlog.ts; Linux)
if [ "$(uname -s)" = Linux ]; then
  grep -q '"listen_backlog":4096' "$work/gw.log" || { echo "listen backlog not set"; cat "$work/gw.log"; exit 1; }
fi
echo "$resp" | grep -q 'smoke ok, key=from-env' || { echo "unexpected response: $resp"; cat "$work/gw.log"; exit 1; }
kill -TERM $gw
wait $gw && code=0 || code=$?
[ "$code" = 0 ] || { echo "binary exited $code on SIGTERM"; cat "$work/gw.log"; exit 1; }
grep -q '"msg":"stopped"' "$work/gw.log" || { echo "no clean stop logged"; cat "$work/gw.log"; exit 1; }
echo "smoke: binary $(du -h "$BIN" | cut -f1) answered through the mock upstream (${ready_ms} ms from start, incl. request), shut down cleanly"
