"""A small Plivo IVR in Flask, in the style of Plivo's own examples, to show how its call flows
are tested with plivo-flow in virtual time (see README.md beside this file).

One URL, /answer, serves every menu level: the level reached is kept per call (by CallUUID).

    main menu   1 sales (a <Dial>; busy or no answer -> voicemail)
                2 leave a message (a <Record>)
                3 opening hours -> 1 weekdays, 2 weekends, 9 back
    no choice   the menu is said twice (retries="2"), then good bye

A caller the app knows (by From) is greeted by name. Side effects an app really has: the
messages left (/voicemail) and the finished calls (/hangup) are kept and listed at GET /calls.
Every request must carry a valid X-Plivo-Signature-V3 (signed with PLIVO_AUTH_TOKEN, by
default plivo-flow's development token); others get 403.

    PORT=5055 python app.py
"""

import os
import threading

from flask import Flask, Response, abort, jsonify, request
from plivo import plivoxml
from plivo.utils import validate_v3_signature

AUTH_TOKEN = os.environ.get("PLIVO_AUTH_TOKEN", "plivo-flow-dev-token")
PORT = int(os.environ.get("PORT", "5055"))
BASE = os.environ.get("BASE_URL", f"http://127.0.0.1:{PORT}")
SALES = "+14155550100"
KNOWN_CALLERS = {"+14155550123": "Alice"}

app = Flask(__name__)
lock = threading.Lock()
level = {}        # CallUUID -> "main" | "hours"
messages = []     # {"call": CallUUID, "from": …, "url": RecordUrl, "duration": …}
finished = []     # {"call": CallUUID, "from": …, "cause": HangupCauseName, "duration": …}


@app.before_request
def check_signature():
    params = request.form.to_dict() if request.method == "POST" else {}
    ok = validate_v3_signature(
        request.method,
        request.url,
        request.headers.get("X-Plivo-Signature-V3-Nonce", ""),
        AUTH_TOKEN,
        request.headers.get("X-Plivo-Signature-V3", ""),
        params,
    )
    if not ok and request.path != "/calls":
        abort(403)


def xml(response):
    return Response(response.to_string(), mimetype="application/xml")


def menu(response, prompt):
    digits = plivoxml.GetDigitsElement(
        action=f"{BASE}/answer", method="POST", num_digits=1, timeout=5, retries=2
    )
    digits.add(plivoxml.SpeakElement(prompt))
    response.add(digits)
    response.add(plivoxml.SpeakElement("We did not get your choice. Good bye."))
    response.add(plivoxml.HangupElement())
    return response


MAIN = "Press 1 for sales, 2 to leave a message, 3 for our opening hours."
HOURS = "Press 1 for weekdays, 2 for weekends, 9 to go back."


def voicemail(response):
    response.add(plivoxml.SpeakElement("Please leave a message after the beep, then press hash."))
    response.add(
        plivoxml.RecordElement(
            action=f"{BASE}/voicemail", method="POST", max_length=60, finish_on_key="#", play_beep=True
        )
    )
    return response


@app.route("/answer", methods=["POST"])
def answer():
    call = request.form.get("CallUUID", "")
    digits = request.form.get("Digits")
    r = plivoxml.ResponseElement()
    with lock:
        at = level.get(call)
        if at is None:
            level[call] = "main"
            name = KNOWN_CALLERS.get(request.form.get("From", ""))
            r.add(plivoxml.SpeakElement(f"Welcome back, {name}." if name else "Welcome to Example Corp."))
            return xml(menu(r, MAIN))
        if at == "main":
            if digits == "1":
                r.add(plivoxml.SpeakElement("Connecting you to sales."))
                dial = plivoxml.DialElement(action=f"{BASE}/dial-done", method="POST", timeout=20)
                dial.add(plivoxml.NumberElement(SALES))
                r.add(dial)
                return xml(r)
            if digits == "2":
                return xml(voicemail(r))
            if digits == "3":
                level[call] = "hours"
                return xml(menu(r, HOURS))
            r.add(plivoxml.SpeakElement("That is not an option."))
            return xml(menu(r, MAIN))
        # at == "hours"
        if digits == "1":
            r.add(plivoxml.SpeakElement("We are open from nine to five, Monday to Friday."))
        elif digits == "2":
            r.add(plivoxml.SpeakElement("We are closed at weekends."))
        elif digits != "9":
            r.add(plivoxml.SpeakElement("That is not an option."))
            return xml(menu(r, HOURS))
        level[call] = "main"
        return xml(menu(r, MAIN))


@app.route("/dial-done", methods=["POST"])
def dial_done():
    r = plivoxml.ResponseElement()
    if request.form.get("DialStatus") == "completed":
        r.add(plivoxml.SpeakElement("Thank you for calling. Good bye."))
        return xml(r)
    r.add(plivoxml.SpeakElement("Sales cannot take your call now."))
    return xml(voicemail(r))


@app.route("/voicemail", methods=["POST"])
def voicemail_done():
    f = request.form
    with lock:
        messages.append(
            {"call": f.get("CallUUID"), "from": f.get("From"), "url": f.get("RecordUrl"),
             "duration": f.get("RecordingDuration")}
        )
    r = plivoxml.ResponseElement()
    r.add(plivoxml.SpeakElement("Thank you for your message. Good bye."))
    return xml(r)


@app.route("/hangup", methods=["POST"])
def hangup():
    f = request.form
    with lock:
        level.pop(f.get("CallUUID", ""), None)
        finished.append(
            {"call": f.get("CallUUID"), "from": f.get("From"), "cause": f.get("HangupCauseName"),
             "duration": f.get("Duration")}
        )
    return "OK"


@app.route("/calls", methods=["GET"])
def calls():
    with lock:
        return jsonify({"finished": finished, "messages": messages, "in_progress": len(level)})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=PORT)
