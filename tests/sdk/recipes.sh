#!/usr/bin/env bash
# The README's base-URL recipes for Python and Node (contrib/sdk-base-url/), run by run.sh:
# an unchanged program using the official SDK (python/recipe_kick.py, node/recipe_kick.js)
# kicks a member of MyConference on `plivo-flow serve`, pointed there only by the environment.
#
#   VENV=target/sdk-venv PLIVO_FLOW_BIN=target/release/plivo-flow bash tests/sdk/recipes.sh
#
# Expects run.sh's venv (plivo from PyPI) and `npm ci` in tests/sdk/node. Prints
# "N passed, M failed" last; exits non-zero when anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SDK_DIR="$ROOT/tests/sdk"
VENV="${VENV:-$ROOT/target/sdk-venv}"
BIN="${PLIVO_FLOW_BIN:-target/release/plivo-flow}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
RECIPES="$ROOT/contrib/sdk-base-url"
export PLIVO_AUTH_ID=MADEVELOPMENT0000001
export PLIVO_AUTH_TOKEN=plivo-flow-dev-token
WORK="$(mktemp -d "${TMPDIR:-/tmp}/plivo-flow-recipes.XXXXXX")"
PIDS=()
passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
cleanup() {
    local pid
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
py() { "$VENV/bin/python" "$@"; }

# A tiny app serving the answer document, and serve on a free port.
cat >"$WORK/answer_app.py" <<'PY'
import http.server, sys
DOC = b"<Response><Conference>MyConference</Conference><Speak>Bye</Speak></Response>"
class H(http.server.BaseHTTPRequestHandler):
    def _doc(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(DOC)))
        self.end_headers()
        self.wfile.write(DOC)
    do_GET = do_POST = _doc
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1], "w") as f:
    f.write(str(s.server_address[1]))
s.serve_forever()
PY
"$VENV/bin/python" "$WORK/answer_app.py" "$WORK/answer_port" &
PIDS+=($!)
"$BIN" serve --listen 127.0.0.1:0 --speed 0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
PIDS+=($!)
API=""
for _ in $(seq 1 300); do
    API="$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$WORK/serve.out" 2>/dev/null | head -1 || true)"
    [[ -n "$API" && -s "$WORK/answer_port" ]] && break
    sleep 0.1
done
if [[ -z "$API" || ! -s "$WORK/answer_port" ]]; then
    fail "serve and the answer app started"
    cat "$WORK/serve.err" || true
    echo "$passed passed, $failed failed"
    exit 1
fi
ANSWER="http://127.0.0.1:$(cat "$WORK/answer_port")/answer"

# A call in MyConference: prints its CallUUID and, once it is in the room, its member id.
join() {
    local uuid member=""
    uuid="$(curl -s -u "$PLIVO_AUTH_ID:$PLIVO_AUTH_TOKEN" -X POST "$API/sim/Call/" \
        --data-urlencode from=14155550100 --data-urlencode to=14155550199 \
        --data-urlencode "answer_url=$ANSWER" | py -c 'import json,sys; print(json.load(sys.stdin)["call_uuid"])')"
    for _ in $(seq 1 200); do
        member="$(curl -s -u "$PLIVO_AUTH_ID:$PLIVO_AUTH_TOKEN" \
            "$API/v1/Account/$PLIVO_AUTH_ID/Conference/MyConference/" | py -c '
import json, sys
try:
    room = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
print(next((m["member_id"] for m in room.get("members", []) if m.get("call_uuid") == sys.argv[1]), ""))' "$uuid")"
        [[ -n "$member" ]] && break
        sleep 0.05
    done
    echo "$uuid $member"
}
# Whether the call went on to <Speak>Bye</Speak> after the kick.
spoke_bye() {
    for _ in $(seq 1 200); do
        curl -s -u "$PLIVO_AUTH_ID:$PLIVO_AUTH_TOKEN" "$API/sim/Transcript/" | grep -qF "$1  spoke \"Bye\"" && return 0
        sleep 0.05
    done
    return 1
}
check() {   # check LANGUAGE OUTPUT-FILE STDERR-FILE CALL-UUID STATUS
    local lang=$1 out=$2 err=$3 uuid=$4 status=$5
    if [[ $status -eq 0 ]] && grep -q '"message": *"kicked"' "$out"; then
        ok "$lang: the unchanged program's kick was answered by serve: $(cat "$out")"
    else
        fail "$lang: the unchanged program's kick (exit $status): $(cat "$out" "$err")"
    fi
    if grep -qF "plivo-flow: the Plivo SDK sends its API requests to $API" "$err"; then
        ok "$lang: the recipe says where the SDK's requests go"
    else
        fail "$lang: the recipe says where the SDK's requests go: $(cat "$err")"
    fi
    if spoke_bye "$uuid"; then
        ok "$lang: the kicked call went on to <Speak>Bye</Speak>"
    else
        fail "$lang: the kicked call went on to <Speak>Bye</Speak>"
    fi
}

# ---------------------------------------------------------------- Python: sitecustomize
read -r uuid member <<<"$(join)"
status=0
PYTHONPATH="$RECIPES/python" PLIVO_FLOW_URL="$API" timeout 60 "$VENV/bin/python" "$SDK_DIR/python/recipe_kick.py" \
    "$member" >"$WORK/py.out" 2>"$WORK/py.err" || status=$?
check python "$WORK/py.out" "$WORK/py.err" "$uuid" $status
# Without PLIVO_FLOW_URL the recipe changes nothing.
base="$(PYTHONPATH="$RECIPES/python" "$VENV/bin/python" -c 'import plivo.rest.client as c; print(c.PLIVO_API_BASE_URI)')"
if [[ "$base" == https://api.plivo.com/v1/Account ]]; then
    ok "python: without PLIVO_FLOW_URL the SDK keeps https://api.plivo.com/v1/Account"
else
    fail "python: without PLIVO_FLOW_URL the SDK keeps https://api.plivo.com/v1/Account (got $base)"
fi

# ---------------------------------------------------------------- Node: preload
read -r uuid member <<<"$(join)"
status=0
PLIVO_FLOW_URL="$API" timeout 60 node -r "$RECIPES/node/plivo-flow.js" "$SDK_DIR/node/recipe_kick.js" \
    "$member" >"$WORK/node.out" 2>"$WORK/node.err" || status=$?
check node "$WORK/node.out" "$WORK/node.err" "$uuid" $status

# ---------------------------------------------------------------- the recipe is what routes
# Pointed at a closed port, the same programs fail: their requests went where the recipe said.
closed="http://127.0.0.1:9"
status=0
PYTHONPATH="$RECIPES/python" PLIVO_FLOW_URL="$closed" timeout 60 "$VENV/bin/python" \
    "$SDK_DIR/python/recipe_kick.py" 1 >/dev/null 2>&1 || status=$?
if [[ $status -ne 0 ]]; then ok "python: pointed at a closed port, the kick fails"; else fail "python: pointed at a closed port, the kick fails"; fi
status=0
PLIVO_FLOW_URL="$closed" timeout 60 node -r "$RECIPES/node/plivo-flow.js" "$SDK_DIR/node/recipe_kick.js" \
    1 >/dev/null 2>&1 || status=$?
if [[ $status -ne 0 ]]; then ok "node: pointed at a closed port, the kick fails"; else fail "node: pointed at a closed port, the kick fails"; fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
