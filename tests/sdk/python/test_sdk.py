#!/usr/bin/env python3
"""plivo-flow serve against the official Plivo Python SDK (plivo 4.63.0).

Plain Python: the standard library plus `plivo`. It starts

* a webhook app on 127.0.0.1 (http.server in a thread) that serves the XML documents of the
  calls, records every request and checks every webhook's V3 signature with
  `plivo.utils.validate_v3_signature`;
* `plivo-flow serve` as a subprocess (binary from $PLIVO_FLOW_BIN, default
  target/release/plivo-flow under the repository root) on a port it picks itself, with
  `--speed 0` so simulated media takes no time;

then drives calls and conferences through `plivo.RestClient` (its module URL constants patched
to point at the local server) and the server's `/sim/...` phone endpoints, and checks what the
SDK returns and what the webhook app receives.

Every check prints `ok` or `FAIL`; the last line is `N passed, M failed`; the exit status is 1
when any check failed.
"""

import base64
import http.server
import importlib.metadata
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import plivo
import plivo.rest.client as plivo_rest_client
from plivo import exceptions as plivo_exc

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
AUTH_TOKEN = "test-token"
REPO = Path(__file__).resolve().parents[3]
WAIT = 10.0  # seconds: the longest any bounded wait may take
POLL = 0.05  # seconds between two polls
SERVER_BASE = [""]  # the running server's http://host:port, once started


# --------------------------------------------------------------------------- checks

class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"ok    {name}", flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            extra = f"\n      {detail}" if detail else ""
            print(f"FAIL  {name}{extra}", flush=True)
        return bool(cond)

    def raises(self, name, exc_type, fn):
        """Checks that fn() raises exc_type; returns the exception (or None)."""
        try:
            got = fn()
        except exc_type as e:
            self.check(name, True)
            return e
        except Exception as e:  # noqa: BLE001 - report whatever else came
            self.check(name, False, f"expected {exc_type.__name__}, got {type(e).__name__}: {e}")
            return None
        self.check(name, False, f"expected {exc_type.__name__}, got a result: {got!r}")
        return None


CHECKS = Checks()
check = CHECKS.check


def wait_for(pred, timeout=WAIT):
    """Polls pred() every POLL seconds until it returns something truthy or timeout passes;
    returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = pred()
        except Exception:  # noqa: BLE001 - e.g. a 404 while a room is being created
            v = None
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(POLL)


# --------------------------------------------------------------------------- the webhook app

class WebhookApp:
    """Serves XML documents and records every request, with its signature verdict."""

    def __init__(self):
        self.docs = {}  # path -> XML
        self.requests = []
        self.lock = threading.Lock()
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                self._handle()

            def do_POST(self):
                self._handle()

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                split = urllib.parse.urlsplit(self.path)
                if self.command == "GET":
                    multi = urllib.parse.parse_qs(split.query, keep_blank_values=True)
                else:
                    multi = urllib.parse.parse_qs(body, keep_blank_values=True)
                host = self.headers.get("Host", "")
                url = f"http://{host}{self.path}"
                sig = self.headers.get("X-Plivo-Signature-V3")
                nonce = self.headers.get("X-Plivo-Signature-V3-Nonce")
                sig_ma = self.headers.get("X-Plivo-Signature-Ma-V3")
                sig_ok = False
                sig_error = ""
                if sig and nonce:
                    try:
                        # The params exactly as sent (a list per name), so that the verdict
                        # is about the signing scheme; repeated names are checked apart.
                        params = {k: list(v) for k, v in multi.items()}
                        sig_ok = plivo.utils.validate_v3_signature(
                            self.command, url, nonce, AUTH_TOKEN, sig, params)
                    except Exception as e:  # noqa: BLE001
                        sig_error = f"{type(e).__name__}: {e}"
                record = {
                    "method": self.command,
                    "path": split.path,
                    "url": url,
                    "host": host,
                    "headers": dict(self.headers.items()),
                    "content_type": self.headers.get("Content-Type", ""),
                    "body": body,
                    "params": {k: v[0] for k, v in multi.items()},
                    "query": {k: v[0] for k, v in urllib.parse.parse_qs(split.query).items()},
                    "sig": sig,
                    "nonce": nonce,
                    "repeated": sorted(k for k, v in multi.items() if len(v) > 1),
                    "sig_present": bool(sig and nonce),
                    "sig_ma_present": bool(sig_ma),
                    "sig_ok": sig_ok,
                    "sig_error": sig_error,
                    "at": time.monotonic(),
                }
                with app.lock:
                    app.requests.append(record)
                    doc = app.docs.get(split.path)
                if doc is not None:
                    out = doc.encode("utf-8")
                    ctype = "application/xml"
                else:
                    out = b""
                    ctype = "text/plain"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def serve(self, path, xml):
        with self.lock:
            self.docs[path] = xml
        return self.base + path

    def all(self):
        with self.lock:
            return list(self.requests)

    def find(self, path_prefix=None, **params):
        """Requests whose path starts with path_prefix and whose params include params."""
        out = []
        for r in self.all():
            if path_prefix is not None and not r["path"].startswith(path_prefix):
                continue
            if all(r["params"].get(k) == v for k, v in params.items()):
                out.append(r)
        return out


# --------------------------------------------------------------------------- the server

class Server:
    def __init__(self, binary):
        self.binary = binary
        self.proc = None
        self.base = None
        self.log = tempfile.NamedTemporaryFile(prefix="plivo-flow-serve-", suffix=".log", delete=False)

    def start(self):
        cmd = [str(self.binary), "serve", "--listen", "127.0.0.1:0", "--speed", "0",
               "--auth-id", AUTH_ID, "--auth-token", AUTH_TOKEN]
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info,tower_http=warn")
        env["NO_COLOR"] = "1"
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, env=env, text=True)
        lines = queue.Queue()

        def read():
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            m = re.search(r"http://(127\.0\.0\.1:\d+)/v1/Account/", line)
            if m:
                self.base = f"http://{m.group(1)}"
                return
        raise RuntimeError(f"plivo-flow serve printed no banner (exit status {self.proc.poll()}); "
                           f"log: {self.log.name}")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def log_tail(self, n=40):
        try:
            return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def raw(server, method, path, data=None, auth=(AUTH_ID, AUTH_TOKEN), form=False):
    """A plain HTTP request to the server: (status, parsed JSON or text)."""
    body = None
    headers = {}
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    if data is not None:
        if form:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(server.base + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


# --------------------------------------------------------------------------- the tests

class Ctx:
    """What every test needs."""

    def __init__(self, server, app, client):
        self.server = server
        self.app = app
        self.client = client
        self.counter = 0

    def conf_doc(self, room, callback_method="POST", callback_query=""):
        """Answer XML joining `room`, with a conference callback, then a Speak."""
        self.counter += 1
        cb = f"{self.app.base}/conf-cb/{self.counter}{callback_query}"
        return (f'<Response><Conference callbackUrl="{xml_escape(cb)}" callbackMethod="{callback_method}">'
                f"{xml_escape(room)}</Conference><Speak>Next element</Speak></Response>")

    def answer_url(self, room, **kw):
        self.counter += 1
        path = f"/answer/{self.counter}"
        return self.app.serve(path, self.conf_doc(room, **kw))

    def hangup_url(self):
        return f"{self.app.base}/hangup/"

    def sim_call(self, room, caller="14155550101", to="14155550199", method="POST", caller_name=None,
                 answer_url=None, form=False):
        data = {
            "from": caller,
            "to": to,
            "answer_url": answer_url or self.answer_url(room),
            "answer_method": method,
            "hangup_url": self.hangup_url(),
        }
        if caller_name:
            data["caller_name"] = caller_name
        status, body = raw(self.server, "POST", "/sim/Call/", data, form=form)
        if status != 201 or not isinstance(body, dict) or "call_uuid" not in body:
            raise AssertionError(f"POST /sim/Call/ -> {status} {body!r}")
        return body["call_uuid"]

    def members(self, room):
        """{call_uuid: member} of a room through the SDK; {} when it does not exist."""
        try:
            conf = self.client.conferences.get(room)
        except plivo_exc.ResourceNotFoundError:
            return {}
        return {m.call_uuid: m for m in conf.members}

    def wait_members(self, room, uuids):
        """Waits until every call in uuids is a member of room; returns {uuid: member}."""
        uuids = set(uuids)
        return wait_for(lambda: (lambda ms: ms if uuids <= set(ms) else None)(self.members(room))) or {}

    def transcript(self):
        status, text = raw(self.server, "GET", "/sim/Transcript/")
        return text if status == 200 and isinstance(text, str) else ""

    def spoke_next(self, uuid):
        return f'{uuid}  spoke "Next element"' in self.transcript()

    def call_of(self, request_uuid):
        """The CallUUID of the call the make-call request request_uuid started, read from its
        webhooks (they carry the request id as ALegRequestUUID; Plivo's two ids differ)."""
        hits = wait_for(lambda: self.app.find(ALegRequestUUID=request_uuid))
        return hits[0]["params"].get("CallUUID") if hits else None

    def hangups(self, uuid):
        return self.app.find("/hangup/", CallUUID=uuid)

    def conf_events(self, uuid, action):
        return self.app.find("/conf-cb/", CallUUID=uuid, ConferenceAction=action)

    def call_continued(self, label, uuid, member_id, room):
        """After a kick or a room end: the exit callback fired once, the call spoke the next
        element and hung up with 4010 (end of XML)."""
        exits = wait_for(lambda: self.conf_events(uuid, "exit"))
        check(f"{label}: conference exit callback arrived", bool(exits),
              f"webhooks for {uuid}: {[r['path'] for r in self.app.find(CallUUID=uuid)]}")
        if exits:
            e = exits[0]["params"]
            check(f"{label}: exit callback names the room and member",
                  e.get("ConferenceName") == room and e.get("ConferenceMemberID") == str(member_id), str(e))
        check(f"{label}: the call continued with the next element (transcript)",
              wait_for(lambda: self.spoke_next(uuid)), self.transcript()[-2000:])
        hup = wait_for(lambda: self.hangups(uuid))
        check(f"{label}: hangup_url arrived with HangupCauseCode=4010",
              bool(hup) and hup[0]["params"].get("HangupCauseCode") == "4010",
              str(hup[0]["params"]) if hup else "no hangup webhook")
        time.sleep(0.2)  # a duplicate would come right after
        check(f"{label}: exactly one exit callback", len(self.conf_events(uuid, "exit")) == 1,
              f"{len(self.conf_events(uuid, 'exit'))} exit callbacks")


def test_make_call(ctx):
    room = "My Room"
    answer = ctx.answer_url(room)
    resp = ctx.client.calls.create(
        from_="14155550100", to_="14155550200", answer_url=answer, answer_method="POST",
        hangup_url=ctx.hangup_url())
    request = getattr(resp, "request_uuid", None)
    check("make-call: response has a request_uuid string", isinstance(request, str) and len(request) > 0, repr(resp))
    check("make-call: response has message and api_id",
          getattr(resp, "message", None) == "call fired" and bool(getattr(resp, "api_id", None)), repr(resp))
    uuid = ctx.call_of(request)
    ans = wait_for(lambda: ctx.app.find("/answer/", CallUUID=uuid))
    check("make-call: answer_url fetched with the call's own CallUUID and the request's "
          "ALegRequestUUID/RequestUUID",
          bool(ans) and uuid != request and ans[0]["params"].get("RequestUUID") == request, str(ans[:1]))
    if ans:
        p = ans[0]["params"]
        check("make-call: answer request is POST with From/To/Direction=outbound",
              ans[0]["method"] == "POST" and p.get("From") == "14155550100" and p.get("To") == "14155550200"
              and p.get("Direction") == "outbound", str(p))
    members = ctx.wait_members(room, [uuid])
    check("make-call: the call joined the conference", uuid in members,
          f"members: {list(members)}")
    enter = wait_for(lambda: ctx.conf_events(uuid, "enter"))
    check("make-call: conference enter callback arrived", bool(enter))
    return uuid


def test_make_call_get(ctx):
    """answer_method GET and a URL with its own query: the GET signature covers the query."""
    room = "Get Room"
    ctx.counter += 1
    path = f"/answer/get-{ctx.counter}"
    ctx.app.serve(path, ctx.conf_doc(room, callback_method="GET", callback_query="?src=conf&tag=a%20b"))
    answer = f"{ctx.app.base}{path}?app=plivo-flow&n=1"
    resp = ctx.client.calls.create(
        from_="14155550110", to_="14155550210", answer_url=answer, answer_method="GET",
        hangup_url=ctx.hangup_url() + "?via=hangup", hangup_method="POST")
    uuid = ctx.call_of(resp.request_uuid)
    ans = wait_for(lambda: ctx.app.find(path, CallUUID=uuid))
    check("make-call GET: answer fetched with GET and the URL's own query kept",
          bool(ans) and ans[0]["method"] == "GET" and ans[0]["params"].get("app") == "plivo-flow",
          str(ans[0] if ans else None))
    enter = wait_for(lambda: ctx.conf_events(uuid, "enter"))
    check("make-call GET: GET conference callback with its query arrived",
          bool(enter) and enter[0]["method"] == "GET" and enter[0]["params"].get("src") == "conf"
          and enter[0]["params"].get("tag") == "a b", str(enter[0] if enter else None))
    members = ctx.wait_members(room, [uuid])
    mid = members[uuid].member_id if uuid in members else None
    r = ctx.client.conferences.member_kick(room, mid)
    check("make-call GET: kick 202 kicked", getattr(r, "message", None) == "kicked", repr(r))
    hup = wait_for(lambda: ctx.hangups(uuid))
    check("make-call GET: hangup_url with a query got POST + 4010",
          bool(hup) and hup[0]["method"] == "POST" and hup[0]["query"].get("via") == "hangup"
          and hup[0]["params"].get("HangupCauseCode") == "4010", str(hup[0] if hup else None))


def test_conference_get_list_kick(ctx, first_uuid):
    room = "My Room"
    b = ctx.sim_call(room, caller="14155550102", caller_name="Bob")
    c = ctx.sim_call(room, caller="14155550103", form=True)
    d = ctx.sim_call(room, caller="14155550104", method="GET")
    e = ctx.sim_call(room, caller="14155550105")
    uuids = [first_uuid, b, c, d, e]
    members = ctx.wait_members(room, uuids)
    check("get: all five calls are members of 'My Room'", set(uuids) <= set(members), f"got {list(members)}")
    if not set(uuids) <= set(members):
        return

    conf = ctx.client.conferences.get(room)
    check("get: conference_name is 'My Room'", conf.conference_name == room, repr(conf.conference_name))
    check("get: conference_member_count is '5'", str(conf.conference_member_count) == "5",
          repr(conf.conference_member_count))
    check("get: has conference_run_time and api_id",
          "conference_run_time" in conf and bool(getattr(conf, "api_id", None)), repr(conf))
    keys = {"muted", "deaf", "from", "to", "caller_name", "direction", "call_uuid", "join_time", "member_id"}
    missing = [(m.call_uuid, sorted(keys - set(vars(m)))) for m in conf.members if not keys <= set(vars(m))]
    check("get: every member has muted/deaf/from/to/caller_name/direction/call_uuid/join_time/member_id",
          not missing, str(missing))
    check("get: member ids are strings", all(isinstance(m.member_id, str) for m in conf.members),
          str([m.member_id for m in conf.members]))
    check("get: muted/deaf are booleans, false",
          all(m.muted is False and m.deaf is False for m in conf.members),
          str([(m.muted, m.deaf) for m in conf.members]))
    check("get: member ids are distinct", len({m.member_id for m in conf.members}) == 5)
    mb = members[b]
    check("get: from/to/caller_name/direction of a simulated inbound call",
          (mb["from"], mb.to, mb.caller_name, mb.direction) == ("14155550102", "14155550199", "Bob", "inbound"),
          repr(mb))
    ma = members[first_uuid]
    check("get: the make-call member is outbound from/to as created",
          (ma["from"], ma.to, ma.direction) == ("14155550100", "14155550200", "outbound"), repr(ma))

    lst = ctx.client.conferences.list()
    check("list: 'My Room' is listed", room in list(getattr(lst, "conferences", []) or []), repr(lst))

    # Kick one member.
    ida = ma.member_id
    r = ctx.client.conferences.member_kick(room, ida)
    check("kick one: message 'kicked', member_id echoed",
          getattr(r, "message", None) == "kicked" and str(getattr(r, "member_id", None)) == ida, repr(r))
    ctx.call_continued("kick one", first_uuid, ida, room)
    left = ctx.members(room)
    check("kick one: the member is gone, the others stay", first_uuid not in left and len(left) == 4,
          str(list(left)))

    # Kick a comma list.
    idb, idc = members[b].member_id, members[c].member_id
    r = ctx.client.conferences.member_kick(room, f"{idb},{idc}")
    check("kick list: message 'kicked'", getattr(r, "message", None) == "kicked", repr(r))
    ctx.call_continued("kick list (1st)", b, idb, room)
    ctx.call_continued("kick list (2nd)", c, idc, room)
    left = ctx.members(room)
    check("kick list: two left, two stay", set(left) == {d, e}, str(list(left)))

    # Kick all.
    r = ctx.client.conferences.member_kick(room, "all")
    check("kick all: message 'kicked'", getattr(r, "message", None) == "kicked", repr(r))
    ctx.call_continued("kick all (GET-answered call)", d, members[d].member_id, room)
    ctx.call_continued("kick all (last call)", e, members[e].member_id, room)
    gone = wait_for(lambda: ctx.members(room) == {} and "My Room" not in (ctx.client.conferences.list().conferences))
    check("kick all: the room is gone", bool(gone))
    CHECKS.raises("kick all: get of the emptied room -> ResourceNotFoundError",
               plivo_exc.ResourceNotFoundError, lambda: ctx.client.conferences.get(room))


def test_mute_deaf(ctx):
    room = "Mute Room"
    a = ctx.sim_call(room, caller="14155550121")
    b = ctx.sim_call(room, caller="14155550122")
    members = ctx.wait_members(room, [a, b])
    check("mute: both calls joined", {a, b} <= set(members))
    ida, idb = members[a].member_id, members[b].member_id
    conf = ctx.client.conferences

    r = conf.member_mute(room, ida)
    check("mute: message 'muted'", getattr(r, "message", None) == "muted", repr(r))
    m = ctx.members(room)
    check("mute: get shows the member muted, the other not", m[a].muted is True and m[b].muted is False,
          f"{m[a].muted} {m[b].muted}")
    r = conf.member_mute_stop(room, ida)
    check("mute_stop: returns (204, no body)", r is None, repr(r))
    m = ctx.members(room)
    check("mute_stop: get shows the member unmuted", m[a].muted is False, repr(m[a]))
    r = conf.member_mute(room, "all")
    check("mute all: message 'muted'", getattr(r, "message", None) == "muted", repr(r))
    m = ctx.members(room)
    check("mute all: every member muted", all(x.muted is True for x in m.values()), str([x.muted for x in m.values()]))
    conf.member_mute_stop(room, f"{ida},{idb}")
    m = ctx.members(room)
    check("mute_stop list: every member unmuted", all(x.muted is False for x in m.values()))

    r = conf.member_deaf(room, idb)
    check("deaf: message 'deaf'", getattr(r, "message", None) == "deaf", repr(r))
    m = ctx.members(room)
    check("deaf: get shows the member deaf, the other not", m[b].deaf is True and m[a].deaf is False,
          f"{m[a].deaf} {m[b].deaf}")
    r = conf.member_deaf_stop(room, idb)
    check("deaf_stop: returns (204, no body)", r is None, repr(r))
    m = ctx.members(room)
    check("deaf_stop: get shows the member hearing again", m[b].deaf is False, repr(m[b]))
    # An int member id (the SDK sends a JSON number in the body and the digits in the path).
    r = conf.member_deaf(room, int(ida))
    check("deaf with an int member id: message 'deaf'", getattr(r, "message", None) == "deaf", repr(r))
    conf.member_deaf_stop(room, int(ida))
    CHECKS.raises("mute of an unknown member -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
               lambda: conf.member_mute(room, "999"))
    conf.member_kick(room, "all")
    for u in (a, b):
        wait_for(lambda: ctx.hangups(u))


def test_play_speak(ctx):
    room = "Media Room"
    a = ctx.sim_call(room, caller="14155550131")
    b = ctx.sim_call(room, caller="14155550132")
    members = ctx.wait_members(room, [a, b])
    check("play/speak: both calls joined", {a, b} <= set(members))
    ida = members[a].member_id
    conf = ctx.client.conferences

    r = conf.member_play(room, ida, "https://media.example.com/hold-music.mp3")
    check("play: message 'play queued into conference'",
          getattr(r, "message", None) == "play queued into conference", repr(r))
    r = conf.member_play_stop(room, ida)
    check("play_stop: returns (204, no body)", r is None, repr(r))
    r = conf.member_play(room, "all", "https://media.example.com/announcement.wav")
    check("play all: queued", getattr(r, "message", None) == "play queued into conference", repr(r))
    r = conf.member_speak(room, ida, "Hello member", voice="MAN", language="en-GB")
    check("speak: message 'speak queued into conference'",
          getattr(r, "message", None) == "speak queued into conference", repr(r))
    r = conf.member_speak_stop(room, ida)
    check("speak_stop: returns (204, no body)", r is None, repr(r))
    r = conf.member_speak(room, "all", "Hello everybody")
    check("speak all (default voice): queued",
          getattr(r, "message", None) == "speak queued into conference", repr(r))
    t = wait_for(lambda: (lambda s: s if "Hello member" in s and "Hello everybody" in s else None)(ctx.transcript()))
    check("play/speak: the transcript shows the spoken texts", bool(t), ctx.transcript()[-1500:])
    m = ctx.members(room)
    check("play/speak: both members are still in the room", {a, b} <= set(m), str(list(m)))
    CHECKS.raises("speak with a bad voice -> ValidationError", plivo_exc.ValidationError,
               lambda: conf.member_speak(room, ida, "x", voice="ROBOT"))
    conf.member_kick(room, "all")
    for u in (a, b):
        wait_for(lambda: ctx.hangups(u))


def test_member_hangup(ctx):
    room = "Hangup Room"
    a = ctx.sim_call(room, caller="14155550141")
    b = ctx.sim_call(room, caller="14155550142")
    members = ctx.wait_members(room, [a, b])
    check("member_hangup: both calls joined", {a, b} <= set(members))
    ida = members[a].member_id
    r = ctx.client.conferences.member_hangup(room, ida)
    check("member_hangup: returns (204, no body)", r is None, repr(r))
    hup = wait_for(lambda: ctx.hangups(a))
    check("member_hangup: the call ended (hangup_url arrived)", bool(hup))
    if hup:
        check("member_hangup: the hangup is not the end of the XML (no 4010)",
              hup[0]["params"].get("HangupCauseCode") != "4010", str(hup[0]["params"]))
    time.sleep(0.2)
    check("member_hangup: the call did not go on to the next element", not ctx.spoke_next(a),
          ctx.transcript()[-1500:])
    m = ctx.members(room)
    check("member_hangup: the other member stays", set(m) == {b}, str(list(m)))
    CHECKS.raises("member_hangup of the departed member -> ResourceNotFoundError",
               plivo_exc.ResourceNotFoundError, lambda: ctx.client.conferences.member_hangup(room, ida))
    ctx.client.conferences.member_kick(room, "all")
    wait_for(lambda: ctx.hangups(b))


def test_conference_delete(ctx):
    room = "Delete Room"
    a = ctx.sim_call(room, caller="14155550151")
    b = ctx.sim_call(room, caller="14155550152")
    members = ctx.wait_members(room, [a, b])
    check("delete: both calls joined", {a, b} <= set(members))
    r = ctx.client.conferences.delete(room)
    check("delete: returns (204, no body)", r is None, repr(r))
    CHECKS.raises("delete: get afterwards -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
               lambda: ctx.client.conferences.get(room))
    ctx.call_continued("delete (1st member)", a, members[a].member_id, room)
    ctx.call_continued("delete (2nd member)", b, members[b].member_id, room)
    CHECKS.raises("delete again -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
               lambda: ctx.client.conferences.delete(room))


def test_record(ctx):
    room = "Record Room"
    a = ctx.sim_call(room, caller="14155550161")
    members = ctx.wait_members(room, [a])
    check("record: the call joined", a in members)
    cb = f"{ctx.app.base}/record-cb/"
    r = ctx.client.conferences.record(room, file_format="wav", callback_url=cb, callback_method="POST")
    check("record: message 'conference recording started'",
          getattr(r, "message", None) == "conference recording started", repr(r))
    check("record: recording_id and url", bool(getattr(r, "recording_id", None)) and bool(getattr(r, "url", None)),
          repr(r))
    r2 = ctx.client.conferences.record_stop(room)
    check("record_stop: returns (204, no body)", r2 is None, repr(r2))
    rec = wait_for(lambda: ctx.app.find("/record-cb/"))
    check("record_stop: the recording callback arrived", bool(rec),
          f"webhook paths: {sorted({x['path'] for x in ctx.app.all()})}")
    CHECKS.raises("record of an unknown room -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
               lambda: ctx.client.conferences.record("No Such Room", file_format="mp3"))
    CHECKS.raises("record with a bad file_format -> ValidationError", plivo_exc.ValidationError,
               lambda: ctx.client.conferences.record(room, file_format="ogg"))
    ctx.client.conferences.member_kick(room, "all")
    wait_for(lambda: ctx.hangups(a))


def test_delete_all(ctx):
    rooms = ["All Room One", "All Room Two"]
    calls = {}
    for i, room in enumerate(rooms):
        calls[room] = ctx.sim_call(room, caller=f"1415555017{i}")
    for room, u in calls.items():
        check(f"delete_all: call joined '{room}'", u in ctx.wait_members(room, [u]))
    lst = ctx.client.conferences.list()
    check("delete_all: list shows both rooms", set(rooms) <= set(lst.conferences), repr(lst))
    r = ctx.client.conferences.delete_all()
    check("delete_all: returns (204, no body)", r is None, repr(r))
    lst = ctx.client.conferences.list()
    check("delete_all: list is empty afterwards", list(lst.conferences) == [], repr(lst))
    for room, u in calls.items():
        ctx.call_continued(f"delete_all ('{room}')", u, ctx.conf_events(u, "enter")[0]["params"]["ConferenceMemberID"]
                           if ctx.conf_events(u, "enter") else "?", room)
    r = ctx.client.conferences.delete_all()
    check("delete_all with no rooms: still 204", r is None, repr(r))


def test_room_names(ctx):
    """Names the Python SDK puts in the path: UTF-8 percent-encoded, or raw (+ ; & %)."""
    for room in ["Salle Café", "A+B Room", "50% Room", "x;y Room", "Tom & Jerry"]:
        u = ctx.sim_call(room, caller="14155550191")
        members = ctx.wait_members(room, [u])
        check(f"room name {room!r}: get finds the member", u in members, str(list(members)))
        if u not in members:
            continue
        lst = ctx.client.conferences.list()
        check(f"room name {room!r}: listed verbatim", room in lst.conferences, repr(lst))
        r = ctx.client.conferences.member_kick(room, members[u].member_id)
        check(f"room name {room!r}: kick 202", getattr(r, "message", None) == "kicked", repr(r))
        exits = wait_for(lambda: ctx.conf_events(u, "exit"))
        check(f"room name {room!r}: exit callback carries the name",
              bool(exits) and exits[0]["params"].get("ConferenceName") == room,
              str(exits[0]["params"] if exits else None))
        wait_for(lambda: ctx.hangups(u))


def test_calls_api(ctx):
    room = "Call Room"
    # Bulk make-call: several destinations separated by `<`.
    r = ctx.client.calls.create(from_="14155550100", to_="14155550401<14155550402",
                                answer_url=ctx.answer_url(room), hangup_url=ctx.hangup_url())
    requests = getattr(r, "request_uuid", None)
    check("bulk make-call: request_uuid is a list of two", isinstance(requests, list) and len(requests) == 2, repr(r))
    if not (isinstance(requests, list) and len(requests) == 2):
        return
    uuids = [ctx.call_of(q) for q in requests]
    members = ctx.wait_members(room, uuids)
    check("bulk make-call: both calls joined", set(uuids) <= set(members), str(list(members)))
    check("bulk make-call: one call per destination",
          sorted(m.to for m in members.values()) == ["14155550401", "14155550402"],
          str([m.to for m in members.values()]))
    u1, u2 = uuids

    c = ctx.client.calls.get(u1)
    check("calls.get: a live call's details",
          getattr(c, "call_uuid", None) == u1 and getattr(c, "direction", None) == "outbound"
          and getattr(c, "call_status", None) == "in-progress", repr(c))
    c = ctx.client.live_calls.get(u1)
    check("live_calls.get: the live call", getattr(c, "call_uuid", None) == u1, repr(c))
    ids = ctx.client.live_calls.list_ids()
    check("live_calls.list_ids: lists both calls", set(uuids) <= set(getattr(ids, "calls", []) or []), repr(ids))
    try:
        for _call in ctx.client.calls.list():  # ListResponseObject iterates `objects`
            pass
        check("calls.list: the SDK can iterate the result (needs `objects`)", True)
    except Exception as e:  # noqa: BLE001
        check("calls.list: the SDK can iterate the result (needs `objects`)", False,
              f"{type(e).__name__}: {e}; the server answered GET /Call/ with "
              f"{raw(ctx.server, 'GET', f'/v1/Account/{AUTH_ID}/Call/?limit=20&offset=0')}")

    # Transfer: the call leaves its room and runs the new document.
    other = "Transfer Room"
    r = ctx.client.calls.update(u1, legs="aleg", aleg_url=ctx.answer_url(other), aleg_method="POST")
    check("calls.update (transfer): 202 'call transferred'", getattr(r, "message", None) == "call transferred",
          repr(r))
    moved = ctx.wait_members(other, [u1])
    check("calls.update: the call joined the new document's room", u1 in moved, str(list(moved)))
    check("calls.update: the old room's exit callback fired", bool(wait_for(lambda: ctx.conf_events(u1, "exit"))))

    # Hang up through the API.
    r = ctx.client.calls.delete(u1)
    check("calls.delete: returns (204, no body)", r is None, repr(r))
    hup = wait_for(lambda: ctx.hangups(u1))
    check("calls.delete: hangup_url with HangupSource 'API Request', not 4010",
          bool(hup) and hup[0]["params"].get("HangupSource") == "API Request"
          and hup[0]["params"].get("HangupCauseCode") != "4010", str(hup[0]["params"] if hup else None))
    check("calls.delete: no next element after an API hangup", not ctx.spoke_next(u1))
    CHECKS.raises("calls.delete of the ended call -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
               lambda: ctx.client.calls.delete(u1))

    # The caller hangs up (simulated phone): the member leaves, the room sees it.
    status, _ = raw(ctx.server, "DELETE", f"/sim/Call/{u2}/")
    check("sim hangup: 204", status == 204, str(status))
    hup = wait_for(lambda: ctx.hangups(u2))
    check("sim hangup: hangup_url arrived", bool(hup))
    gone = wait_for(lambda: ctx.members(room) == {})
    check("sim hangup: the room emptied", bool(gone))



def test_far_end_and_call_options(ctx):
    """/sim/FarEnd/ scripts the called party; calls.create's ring_timeout, time_limit,
    hangup_on_ring, send_digits, caller_name, machine_detection and bulk `to` are honoured,
    and an option plivo-flow cannot honour is refused by name."""
    def far_end(**data):
        status, body = raw(ctx.server, "POST", "/sim/FarEnd/", data)
        check(f"/sim/FarEnd/ {data} -> 201", status == 201, f"{status} {body!r}")

    def hangup_of(request):
        hits = wait_for(lambda: ctx.app.find("/hangup/", RequestUUID=request))
        return hits[0]["params"] if hits else {}

    speak = ctx.app.serve("/answer/far-speak", "<Response><Speak>Hello</Speak></Response>")
    room = ctx.answer_url("Far Room")
    create = ctx.client.calls.create

    far_end(number="14155550901", answer="busy")
    r = create(from_="14155550100", to_="14155550901", answer_url=speak, hangup_url=ctx.hangup_url())
    h = hangup_of(r.request_uuid)
    check("far end busy: hangup_url with 3010 Busy Line, source Callee",
          h.get("HangupCauseCode") == "3010" and h.get("HangupSource") == "Callee", str(h))
    check("far end busy: the answer URL is never fetched",
          not ctx.app.find("/answer/far-speak", RequestUUID=r.request_uuid), "")

    far_end(number="14155550902", answer_after=10)
    r = create(from_="14155550100", to_="14155550902", answer_url=speak, hangup_url=ctx.hangup_url(),
               ring_timeout=5)
    h = hangup_of(r.request_uuid)
    check("ring_timeout=5 with the far end answering after 10 s: 9020 Ring Timeout Reached",
          h.get("HangupCauseCode") == "9020", str(h))
    r = create(from_="14155550100", to_="14155550902", answer_url=speak, hangup_url=ctx.hangup_url(),
               hangup_on_ring=3)
    h = hangup_of(r.request_uuid)
    check("hangup_on_ring=3 with the far end answering after 10 s: 9040 Hangup On Ring",
          h.get("HangupCauseCode") == "9040", str(h))

    r = create(from_="14155550100", to_="14155550903", answer_url=room, hangup_url=ctx.hangup_url(),
               time_limit=1)
    h = hangup_of(r.request_uuid)
    check("time_limit=1: the answered call is hung up with 9030 Time Limit Reached",
          h.get("HangupCauseCode") == "9030" and h.get("HangupSource") == "Plivo", str(h))

    r = create(from_="14155550100", to_="14155550901<14155550904", answer_url=speak, hangup_url=ctx.hangup_url())
    requests = getattr(r, "request_uuid", None)
    check("bulk to: request_uuid is a list of two", isinstance(requests, list) and len(requests) == 2, repr(r))
    if isinstance(requests, list) and len(requests) == 2:
        codes = sorted(hangup_of(q).get("HangupCauseCode", "none") for q in requests)
        check("bulk to: the busy number ends with 3010, the other runs its document (4010)",
              codes == ["3010", "4010"], str(codes))

    r = create(from_="14155550100", to_="14155550905", answer_url=speak, hangup_url=ctx.hangup_url(),
               send_digits="1w2", caller_name="Desk")
    hangup_of(r.request_uuid)
    ans = ctx.app.find("/answer/far-speak", RequestUUID=r.request_uuid)
    check("caller_name is sent as CallerName", bool(ans) and ans[0]["params"].get("CallerName") == "Desk",
          str(ans[:1]))
    check("send_digits are sent once answered (transcript)", "send digits 1w2" in ctx.transcript(),
          ctx.transcript()[-1500:])

    far_end(number="14155550906", machine="true")
    r = create(from_="14155550100", to_="14155550906", answer_url=room, hangup_url=ctx.hangup_url(),
               machine_detection="hangup", machine_detection_time=2000)
    h = hangup_of(r.request_uuid)
    check("machine_detection=hangup on a machine: 9050 Machine Detected", h.get("HangupCauseCode") == "9050", str(h))
    md = f"{ctx.app.base}/machine/"
    r = create(from_="14155550100", to_="14155550906", answer_url=speak, hangup_url=ctx.hangup_url(),
               machine_detection="true", machine_detection_url=md)
    hits = wait_for(lambda: ctx.app.find("/machine/", RequestUUID=r.request_uuid))
    check("machine_detection=true: machine_detection_url is told Machine=true",
          bool(hits) and hits[0]["params"].get("Machine") == "true", str(hits[:1]))

    e = CHECKS.raises("calls.create with sip_headers -> ValidationError naming it", plivo_exc.ValidationError,
                      lambda: create(from_="14155550100", to_="14155550907", answer_url=speak, sip_headers="a=b"))
    check("the 400 names sip_headers", e is not None and "sip_headers" in str(e), str(e))

    # <Dial> to a number scripted busy: the action gets DialStatus=busy.
    dialed = ctx.app.serve("/dialed/far", "<Response><Hangup/></Response>")
    dial = ctx.app.serve("/answer/far-dial",
                         f'<Response><Dial action="{xml_escape(dialed)}"><Number>14155550901</Number></Dial></Response>')
    ctx.sim_call(None, caller="14155550102", answer_url=dial)
    act = wait_for(lambda: ctx.app.find("/dialed/far"))
    check("<Dial> to a busy far end: action with DialStatus=busy",
          bool(act) and act[0]["params"].get("DialStatus") == "busy", str(act[:1]))

    status, body = raw(ctx.server, "GET", "/sim/FarEnd/")
    check("GET /sim/FarEnd/ lists the entries", status == 200 and len(body.get("far_ends", [])) == 3,
          f"{status} {body!r}")
    status, _ = raw(ctx.server, "DELETE", "/sim/FarEnd/")
    status2, body = raw(ctx.server, "GET", "/sim/FarEnd/")
    check("DELETE /sim/FarEnd/ resets the table", status == 204 and body.get("far_ends") == [], f"{status} {body!r}")


def settle(ctx):
    """Waits until the server has settled (nothing in flight, nothing due now)."""
    raw(ctx.server, "GET", "/sim/Settled/?timeout_ms=10000")


def test_call_actions(ctx):
    """The Call API on a live call: play, speak, DTMF, record (start/stop), cancel."""
    room = "Call API Room"
    u = ctx.sim_call(room, caller="14155550701")
    ctx.wait_members(room, [u])
    calls = ctx.client.calls

    r = calls.play(u, "https://media.example/music.mp3", loop=True)
    check("calls.play: 202 'play started'", getattr(r, "message", None) == "play started", repr(r))
    settle(ctx)
    check("calls.play: the transcript shows the API play",
          f"{u}  playing https://media.example/music.mp3 (API, looping)" in ctx.transcript())
    r = calls.stop_playing(u)
    check("calls.stop_playing: returns (204, no body)", r is None, repr(r))
    CHECKS.raises("calls.stop_playing with nothing playing -> ResourceNotFoundError",
                  plivo_exc.ResourceNotFoundError, lambda: calls.stop_playing(u))

    r = calls.speak(u, "Hello from the API", voice="MAN", loop=True)
    check("calls.speak: 202 'speak started'", getattr(r, "message", None) == "speak started", repr(r))
    settle(ctx)
    check("calls.speak: the transcript shows the API speech",
          f'{u}  speaking "Hello from the API" (API, looping)' in ctx.transcript())
    r = calls.stop_speaking(u)
    check("calls.stop_speaking: returns (204, no body)", r is None, repr(r))

    r = calls.send_digits(u, "1234#")
    check("calls.send_digits: 202 'digits sent'", getattr(r, "message", None) == "digits sent", repr(r))
    settle(ctx)
    check("calls.send_digits: the transcript shows the tones", f"{u}  sent tones 1234#" in ctx.transcript())
    CHECKS.raises("calls.send_digits to a B leg that does not exist -> ValidationError", plivo_exc.ValidationError,
                  lambda: calls.send_digits(u, "1", leg="bleg"))

    cb = ctx.app.base + "/call-rec-cb/"
    r = calls.record(u, file_format="wav", time_limit=120, callback_url=cb, callback_method="POST")
    rec_id = getattr(r, "recording_id", None)
    check("calls.record: 202 'call recording started' with recording_id and url",
          getattr(r, "message", None) == "call recording started" and rec_id
          and str(getattr(r, "url", "")).endswith(f"{rec_id}.wav"), repr(r))
    r = calls.record_stop(u)
    check("calls.record_stop: returns (204, no body)", r is None, repr(r))
    hit = wait_for(lambda: ctx.app.find("/call-rec-cb/", RecordingID=rec_id))
    check("calls.record: callback_url got the recording (RecordingID, RecordUrl)",
          bool(hit) and hit[0]["params"].get("RecordUrl", "").endswith(".wav"), str(hit[0]["params"] if hit else None))
    CHECKS.raises("calls.record_stop when not recording -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
                  lambda: calls.record_stop(u))

    # The Recording API sees the file.
    lst = ctx.client.recordings.list(call_uuid=u)
    objs = list(lst)
    check("recordings.list(call_uuid=...): the call's one recording",
          len(objs) == 1 and getattr(objs[0], "recording_id", None) == rec_id
          and getattr(objs[0], "recording_format", None) == "wav"
          and getattr(objs[0], "recording_type", None) == "call", repr(lst))
    check("recordings.list: meta.total_count 1", lst.meta["total_count"] == 1, repr(getattr(lst, "meta", None)))
    g = ctx.client.recordings.get(rec_id)
    check("recordings.get: the recording", getattr(g, "recording_id", None) == rec_id
          and getattr(g, "call_uuid", None) == u, repr(g))
    r = ctx.client.recordings.delete(rec_id)
    check("recordings.delete: returns (204, no body)", r is None, repr(r))
    CHECKS.raises("recordings.get of a deleted recording -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
                  lambda: ctx.client.recordings.get(rec_id))
    CHECKS.raises("recordings.delete of a deleted recording -> ResourceNotFoundError",
                  plivo_exc.ResourceNotFoundError, lambda: ctx.client.recordings.delete(rec_id))

    # Cancel: the simulated callee answers at once, so the request is not waiting any more.
    made = calls.create(from_="14155550100", to_="14155550702", answer_url=ctx.answer_url(room))
    request = getattr(made, "request_uuid", None)
    b = ctx.call_of(request)
    ctx.wait_members(room, [b])
    e = CHECKS.raises("calls.cancel of an answered request -> ResourceNotFoundError",
                      plivo_exc.ResourceNotFoundError, lambda: calls.cancel(request))
    check("calls.cancel: the message says the call was answered", e is not None and "answered" in str(e), str(e))
    q = ctx.client.queued_calls.list_ids()
    check("queued_calls.list_ids: no queued call", getattr(q, "calls", None) == [], repr(q))
    ids = ctx.client.live_calls.list_ids(call_direction="outbound")
    check("live_calls.list_ids(call_direction='outbound'): the outbound call only",
          b in (getattr(ids, "calls", None) or []) and u not in (getattr(ids, "calls", None) or []), repr(ids))
    e = CHECKS.raises("an unimplemented endpoint -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
                      lambda: ctx.client.request("GET", ("Number",), is_voice_request=True))
    check("the 404 says the endpoint is not implemented by plivo-flow",
          e is not None and "is not implemented by plivo-flow" in str(e), str(e))
    calls.delete(b)
    calls.delete(u)
    wait_for(lambda: ctx.hangups(u) and ctx.hangups(b))


def download(url):
    """GET url without credentials: (status, Content-Type, body bytes)."""
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def wav_ms(body):
    """The length in ms of an 8 kHz 16-bit mono PCM WAV file; None when it is not one."""
    import io
    import wave
    try:
        with wave.open(io.BytesIO(body)) as w:
            if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, 8000):
                return None
            frames = w.getnframes()
            if len(w.readframes(frames)) != frames * 2:
                return None
            return frames * 1000 // 8000
    except (wave.Error, EOFError):
        return None


def check_file(name, url, duration_ms):
    """RecordUrl downloads without credentials as a WAV of exactly duration_ms."""
    status, ctype, body = download(url)
    check(f"{name}: the URL is the server's own", url.startswith(f"{SERVER_BASE[0]}/v1/Account/{AUTH_ID}/Recording/"),
          url)
    check(f"{name}: GET without credentials -> 200 audio/wav", status == 200 and ctype == "audio/wav",
          f"{status} {ctype}")
    got = wav_ms(body) if status == 200 else None
    check(f"{name}: a WAV of the reported {duration_ms} ms", got == duration_ms, f"{got} ms, {len(body)} bytes")


def check_epoch(name, params):
    """RecordingStartMs/EndMs are Unix epoch ms of about now, End - Start = DurationMs."""
    start, end = int(params.get("RecordingStartMs", "0")), int(params.get("RecordingEndMs", "0"))
    duration = int(params.get("RecordingDurationMs", "-2"))
    now = time.time() * 1000
    check(f"{name}: RecordingStartMs is epoch ms of about now", now - 60_000 < start <= now + 1000,
          f"{start} vs now {now:.0f}")
    check(f"{name}: RecordingEndMs - RecordingStartMs == RecordingDurationMs", end - start == duration,
          str(params))


def test_recording_files(ctx):
    """Recordings as Plivo gives them: epoch ms, and a RecordUrl that downloads a WAV of the
    reported length until the recording is deleted."""
    # A <Record> with an action (at --speed 0 the caller talks for 0 ms: a 0 ms file).
    action = ctx.app.base + "/rec-action/"
    doc = ctx.app.serve("/rec-doc", f'<Response><Record action="{action}" fileFormat="wav" playBeep="false" '
                                    f'redirect="false"/></Response>')
    u = ctx.sim_call(None, caller="14155550801", answer_url=doc)
    hit = wait_for(lambda: ctx.app.find("/rec-action/", CallUUID=u))
    p = hit[0]["params"] if hit else {}
    check("<Record> action arrived", bool(hit))
    check_epoch("<Record> action", p)
    check_file("<Record> action RecordUrl", p.get("RecordUrl", ""), int(p.get("RecordingDurationMs", "-1")))

    # A Call API recording of about 300 ms, in Plivo's default format (mp3).
    room = "Recording Files Room"
    u2 = ctx.sim_call(room, caller="14155550802")
    ctx.wait_members(room, [u2])
    cb = ctx.app.base + "/files-rec-cb/"
    r = ctx.client.calls.record(u2, callback_url=cb)
    rec_id = getattr(r, "recording_id", None)
    time.sleep(0.3)
    ctx.client.calls.record_stop(u2)
    hit = wait_for(lambda: ctx.app.find("/files-rec-cb/", RecordingID=rec_id))
    p = hit[0]["params"] if hit else {}
    duration = int(p.get("RecordingDurationMs", "-1"))
    check("calls.record callback: about 300 ms recorded", duration >= 300, str(p))
    check_epoch("calls.record callback", p)
    url = p.get("RecordUrl", "")
    check("calls.record: RecordUrl ends .mp3", url.endswith(f"{rec_id}.mp3"), url)
    check_file("calls.record RecordUrl (mp3, served as WAV)", url, duration)
    g = ctx.client.recordings.get(rec_id)
    check("recordings.get: recording_url is the RecordUrl", getattr(g, "recording_url", None) == url, repr(g))
    check("recordings.get: recording_start_ms is RecordingStartMs",
          float(getattr(g, "recording_start_ms", "0")) == float(p.get("RecordingStartMs", "-1")), repr(g))
    check_file("recordings.get recording_url", getattr(g, "recording_url", ""), duration)
    ctx.client.recordings.delete(rec_id)
    status, _, _ = download(url)
    check("a deleted recording's file -> 404", status == 404, str(status))
    ctx.client.calls.delete(u2)
    wait_for(lambda: ctx.hangups(u2))


def test_call_list_paging(ctx):
    """calls.list with filters, limit and offset; meta.next / previous."""
    doc = ctx.app.serve("/bye-doc", "<Response><Speak>Bye</Speak></Response>")
    uuids = [ctx.sim_call(None, caller=f"1415555077{i}", answer_url=doc) for i in range(3)]
    wait_for(lambda: all(raw(ctx.server, "GET", f"/v1/Account/{AUTH_ID}/Call/{x}/")[1].get("call_status")
                         == "completed" for x in uuids))
    page1 = ctx.client.calls.list(call_direction="inbound", from_number="1415555077", limit=2, offset=0)
    got1 = [getattr(c, "call_uuid", None) for c in page1]
    meta = page1.meta
    check("calls.list(call_direction, from_number, limit=2): two of the three calls",
          len(got1) == 2 and set(got1) <= set(uuids), repr(got1))
    check("calls.list: meta total_count 3, next names offset=2, previous null",
          meta["total_count"] == 3 and "offset=2" in (meta["next"] or "") and meta["previous"] is None, repr(meta))
    page2 = ctx.client.calls.list(call_direction="inbound", from_number="1415555077", limit=2, offset=2)
    got2 = [getattr(c, "call_uuid", None) for c in page2]
    check("calls.list(offset=2): the third call, no next page, a previous one",
          len(got2) == 1 and got2[0] in uuids and got2[0] not in got1
          and page2.meta["next"] is None and "offset=0" in (page2.meta["previous"] or ""), f"{got2} {page2.meta!r}")
    out = ctx.client.calls.list(call_direction="outbound", from_number="1415555077")
    check("calls.list(call_direction='outbound'): none of the inbound calls", len(list(out)) == 0, repr(out))
    CHECKS.raises("calls.list(limit=50) sent raw -> ValidationError", plivo_exc.ValidationError,
                  lambda: ctx.client.request("GET", ("Call",), {"limit": 50}, is_voice_request=True))


def test_errors(ctx):
    conf = ctx.client.conferences
    e = CHECKS.raises("get of an unknown room -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
                   lambda: conf.get("No Such Room"))
    check("404 message is the server's `error` field", e is not None and "No Such Room" in str(e), str(e))
    CHECKS.raises("kick in an unknown room -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
               lambda: conf.member_kick("No Such Room", "1"))
    CHECKS.raises("mute_stop in an unknown room -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
               lambda: conf.member_mute_stop("No Such Room", "1"))

    bad = plivo.RestClient(AUTH_ID, "wrong-token")
    CHECKS.raises("wrong token -> AuthenticationError", plivo_exc.AuthenticationError,
               lambda: bad.conferences.list())
    CHECKS.raises("wrong token on kick -> AuthenticationError", plivo_exc.AuthenticationError,
               lambda: bad.conferences.member_kick("My Room", "1"))
    other = plivo.RestClient("MAYYYYYYYYYYYYYYYYYY", AUTH_TOKEN)
    CHECKS.raises("another account's path -> AuthenticationError", plivo_exc.AuthenticationError,
               lambda: other.conferences.list())

    # 400s, sent through the SDK's own request/response path (its validators would refuse
    # some of these before sending).
    room = "Error Room"
    a = ctx.sim_call(room, caller="14155550181")
    ctx.wait_members(room, [a])
    e = CHECKS.raises("make-call without answer_url -> ValidationError", plivo_exc.ValidationError,
                   lambda: ctx.client.request("POST", ("Call",), {"from": "14155550100", "to": "14155550300"},
                                              is_voice_request=True))
    check("400 message names the missing parameter", e is not None and "answer_url" in str(e), str(e))
    CHECKS.raises("play without url -> ValidationError", plivo_exc.ValidationError,
               lambda: ctx.client.request("POST", ("Conference", room, "Member", "1", "Play"),
                                          {"conference_name": room, "member_id": "1"}, is_voice_request=True))
    CHECKS.raises("speak without text -> ValidationError", plivo_exc.ValidationError,
               lambda: ctx.client.request("POST", ("Conference", room, "Member", "1", "Speak"), {},
                                          is_voice_request=True))
    CHECKS.raises("kick of member 'abc' -> ValidationError", plivo_exc.ValidationError,
               lambda: conf.member_kick(room, "abc"))
    CHECKS.raises("make-call with answer_method PUT -> ValidationError", plivo_exc.ValidationError,
               lambda: ctx.client.calls.create(from_="14155550100", to_="14155550300",
                                               answer_url=ctx.answer_url(room), answer_method="PUT"))
    CHECKS.raises("kick of an unknown member -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
               lambda: conf.member_kick(room, "4242"))
    CHECKS.raises("unknown resource -> ResourceNotFoundError", plivo_exc.ResourceNotFoundError,
               lambda: ctx.client.request("GET", ("Nonsense",), is_voice_request=True))
    status, body = raw(ctx.server, "PUT", f"/v1/Account/{AUTH_ID}/Conference/")
    check("PUT on Conference/ -> 405 JSON error", status == 405 and isinstance(body, dict) and "error" in body,
          f"{status} {body!r}")
    status, body = raw(ctx.server, "GET", f"/v1/Account/{AUTH_ID}/Conference/", auth=None)
    check("no credentials -> 401 JSON error", status == 401 and isinstance(body, dict) and "error" in body,
          f"{status} {body!r}")
    conf.member_kick(room, "all")
    wait_for(lambda: ctx.hangups(a))


def test_signatures(ctx):
    reqs = ctx.app.all()
    check("webhooks: the app received webhooks", len(reqs) > 20, f"{len(reqs)} requests")
    missing = [r["path"] for r in reqs if not r["sig_present"]]
    check("webhooks: every request has X-Plivo-Signature-V3 and -V3-Nonce", not missing, str(missing[:5]))
    no_ma = [r["path"] for r in reqs if not r["sig_ma_present"]]
    check("webhooks: every request has X-Plivo-Signature-Ma-V3", not no_ma, str(no_ma[:5]))
    bad = [(r["method"], r["url"], r["sig_error"]) for r in reqs if not r["sig_ok"]]
    check(f"webhooks: all {len(reqs)} V3 signatures valid (plivo.utils.validate_v3_signature)", not bad,
          f"{len(bad)} invalid, e.g. {bad[:3]}")
    methods = {r["method"] for r in reqs}
    check("webhooks: both GET and POST webhooks were validated", methods == {"GET", "POST"}, str(methods))
    forms = [r["content_type"] for r in reqs if r["method"] == "POST" and r["body"]
             and not r["content_type"].startswith("application/x-www-form-urlencoded")]
    check("webhooks: POST bodies are form-encoded", not forms, str(forms[:3]))
    hosts = {r["host"] for r in reqs}
    check("webhooks: Host header is the configured host:port", hosts == {f"127.0.0.1:{ctx.app.port}"}, str(hosts))
    # Plivo sends each parameter once; an app that reads the form as a flat dict (Flask's
    # request.form.to_dict(), Express's req.body...) signs a different string when a name repeats.
    repeated = sorted({(r["path"].split("/")[1], tuple(r["repeated"])) for r in reqs if r["repeated"]})
    check("webhooks: no parameter name is sent twice", not repeated,
          f"repeated names by route: {repeated}")
    if repeated:
        flat_bad = 0
        for r in reqs:
            if r["repeated"] and r["sig_present"]:
                ok = plivo.utils.validate_v3_signature(
                    r["method"], r["url"], r["nonce"], AUTH_TOKEN, r["sig"], dict(r["params"]))
                flat_bad += 0 if ok else 1
        print(f"      (with a flat params dict, as most web frameworks give, {flat_bad} of those "
              f"signatures do not validate)", flush=True)


# --------------------------------------------------------------------------- main

class Interrupted(BaseException):
    """SIGTERM: not an Exception, so that no test's handler swallows it."""


def point_sdk_at(base):
    base = base.rstrip("/") + "/v1/Account"
    plivo_rest_client.PLIVO_API_BASE_URI = base
    plivo_rest_client.API_VOICE_BASE_URI = base
    plivo_rest_client.API_VOICE_BASE_URI_FALLBACK_1 = base
    plivo_rest_client.API_VOICE_BASE_URI_FALLBACK_2 = base


def run(name, fn, *args):
    print(f"--- {name}", flush=True)
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - a crashing test is one failed check
        check(f"{name} ran to the end", False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        return None


def main():
    started = time.monotonic()
    # `timeout` (run.sh) sends SIGTERM: unwind through the finally below so the server stops.
    def on_term(signum, frame):
        raise Interrupted()

    signal.signal(signal.SIGTERM, on_term)
    binary = Path(os.environ.get("PLIVO_FLOW_BIN", "target/release/plivo-flow"))
    if not binary.is_absolute():
        binary = REPO / binary
    if not binary.exists():
        print(f"no server binary at {binary} (build it: cargo build --release)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    print(f"plivo {importlib.metadata.version('plivo')}, server {binary}", flush=True)

    app = WebhookApp()
    app.start()
    server = Server(binary)
    try:
        server.start()
        print(f"server at {server.base}, webhook app at {app.base}", flush=True)
        SERVER_BASE[0] = server.base
        point_sdk_at(server.base)
        client = plivo.RestClient(AUTH_ID, AUTH_TOKEN)
        ctx = Ctx(server, app, client)

        first = run("make-call", test_make_call, ctx)
        if first:
            run("conference get / list / kick", test_conference_get_list_kick, ctx, first)
        run("make-call with GET webhooks", test_make_call_get, ctx)
        run("mute / deaf", test_mute_deaf, ctx)
        run("play / speak", test_play_speak, ctx)
        run("member hangup", test_member_hangup, ctx)
        run("conference delete", test_conference_delete, ctx)
        run("record", test_record, ctx)
        run("room names", test_room_names, ctx)
        run("calls API", test_calls_api, ctx)
        run("call actions (play, speak, DTMF, record, cancel) and recordings", test_call_actions, ctx)
        run("recording files and times", test_recording_files, ctx)
        run("call list filters and paging", test_call_list_paging, ctx)
        run("errors", test_errors, ctx)
        run("far end and make-call options", test_far_end_and_call_options, ctx)
        run("delete_all", test_delete_all, ctx)
        time.sleep(0.3)  # let the last webhooks land
        run("webhook signatures", test_signatures, ctx)
    except Interrupted:
        check("finished before being terminated (SIGTERM)", False)
    except Exception as e:  # noqa: BLE001
        check("setup", False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
    finally:
        server.stop()
        app.stop()
    if CHECKS.failed:
        print("--- server log (tail)", flush=True)
        print(server.log_tail(), flush=True)
        print(f"--- failed: {CHECKS.failures}", flush=True)
    else:
        try:
            os.unlink(server.log.name)
        except OSError:
            pass
    print(f"(python SDK test took {time.monotonic() - started:.1f} s)", flush=True)
    print(f"{CHECKS.passed} passed, {CHECKS.failed} failed", flush=True)
    return 1 if CHECKS.failed else 0


if __name__ == "__main__":
    sys.exit(main())
