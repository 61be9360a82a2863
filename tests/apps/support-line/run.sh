#!/usr/bin/env bash
# A support-line app in the style of Plivo's examples (app.py: conference recording started on
# Event == "ConferenceEnter", callers put on hold when the agent leaves) against
# `plivo-flow serve`, its SDK pointed there by the environment only. Run by tests/apps.rs:
#
#   PLIVO_FLOW_BIN=target/debug/plivo-flow bash tests/apps/support-line/run.sh
#
# A venv in target/apps-venv gets Flask and plivo (examples/flask-ivr/requirements.txt). Prints
# "N passed, M failed" last; exits non-zero when anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/tests/apps/support-line"
VENV="$ROOT/target/apps-venv"
BIN="${PLIVO_FLOW_BIN:-target/debug/plivo-flow}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
export PLIVO_AUTH_ID=MADEVELOPMENT0000001
export PLIVO_AUTH_TOKEN=plivo-flow-dev-token
AGENT=+14155550999
WORK="$(mktemp -d "${TMPDIR:-/tmp}/plivo-flow-support-line.XXXXXX")"
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
finish() { echo "$passed passed, $failed failed"; [[ $failed -eq 0 ]]; exit $?; }

# ---------------------------------------------------------------- the venv
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import flask, plivo' 2>/dev/null \
    || "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/examples/flask-ivr/requirements.txt"
PY="$VENV/bin/python"

# ---------------------------------------------------------------- serve, then the app
"$BIN" serve --listen 127.0.0.1:0 --speed 0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
PIDS+=($!)
API=""
for _ in $(seq 1 300); do
    API="$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$WORK/serve.out" 2>/dev/null | head -1 || true)"
    [[ -n "$API" ]] && break
    sleep 0.1
done
[[ -n "$API" ]] || { fail "serve started"; cat "$WORK/serve.err"; finish; }
PYTHONPATH="$ROOT/contrib/sdk-base-url/python" PLIVO_FLOW_URL="$API" PORT_FILE="$WORK/app_port" \
    "$PY" "$HERE/app.py" >"$WORK/app.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -s "$WORK/app_port" ]] && break; sleep 0.1; done
[[ -s "$WORK/app_port" ]] || { fail "the app started"; cat "$WORK/app.log"; finish; }
APP="http://127.0.0.1:$(cat "$WORK/app_port")"
ok "serve at $API, the app at $APP"

api() { curl -s -u "$PLIVO_AUTH_ID:$PLIVO_AUTH_TOKEN" "$@"; }
settle() { api "$API/sim/Settled/?timeout_ms=20000" >/dev/null; }
call() {   # call FROM -> prints the CallUUID of a new inbound call to the app
    api -X POST "$API/sim/Call/" --data-urlencode "from=$1" --data-urlencode to=+14155550000 \
        --data-urlencode "answer_url=$APP/answer" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["call_uuid"])'
}
# check "what" PYTHON-EXPRESSION over s (the app's /state), t (the transcript text) and c, a
# (the caller's and agent's CallUUIDs)
check() {
    local what=$1 expr=$2
    if curl -s "$APP/state" >"$WORK/state.json" && api "$API/sim/Transcript/" >"$WORK/transcript.txt" \
        && "$PY" - "$WORK/state.json" "$WORK/transcript.txt" "$caller" "${agent:-}" "$expr" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read(); c, a = sys.argv[3], sys.argv[4]
sys.exit(0 if eval(sys.argv[5]) else 1)
PY
    then ok "$what"
    else
        fail "$what"
        cat "$WORK/state.json"; echo; tail -30 "$WORK/transcript.txt"
    fi
}

# ---------------------------------------------------------------- a caller, then the agent
caller="$(call +14155550101)"
settle
check "the caller waits in Support; its enter has Event=ConferenceEnter, ConferenceFirstMember=true" \
    '[(e["Event"], e["ConferenceFirstMember"]) for e in s["events"]] == [("ConferenceEnter", "true")] and not s["recording_started"]'
agent="$(call "$AGENT")"
settle
check "the agent's enter (ConferenceFirstMember=false) made the app start the room's recording, once" \
    'len(s["recording_started"]) == 1 and s["events"][-1]["From"] == "+14155550999" and s["events"][-1]["ConferenceFirstMember"] == "false" and s["events"][-1].get("record_api") == "conference recording started"'
check "serve shows the recording of Support started through the Conference Record API" \
    '"api  start recording Support: recording " in t and "room Support  recording started: " in t'

# ---------------------------------------------------------------- the agent leaves
api -X DELETE "$API/sim/Call/$agent/" >/dev/null
settle
check "the agent's exit has Event=ConferenceExit and ConferenceLastMember=false" \
    'any(e["Event"] == "ConferenceExit" and e["CallUUID"] == a and e["ConferenceLastMember"] == "false" for e in s["events"])'
check "the app put the caller on hold (Call Transfer API) and the caller hears the hold message" \
    's["held"] == [c] and (c + "  spoke \"Your agent had to leave. Please hold.\"") in t'
check "the caller's own exit closed the room: ConferenceLastMember=true" \
    'any(e["Event"] == "ConferenceExit" and e["CallUUID"] == c and e["ConferenceLastMember"] == "true" for e in s["events"])'
check "the room's recording reached the app's callback with a RecordUrl" \
    'len(s["recorded"]) == 1 and (s["recorded"][0]["RecordUrl"] or "").startswith("http") and s["recorded"][0]["ConferenceName"] == "Support"'
api -X DELETE "$API/sim/Call/$caller/" >/dev/null
settle
check "the app's SDK calls all succeeded" 'not s["errors"]'
finish
