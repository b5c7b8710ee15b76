#!/usr/bin/env bash
# End to end on a real Prefect server, as an operator would do it:
# 1. README "Deploy and run", word for word: the block after the `deploy-and-run` marker is
#    extracted and run; only its ports (to free ones), `.venv/bin/` and the log paths change. So
#    CI fails when the README is wrong. It starts the server, the demo's sandbox and a process
#    worker, deploys prefect.yaml and activates the demo tenant.
# 2. demo-orders through the worker (O1/O8/O9).
# 3. A second tenant's whole life (RULES A4, A7) with the hgsync commands of the README, checked on
#    the server and the store after each step (tests/e2e/probe.py): add -> deploy -> nothing
#    scheduled -> activate -> schedules active -> set --no-sync-deletions -> pause -> nothing
#    scheduled -> resume -> remove (deployments and blocks gone, store rows kept).
# 4. tests/e2e (pytest -m e2e) on the final state.
# Every process it starts is stopped by its pid. Needs: .venv installed (or HGSYNC_E2E_BIN);
# HGSYNC_TEST_POSTGRES_URL (a throwaway database) or it starts its own PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${HGSYNC_E2E_BIN:-$PWD/.venv/bin}
export PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_WORKER_QUERY_SECONDS=2 PREFECT_CLI_PROMPT=false
# The server's scheduler looks every 2 s (not 60 s): "nothing is scheduled" is checked across real loops.
export PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS=2

work=$(mktemp -d /tmp/hgsync-e2e.XXXXXX)
own_pg=""
cleanup() {
  pids=$(jobs -p)
  for pid in $pids; do pkill -TERM -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 20); do  # up to 10 s to stop cleanly, then force
    alive=0; for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.5
  done
  for pid in $pids; do pkill -9 -P "$pid" 2>/dev/null || true; kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
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
show_logs() { for log in "$work"/*.log; do echo "--- $log"; tail -40 "$log"; done; }
probe() { "$BIN/python" -m tests.e2e.probe "$@" || { show_logs; exit 1; }; }

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

# 1. README "Deploy and run", as written (ports, binaries and log paths adapted).
prefect_port=$(free_port); handy_port=$(free_port); gestionix_port=$(free_port)
awk '/<!-- deploy-and-run/ {marker=1; next} marker && /^```sh/ {inside=1; next} inside && /^```/ {exit} inside {print}' \
  README.md | sed -e "s#\.venv/bin/#$BIN/#g" -e "s#4200#$prefect_port#g" -e "s#8701#$handy_port#g" \
  -e "s#8702#$gestionix_port#g" -e "s#>\([a-z-]*\.log\)#>$work/\1#g" >"$work/deploy-and-run.sh"
grep -q "hgsync deploy" "$work/deploy-and-run.sh" || { say "README deploy-and-run block not found" >&2; exit 1; }
say "running README 'Deploy and run':"; cat "$work/deploy-and-run.sh"
# shellcheck disable=SC1091
source "$work/deploy-and-run.sh" || { show_logs; exit 1; }
probe last-run demo-activate Completed
probe schedules demo active
export E2E_HANDY_CONTROL=http://127.0.0.1:$handy_port/_sandbox E2E_GESTIONIX_CONTROL=http://127.0.0.1:$gestionix_port/_sandbox
say "README block done: demo activated through the worker"

# 2. Orders of the demo tenant through the worker.
run_deployment() {  # name
  if ! timeout 300 "$BIN/prefect" deployment run "$1" --watch >"$work/run.out" 2>&1; then
    cat "$work/run.out"; show_logs; say "$1 did not complete" >&2; exit 1
  fi
  grep -q "Completed" "$work/run.out" || { cat "$work/run.out"; show_logs; exit 1; }
  say "$1 completed"
}
curl -fs -X POST "$E2E_HANDY_CONTROL/orders/random" -H 'content-type: application/json' -d '{"count": 6}' >/dev/null
run_deployment order_push/demo-orders

# 3. A second tenant's life, on its own sandbox, in a copy of prefect.yaml.
lupita_handy=$(free_port); lupita_gestionix=$(free_port)
"$BIN/hgsync" sandbox --handy-port "$lupita_handy" --gestionix-port "$lupita_gestionix" --products 40 --customers 10 \
  >"$work/sandbox-lupita.log" 2>&1 &
wait_http "http://127.0.0.1:$lupita_handy/_sandbox/stats" 30
wait_http "http://127.0.0.1:$lupita_gestionix/_sandbox/stats" 30
cp prefect.yaml "$work/prefect.yaml"
file=(--file "$work/prefect.yaml")
HGSYNC_HANDY_TOKEN=demo-handy-token HGSYNC_GESTIONIX_PASSWORD=demo-password "$BIN/hgsync" tenant add lupita \
  --branch Matriz --company 92 --handy-url "http://127.0.0.1:$lupita_handy/api/v2" \
  --gestionix-url "http://127.0.0.1:$lupita_gestionix/api/v3" --gestionix-user demo@example.mx "${file[@]}"
"$BIN/hgsync" deploy "${file[@]}"
probe schedules lupita paused
probe schedules demo active                     # the redeploy kept the activated tenant's schedules
sleep 5                                         # two scheduler loops
probe scheduled-runs lupita none
"$BIN/hgsync" tenant list "${file[@]}"
run_deployment activate/lupita-activate
probe schedules lupita active
probe scheduled-runs lupita some --wait 30
"$BIN/hgsync" tenant set lupita --no-sync-deletions "${file[@]}"
probe parameter lupita sync_deletions false
"$BIN/hgsync" tenant pause lupita "${file[@]}"
probe schedules lupita paused
sleep 5
probe scheduled-runs lupita none
"$BIN/hgsync" tenant resume lupita "${file[@]}"
probe schedules lupita active
"$BIN/hgsync" tenant list "${file[@]}"
"$BIN/hgsync" tenant remove lupita --yes "${file[@]}"
probe removed lupita
say "tenant lupita: added, deployed paused, activated, set, paused, resumed, removed (history kept)"

# 4. The final state.
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
