#!/usr/bin/env bash
# The Flask IVR example, as CI runs it (tests/flask_ivr.rs):
#
#   bash examples/flask-ivr/ci.sh
#
# 1. a venv in target/flask-ivr-venv with requirements.txt (Flask and plivo from PyPI);
# 2. app.py on 127.0.0.1:5055 (the port the scenarios name);
# 3. `plivo-flow test examples/flask-ivr/scenarios` (live = true: every webhook goes to the app,
#    in virtual time) must pass, and the app's own side effects (finished calls, messages left)
#    must be what the scenarios did;
# 4. a scenario whose caller presses another key must fail against the same .expected;
# 5. with the app stopped, the cassettes recorded from it (cassettes/, `run --record`) replay
#    and pass, and one whose recorded reply is changed fails naming the request that differs.
#
# PLIVO_FLOW_BIN is the binary (default target/debug/plivo-flow). Needs python3 with venv and
# PyPI. Prints "N passed, M failed" last; exits non-zero when anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
EX="$ROOT/examples/flask-ivr"
VENV="$ROOT/target/flask-ivr-venv"
BIN="${PLIVO_FLOW_BIN:-target/debug/plivo-flow}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
PORT=5055
WORK="$(mktemp -d "${TMPDIR:-/tmp}/plivo-flow-flask-ivr.XXXXXX")"
APP_PID=""
passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }

cleanup() {
    if [[ -n "$APP_PID" ]] && kill -0 "$APP_PID" 2>/dev/null; then
        kill -TERM "$APP_PID" 2>/dev/null || true
        wait "$APP_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- (1) the venv
if [[ -x "$VENV/bin/python" ]] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
fi
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
if ! "$VENV/bin/python" - "$EX/requirements.txt" >/dev/null 2>&1 <<'PY'
import importlib.metadata as m, sys
for line in open(sys.argv[1]):
    name, _, version = line.strip().partition("==")
    if name and m.version(name) != version:
        sys.exit(1)
PY
then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$EX/requirements.txt"
fi

# ---------------------------------------------------------------- (2) the app
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    fail "127.0.0.1:$PORT is free for the example app (something already listens there)"
    echo "$passed passed, $failed failed"
    exit 1
fi
PORT=$PORT "$VENV/bin/python" "$EX/app.py" >"$WORK/app.log" 2>&1 &
APP_PID=$!
calls() { "$VENV/bin/python" -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$PORT/calls', timeout=5).read().decode())"; }
up=0
for _ in $(seq 1 100); do
    if calls >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$APP_PID" 2>/dev/null || break
    sleep 0.1
done
if [[ $up -ne 1 ]]; then
    fail "the example app started"
    cat "$WORK/app.log"
    echo "$passed passed, $failed failed"
    exit 1
fi
ok "app.py is up on 127.0.0.1:$PORT"

# ---------------------------------------------------------------- (3) the scenarios, live
if "$BIN" test "$EX/scenarios" >"$WORK/test.out" 2>&1; then
    ok "plivo-flow test examples/flask-ivr/scenarios: $(tail -1 "$WORK/test.out")"
else
    fail "plivo-flow test examples/flask-ivr/scenarios"
    cat "$WORK/test.out"
fi
# What the app itself saw: five calls ended, one message left (carol's), no call left in a menu.
if calls | "$VENV/bin/python" -c '
import json, sys
c = json.load(sys.stdin)
froms = sorted(f["from"] for f in c["finished"])
assert len(c["finished"]) == 5, c
assert [m["from"] for m in c["messages"]] == ["+14155550188"], c
assert c["messages"][0]["url"].endswith(".mp3") and c["messages"][0]["duration"] == "12", c
assert c["in_progress"] == 0, c
'; then
    ok "the app recorded 5 finished calls, carol's 12 s message and no call left in a menu"
else
    fail "the app's side effects"
    calls || true
fi

# ---------------------------------------------------------------- (4) a diverging run fails
sed 's/keys = "2"/keys = "1"/' "$EX/scenarios/hours.toml" >"$WORK/hours.toml"
cp "$EX/scenarios/hours.expected" "$WORK/hours.expected"
if "$BIN" test "$WORK/hours.toml" >"$WORK/diverge.out" 2>&1; then
    fail "a caller pressing 1 instead of 2 fails hours.expected"
elif grep -q 'We are open from nine to five' "$WORK/diverge.out"; then
    ok "a caller pressing 1 instead of 2 fails hours.expected, and the diff shows the weekday hours"
else
    fail "the diverging run's diff names what changed"
    cat "$WORK/diverge.out"
fi

# ---------------------------------------------------------------- (5) the cassettes, no app
kill -TERM "$APP_PID" 2>/dev/null || true
wait "$APP_PID" 2>/dev/null || true
APP_PID=""
if "$BIN" test "$EX/cassettes" >"$WORK/replay.out" 2>&1; then
    ok "with the app stopped, plivo-flow test examples/flask-ivr/cassettes: $(tail -1 "$WORK/replay.out")"
else
    fail "with the app stopped, plivo-flow test examples/flask-ivr/cassettes"
    cat "$WORK/replay.out"
fi
# The app's answer to "3" (the hours menu) now sends the next key to /hours.
mkdir -p "$WORK/changed"
"$VENV/bin/python" - "$EX/cassettes/hours/alice.cassette.json" "$WORK/changed/alice.cassette.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
reply = c["requests"][1]["reply"]
reply["body"] = reply["body"].replace('action="http://127.0.0.1:5055/answer"', 'action="http://127.0.0.1:5055/hours"')
json.dump(c, open(sys.argv[2], "w"))
PY
if "$BIN" test "$WORK/changed" >"$WORK/changed.out" 2>&1; then
    fail "a cassette whose recorded reply changed fails"
elif grep -q 'alice request 3 .*URL was "http://127.0.0.1:5055/answer", now "http://127.0.0.1:5055/hours"' "$WORK/changed.out"; then
    ok "a cassette whose recorded reply changed fails: $(grep -m1 'alice request 3' "$WORK/changed.out" | sed 's/^ *//')"
else
    fail "the changed cassette's failure names request 3 and its URL"
    cat "$WORK/changed.out"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
