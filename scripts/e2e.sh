#!/usr/bin/env bash
# End to end on a real Prefect server: PostgreSQL store, `prefect server start`, `prefect deploy --all`,
# a process worker, the sandbox on loopback; run demo-activate then demo-orders through
# `prefect deployment run`, then assert on the server's deployments, the sandbox and the store.
# Every process it starts is stopped by its pid. Needs: .venv installed; HGSYNC_TEST_POSTGRES_URL
# (a throwaway database) or it starts its own PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/.venv/bin
export PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_WORKER_QUERY_SECONDS=2 PREFECT_CLI_PROMPT=false

work=$(mktemp -d /tmp/hgsync-e2e.XXXXXX)
pids=()
own_pg=""
cleanup() {
  for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 20); do  # up to 10 s to stop cleanly, then force
    alive=0; for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.5
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  [ -n "$own_pg" ] && scripts/pg-throwaway.sh stop "$own_pg"
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { "$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
say() { echo "e2e [$(date +%H:%M:%S)]: $*"; }
wait_http() {  # url seconds
  for _ in $(seq 1 "$2"); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 1; done
  say "$1 did not answer in $2 s" >&2; return 1
}

if [ -z "${HGSYNC_TEST_POSTGRES_URL:-}" ]; then
  own_pg="$work/pg"
  HGSYNC_TEST_POSTGRES_URL=$(scripts/pg-throwaway.sh start "$own_pg" "$(free_port)")
fi
export HGSYNC_DATABASE_URL=$HGSYNC_TEST_POSTGRES_URL HGSYNC_HOME=$work/home HGSYNC_KEEP_DATABASE_URL=1
"$BIN/python" -c "
from sqlmodel import SQLModel; from store.db import get_engine
engine = get_engine(); SQLModel.metadata.drop_all(engine); SQLModel.metadata.create_all(engine)"
say "store on PostgreSQL"

export PREFECT_HOME=$work/prefect
prefect_port=$(free_port)
export PREFECT_API_URL=http://127.0.0.1:$prefect_port/api
"$BIN/prefect" server start --host 127.0.0.1 --port "$prefect_port" >"$work/server.log" 2>&1 &
pids+=($!)
wait_http "$PREFECT_API_URL/health" 120 || { tail -30 "$work/server.log"; exit 1; }
say "prefect server on $PREFECT_API_URL"

handy_port=$(free_port); gestionix_port=$(free_port)
"$BIN/hgsync" sandbox --handy-port "$handy_port" --gestionix-port "$gestionix_port" --products 80 --customers 30 \
  >"$work/sandbox.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$handy_port/_sandbox/stats" 30
wait_http "http://127.0.0.1:$gestionix_port/_sandbox/stats" 30
export E2E_HANDY_CONTROL=http://127.0.0.1:$handy_port/_sandbox E2E_GESTIONIX_CONTROL=http://127.0.0.1:$gestionix_port/_sandbox
"$BIN/python" - <<PY
from clients.credentials import GestionixCredentials, HandyCredentials
HandyCredentials(base_url="http://127.0.0.1:$handy_port/api/v2", api_token="demo-handy-token").save("demo-handy", overwrite=True)
GestionixCredentials(base_url="http://127.0.0.1:$gestionix_port/api/v3", user="demo@example.mx",
                     password="demo-password").save("demo-gestionix", overwrite=True)
PY
say "sandbox on $handy_port/$gestionix_port, demo blocks saved"

"$BIN/prefect" work-pool create hgsync-process --type process --overwrite >/dev/null
"$BIN/prefect" --no-prompt deploy --all >"$work/deploy.log" 2>&1 || { cat "$work/deploy.log"; exit 1; }
say "prefect deploy --all ok"
"$BIN/prefect" worker start --pool hgsync-process --limit 2 >"$work/worker.log" 2>&1 &
pids+=($!)

run_deployment() {  # name
  if ! timeout 300 "$BIN/prefect" deployment run "$1" --watch >"$work/run.log" 2>&1; then
    cat "$work/run.log"; tail -60 "$work/worker.log"; say "$1 did not complete" >&2; exit 1
  fi
  grep -q "Completed" "$work/run.log" || { cat "$work/run.log"; tail -60 "$work/worker.log"; exit 1; }
  say "$1 completed"
}
run_deployment activate/demo-activate
curl -fs -X POST "$E2E_HANDY_CONTROL/orders/random" -H 'content-type: application/json' -d '{"count": 6}' >/dev/null
run_deployment order_push/demo-orders

"$BIN/python" -m pytest -q -m e2e tests/e2e -p no:cacheprovider

# ---------------------------------------------------------------------------------------------------------
# issue 18 (X4): a held order ends its run "Completed with issues"; the automations of automations.yaml are
# installed on this server pointed at a custom-webhook block; a small HTTP receiver on 127.0.0.1 gets the
# "order held too long" and "flow run failed" notifications; runs of the deployment, of `hgsync run` and of
# activate's subflows are found by tag tenant:demo (assertions in tests/e2e/test_e2e_watch.py).
receiver_port=$(free_port)
export E2E_NOTIFICATIONS=$work/notifications.jsonl
"$BIN/python" - "$receiver_port" "$E2E_NOTIFICATIONS" >"$work/receiver.log" 2>&1 <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Receiver(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers()
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        with open(sys.argv[2], "ab") as out:
            out.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200); self.end_headers()

HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
PY
pids+=($!)
wait_http "http://127.0.0.1:$receiver_port/" 20
"$BIN/python" - <<PY
from prefect.blocks.notifications import CustomWebhookNotificationBlock
CustomWebhookNotificationBlock(name="e2e", url="http://127.0.0.1:$receiver_port/hook",
                               json_data={"subject": "{{subject}}", "body": "{{body}}"}).save("e2e-alerts", overwrite=True)
PY
"$BIN/python" -m cli alerts install --block custom-webhook/e2e-alerts --held-limit-minutes 0.25 >"$work/alerts.log"
say "automations installed: $(wc -l <"$work/alerts.log") (receiver on $receiver_port)"

handy_api=http://127.0.0.1:$handy_port/api/v2
curl -fs -X POST "$handy_api/product" -H 'Authorization: Bearer demo-handy-token' -H 'content-type: application/json' \
  -d '{"code": "SOLO-HANDY-E2E", "description": "Solo en Handy", "family": {"description": "Varios"}, "price": 25.0}' >/dev/null
buyer=$(curl -fs "$E2E_HANDY_CONTROL/state?only=customers" | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)["customers"][0]["code"])')
export E2E_HELD_ORDER=$(curl -fs -X POST "$E2E_HANDY_CONTROL/orders" -H 'content-type: application/json' \
  -d "{\"salesType\": \"ROUTE\", \"customer\": \"$buyer\", \"items\": [{\"product\": \"SOLO-HANDY-E2E\", \"quantity\": 1}]}" \
  | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
sleep 1.1  # Handy windows are whole seconds
timeout 300 "$BIN/prefect" deployment run order_push/demo-orders --watch >"$work/held.log" 2>&1 || true
grep -q "Completed with issues" "$work/held.log" || { cat "$work/held.log"; tail -60 "$work/worker.log"; exit 1; }
say "order $E2E_HELD_ORDER held: demo-orders ended 'Completed with issues'"

"$BIN/python" -m cli run catalog --tenant demo --dry-run >"$work/hgsync-run.log" 2>&1 || { cat "$work/hgsync-run.log"; exit 1; }
"$BIN/python" - <<PY
from clients.credentials import HandyCredentials
HandyCredentials(base_url="$handy_api", api_token="revoked-token").save("demo-handy", overwrite=True)
PY
if timeout 300 "$BIN/prefect" deployment run deletion_sync/demo-deletions --watch >"$work/failed.log" 2>&1; then
  cat "$work/failed.log"; say "demo-deletions with a revoked token did not fail" >&2; exit 1
fi
"$BIN/python" - <<PY
from clients.credentials import HandyCredentials
HandyCredentials(base_url="$handy_api", api_token="demo-handy-token").save("demo-handy", overwrite=True)
PY
say "demo-deletions failed on purpose (revoked token); waiting for the notifications"
for _ in $(seq 1 120); do
  grep -q "still held" "$E2E_NOTIFICATIONS" 2>/dev/null && grep -q "Failed" "$E2E_NOTIFICATIONS" 2>/dev/null && break
  sleep 1
done
"$BIN/python" -m pytest -q -m e2e tests/e2e/test_e2e_watch.py -p no:cacheprovider
# ------------------------------------------------------------------------------------------ end of issue 18
say "passed"
