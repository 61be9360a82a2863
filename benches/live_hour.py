"""Wall time of a live scenario whose flow spans an hour of call time (issue 12's figure).

    python3 benches/live_hour.py target/release/plivo-flow

A trivial local app (http.server, one thread) serves the documents; two calls: alice hears a
prompt, waits 30 s, lets the GetDigits time out once, presses 1 during the retry and is sent into a
conference; bob joins it at once. An hour later the room is kicked; both hear a good-bye and
hang up, and each hangup_url reaches the app. The same flow is also run with the documents
canned in the scenario (no HTTP) to show what the engine alone costs. Prints the median of 5
runs of each as `figure:` lines, and the app's own time spent in its handlers.
"""

import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

DOCS = {
    "/answer": '<Response><Speak>Welcome</Speak><Wait length="30"/>'
               '<GetDigits action="{base}/menu" timeout="10" retries="2" numDigits="1">'
               "<Speak>Press 1 to join</Speak></GetDigits></Response>",
    "/menu": "<Response><Conference>Standup</Conference><Speak>Good bye</Speak></Response>",
    "/agent": "<Response><Conference>Standup</Conference><Speak>Good bye</Speak></Response>",
    "/hangup": "OK",
}
app_time = [0.0]
requests = [0]


class App(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        started = time.perf_counter()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = DOCS.get(self.path.split("?")[0], "").format(base=BASE).encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        app_time[0] += time.perf_counter() - started
        requests[0] += 1

    do_GET = do_POST

    def log_message(self, *a):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), App)
BASE = f"http://127.0.0.1:{server.server_address[1]}"
threading.Thread(target=server.serve_forever, daemon=True).start()

SCRIPT = """
[[call]]
name = "alice"
answer = "{base}/answer"
hangup_url = "{base}/hangup"

[[call]]
name = "bob"
answer = "{base}/agent"
hangup_url = "{base}/hangup"

[[event]]
at = "47s"
action = "digits"
call = "alice"
keys = "1"

[[event]]
at = "3660s"
action = "kick"
room = "Standup"
"""


def canned():
    lines = ["[documents]"]
    for path, doc in DOCS.items():
        lines.append(f'"{BASE}{path}" = {{ xml = \'{doc.format(base=BASE)}\' }}')
    return "\n".join(lines) + "\n"


def run(binary, scenario, live):
    args = [binary, "run"] + (["--live"] if live else []) + [scenario]
    started = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - started, out


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/plivo-flow"
    with tempfile.TemporaryDirectory() as d:
        live_path = os.path.join(d, "live.toml")
        canned_path = os.path.join(d, "canned.toml")
        with open(live_path, "w") as f:
            f.write(SCRIPT.format(base=BASE))
        with open(canned_path, "w") as f:
            f.write(canned() + SCRIPT.format(base=BASE))
        _, transcript = run(binary, live_path, True)
        last = transcript.strip().splitlines()[-1]
        assert "bob" in transcript and "Good bye" in transcript, transcript
        assert last.startswith("1:0") and "alice  joined room Standup" in transcript, transcript
        app_time[0], requests[0] = 0.0, 0
        live = sorted(run(binary, live_path, True)[0] for _ in range(5))
        per_run_app = app_time[0] / 5
        per_run_requests = requests[0] / 5
        canned_t = sorted(run(binary, canned_path, False)[0] for _ in range(5))
    print(f"call time spanned: {last.split()[0]} (virtual)")
    print(f"figure: live_hour_wall_s {statistics.median(live):.4f}")
    print(f"figure: live_hour_canned_wall_s {statistics.median(canned_t):.4f}")
    print(f"figure: live_hour_app_s {per_run_app:.4f}")
    print(f"figure: live_hour_requests {per_run_requests:.0f}")


main()
