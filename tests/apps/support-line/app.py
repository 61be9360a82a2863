"""A support line in the style of Plivo's own examples, run against `plivo-flow serve` by
tests/apps/support-line/run.sh (from tests/apps.rs). It is an ordinary Plivo app: it reads its
credentials from PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN and uses the official SDK as written for Plivo;
the SDK is pointed at serve only by the environment (contrib/sdk-base-url/python).

* /answer: the agent (From = AGENT) and callers meet in the conference "Support", with
  callbackUrl=/events. Callers hear wait music until the agent comes.
* /events: as Plivo's conference-recording example does, the room's recording is started
  (Conference Record API) when Event == "ConferenceEnter" and ConferenceFirstMember is false
  (two people are talking), once per ConferenceUUID; when the agent's ConferenceExit arrives
  and ConferenceLastMember is false, every caller left in the room is transferred (Call
  Transfer API) to /hold, as a hold-on-agent-drop app does.
* /recorded: the recording callback; kept.
* GET /state: what the app saw and did, for the test.
"""

import os
import threading

import plivo
from flask import Flask, Response, jsonify, request

PORT = int(os.environ.get("PORT", "0") or 0)
AGENT = "+14155550999"
ROOM = "Support"

app = Flask(__name__)
client = plivo.RestClient(os.environ["PLIVO_AUTH_ID"], os.environ["PLIVO_AUTH_TOKEN"])
lock = threading.Lock()
state = {"events": [], "recording_started": [], "held": [], "recorded": [], "errors": []}
members = {}      # ConferenceMemberID -> CallUUID of callers in the room
base = {"url": ""}


def xml(body):
    return Response(f"<Response>{body}</Response>", mimetype="application/xml")


@app.route("/answer", methods=["POST"])
def answer():
    base["url"] = request.host_url.rstrip("/")
    events = f'{base["url"]}/events'
    if request.form.get("From") == AGENT:
        return xml(f'<Conference callbackUrl="{events}" callbackMethod="POST">{ROOM}</Conference>')
    return xml(
        "<Speak>Thank you for calling. An agent will be with you shortly.</Speak>"
        f'<Conference callbackUrl="{events}" callbackMethod="POST" '
        f'waitSound="{base["url"]}/music">{ROOM}</Conference>'
    )


@app.route("/music", methods=["POST", "GET"])
def music():
    return xml('<Play>https://s3.amazonaws.com/plivocloud/music.mp3</Play>')


@app.route("/events", methods=["POST"])
def events():
    f = request.form
    event = {k: f.get(k) for k in ("Event", "ConferenceAction", "ConferenceName", "ConferenceUUID",
                                   "ConferenceMemberID", "CallUUID", "From",
                                   "ConferenceFirstMember", "ConferenceLastMember")}
    with lock:
        state["events"].append(event)
    try:
        if f.get("Event") == "ConferenceEnter":
            if f.get("From") != AGENT:
                with lock:
                    members[f.get("ConferenceMemberID")] = f.get("CallUUID")
            uuid = f.get("ConferenceUUID")
            if f.get("ConferenceFirstMember") == "false" and uuid not in state["recording_started"]:
                r = client.conferences.record(
                    f.get("ConferenceName"), file_format="mp3", callback_url=f'{base["url"]}/recorded'
                )
                with lock:
                    state["recording_started"].append(uuid)
                    state["events"][-1]["record_api"] = r.message
        elif f.get("Event") == "ConferenceExit":
            with lock:
                members.pop(f.get("ConferenceMemberID"), None)
                callers = list(members.values())
            if f.get("From") == AGENT and f.get("ConferenceLastMember") == "false":
                for call in callers:
                    client.calls.update(call, legs="aleg", aleg_url=f'{base["url"]}/hold', aleg_method="POST")
                    with lock:
                        state["held"].append(call)
    except plivo.exceptions.PlivoRestError as e:
        with lock:
            state["errors"].append(f"{type(e).__name__}: {e}")
    return "OK"


@app.route("/hold", methods=["POST"])
def hold():
    return xml('<Speak>Your agent had to leave. Please hold.</Speak>'
               '<Play loop="0">https://s3.amazonaws.com/plivocloud/music.mp3</Play>')


@app.route("/recorded", methods=["POST"])
def recorded():
    with lock:
        state["recorded"].append({k: request.form.get(k) for k in ("RecordUrl", "RecordingID", "ConferenceName")})
    return "OK"


@app.route("/state", methods=["GET"])
def get_state():
    with lock:
        return jsonify(state)


if __name__ == "__main__":
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", PORT, app, threaded=True)
    port_file = os.environ.get("PORT_FILE")
    if port_file:
        with open(port_file, "w") as out:
            out.write(str(server.server_port))
    server.serve_forever()
