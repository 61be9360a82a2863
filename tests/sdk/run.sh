#!/usr/bin/env bash
# plivo-flow serve against the official Plivo SDKs, and the README's curl kick.
#
#   bash tests/sdk/run.sh
#
# 1. a venv in target/sdk-venv with plivo==4.63.0 (reused when present);
# 2. `npm ci` in tests/sdk/node (plivo 4.79.0, pinned by package-lock.json);
# 3. target/release/plivo-flow (built with `cargo build --release --locked` if missing;
#    PLIVO_FLOW_BIN overrides the path);
# 4. tests/sdk/python/test_sdk.py, then tests/sdk/node/test_sdk.js;
# 5. the curl line between `<!-- curl-kick -->` and `<!-- /curl-kick -->` in README.md, run
#    against `plivo-flow serve --speed 0` with the default credentials on 127.0.0.1:8765;
# 6. tests/sdk/recipes.sh: the README's base-URL recipes for Python and Node, applied from
#    the environment to unchanged programs.
#
# Needs python3 (with venv), node >= 20 + npm, curl, and network access to PyPI and npm.
# Exits non-zero if any part failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SDK_DIR="$ROOT/tests/sdk"
VENV="$ROOT/target/sdk-venv"
BIN="${PLIVO_FLOW_BIN:-target/release/plivo-flow}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
export PLIVO_FLOW_BIN="$BIN"
README_FILE="${README_FILE:-$ROOT/README.md}"
PART_TIMEOUT="${SDK_TEST_TIMEOUT:-300}"   # seconds per test program

START=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/plivo-flow-sdk.XXXXXX")"
PIDS=()

cleanup() {
    local pid
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do
        # TERM, not INT: background jobs of a non-interactive shell ignore SIGINT.
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '\n=== %s\n' "$*"; }

# ---------------------------------------------------------------- (a) Python venv + plivo
say "python: venv $VENV with plivo==4.63.0"
if [[ -x "$VENV/bin/python" ]] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"   # a stale venv (e.g. its interpreter moved)
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("plivo") != "4.63.0")' >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check plivo==4.63.0
fi
"$VENV/bin/python" -c 'import importlib.metadata as m; print("plivo (python)", m.version("plivo"))'

# ---------------------------------------------------------------- (b) Node SDK
say "node: npm ci in tests/sdk/node"
(
    cd "$SDK_DIR/node"
    if [[ -f package-lock.json ]]; then
        npm ci --no-audit --no-fund --loglevel=error >/dev/null
    else
        npm install --no-audit --no-fund --loglevel=error >/dev/null
    fi
    node -e 'console.log("plivo (node)", require("plivo/package.json").version, "on node", process.version)'
)

# ---------------------------------------------------------------- (c) the server binary
say "server: $BIN"
if [[ ! -x "$BIN" ]]; then
    echo "not built yet: cargo build --release --locked"
    cargo build --release --locked
fi
[[ -x "$BIN" ]] || { echo "no server binary at $BIN" >&2; exit 1; }

# ---------------------------------------------------------------- (d) the SDK tests
FAILED_PARTS=()

say "python SDK test"
py_status=0
timeout --signal=TERM --kill-after=10 "$PART_TIMEOUT" \
    "$VENV/bin/python" "$SDK_DIR/python/test_sdk.py" || py_status=$?
[[ $py_status -eq 0 ]] || FAILED_PARTS+=("python SDK test (exit $py_status)")

say "node SDK test"
node_status=0
timeout --signal=TERM --kill-after=10 "$PART_TIMEOUT" \
    node "$SDK_DIR/node/test_sdk.js" || node_status=$?
[[ $node_status -eq 0 ]] || FAILED_PARTS+=("node SDK test (exit $node_status)")

# ---------------------------------------------------------------- (e) the README's curl kick
say "README curl kick"
passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }

readme_curl() {
    # The first `curl` command inside the marked block, with `\` continuations joined.
    awk '
        /<!-- curl-kick -->/   { inside = 1; next }
        /<!-- \/curl-kick -->/ { inside = 0 }
        inside && !done {
            line = $0
            if (!started && line !~ /^[[:space:]]*(\$[[:space:]]+)?curl[[:space:]]/) next
            started = 1
            sub(/^[[:space:]]*\$[[:space:]]+/, "", line)
            if (line ~ /\\[[:space:]]*$/) { sub(/\\[[:space:]]*$/, "", line); cmd = cmd line " "; next }
            cmd = cmd line; done = 1
        }
        END { if (done) print cmd }
    ' "$README_FILE"
}

DEV_ID=MADEVELOPMENT0000001
DEV_TOKEN=plivo-flow-dev-token
API=http://127.0.0.1:8765

curl_cmd="$(readme_curl || true)"
shell_meta='[;|`<>]'
if [[ -z "$curl_cmd" ]]; then
    fail "README.md has a curl line between <!-- curl-kick --> and <!-- /curl-kick -->"
elif [[ "$curl_cmd" =~ $shell_meta || "$curl_cmd" == *'$('* || "$curl_cmd" == *'&&'* ]]; then
    fail "the README curl line is a single plain curl command: $curl_cmd"
else
    ok "README.md has a curl line: $curl_cmd"

    # A tiny app serving the answer document.
    cat >"$WORK/answer_app.py" <<'PY'
import http.server, sys
DOC = b"<Response><Conference>MyConference</Conference><Speak>Bye</Speak></Response>"
class H(http.server.BaseHTTPRequestHandler):
    def _doc(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
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

    if (exec 3<>/dev/tcp/127.0.0.1/8765) 2>/dev/null; then
        fail "127.0.0.1:8765 is free for the README server (something already listens there)"
    else
        "$BIN" serve --listen 127.0.0.1:8765 --speed 0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
        PIDS+=($!)
        server_pid=$!
        for _ in $(seq 1 300); do
            grep -q 'plivo-flow serve: ' "$WORK/serve.out" 2>/dev/null && break
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        for _ in $(seq 1 100); do
            [[ -s "$WORK/answer_port" ]] && break
            sleep 0.1
        done
        if ! grep -q 'plivo-flow serve: ' "$WORK/serve.out" 2>/dev/null; then
            fail "plivo-flow serve (default credentials) printed its banner"
            tail -20 "$WORK/serve.err" || true
        elif [[ ! -s "$WORK/answer_port" ]]; then
            fail "the answer app started"
        else
            ok "plivo-flow serve --listen 127.0.0.1:8765 --speed 0 is up: $(head -1 "$WORK/serve.out")"
            answer_url="http://127.0.0.1:$(cat "$WORK/answer_port")/answer"
            sim="$(curl -s -u "$DEV_ID:$DEV_TOKEN" -X POST "$API/sim/Call/" \
                --data-urlencode from=14155550100 --data-urlencode to=14155550199 \
                --data-urlencode "answer_url=$answer_url" -w '\n%{http_code}')"
            sim_status="${sim##*$'\n'}"
            if [[ "$sim_status" == 201 ]]; then
                ok "POST /sim/Call/ -> 201"
            else
                fail "POST /sim/Call/ -> 201 (got $sim_status: ${sim%$'\n'*})"
            fi
            call_uuid="$(printf '%s' "${sim%$'\n'*}" | "$VENV/bin/python" -c \
                'import json,sys; print(json.load(sys.stdin).get("call_uuid",""))' 2>/dev/null || true)"

            member=""
            for _ in $(seq 1 200); do   # up to 10 s
                member="$(curl -s -u "$DEV_ID:$DEV_TOKEN" "$API/v1/Account/$DEV_ID/Conference/MyConference/" \
                    | "$VENV/bin/python" -c '
import json, sys
try:
    c = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
print(" ".join(m.get("member_id", "") for m in c.get("members", [])))' 2>/dev/null || true)"
                [[ " $member " == *" 1 "* ]] && break
                sleep 0.05
            done
            if [[ " $member " == *" 1 "* ]]; then
                ok "GET Conference/MyConference/ shows member 1"
            else
                fail "GET Conference/MyConference/ shows member 1 (members: '${member}')"
            fi

            # The README's command, as written, plus options to capture the status and body.
            kick_status=0
            kick_out="$(eval "$curl_cmd -s -o \"\$WORK/kick.body\" -w '%{http_code}'")" || kick_status=$?
            kick_body="$(cat "$WORK/kick.body" 2>/dev/null || true)"
            if [[ $kick_status -eq 0 && "$kick_out" == 202 ]]; then
                ok "the README curl got 202"
            else
                fail "the README curl got 202 (curl exit $kick_status, status '$kick_out', body $kick_body)"
            fi
            if [[ "$kick_body" == *'"message":"kicked"'* ]]; then
                ok "the README curl body has \"message\":\"kicked\": $kick_body"
            else
                fail "the README curl body has \"message\":\"kicked\" (body: $kick_body)"
            fi
            spoke=""
            for _ in $(seq 1 200); do
                spoke="$(curl -s -u "$DEV_ID:$DEV_TOKEN" "$API/sim/Transcript/" | grep -F "$call_uuid  spoke \"Bye\"" || true)"
                [[ -n "$spoke" && -n "$call_uuid" ]] && break
                sleep 0.05
            done
            if [[ -n "$spoke" && -n "$call_uuid" ]]; then
                ok "the kicked call went on to <Speak>Bye</Speak>"
            else
                fail "the kicked call went on to <Speak>Bye</Speak>"
            fi
        fi
    fi
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]] || FAILED_PARTS+=("README curl kick")

# ---------------------------------------------------------------- (f) the base-URL recipes
say "base-URL recipes (contrib/sdk-base-url: python sitecustomize, node preload)"
recipes_status=0
VENV="$VENV" timeout --signal=TERM --kill-after=10 "$PART_TIMEOUT" \
    bash "$SDK_DIR/recipes.sh" || recipes_status=$?
[[ $recipes_status -eq 0 ]] || FAILED_PARTS+=("base-URL recipes (exit $recipes_status)")

# ---------------------------------------------------------------- summary
say "summary ($((SECONDS - START)) s)"
if [[ ${#FAILED_PARTS[@]} -eq 0 ]]; then
    echo "all SDK checks passed"
    exit 0
fi
printf 'failed: %s\n' "${FAILED_PARTS[@]}"
exit 1
