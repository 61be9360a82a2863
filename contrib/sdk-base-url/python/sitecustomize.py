"""Points the official Plivo Python SDK at plivo-flow serve, for an application left unchanged.

    PYTHONPATH=contrib/sdk-base-url/python PLIVO_FLOW_URL=http://127.0.0.1:8765 python app.py

Python imports `sitecustomize` at start-up from the first directory of sys.path that has one.
With PLIVO_FLOW_URL set, this one sets the SDK's API base URIs (module constants of
plivo.rest.client and plivo.rest.base_client, read each time a request is built; checked with
plivo 4.63.0) to PLIVO_FLOW_URL + "/v1/Account" and says so on stderr. Without PLIVO_FLOW_URL,
or without plivo installed, it does nothing. It shadows another sitecustomize further down
sys.path (a distribution's own, if it has one).
"""

import os
import sys


def _point_plivo_at_plivo_flow(url):
    try:
        from plivo.rest import base_client, client
    except ImportError:
        return
    base = url.rstrip("/") + "/v1/Account"
    for module in (client, base_client):
        for name in (
            "PLIVO_API_BASE_URI",
            "API_VOICE_BASE_URI",
            "API_VOICE_BASE_URI_FALLBACK_1",
            "API_VOICE_BASE_URI_FALLBACK_2",
        ):
            if hasattr(module, name):
                setattr(module, name, base)
    print(f"plivo-flow: the Plivo SDK sends its API requests to {base}", file=sys.stderr)


if os.environ.get("PLIVO_FLOW_URL"):
    _point_plivo_at_plivo_flow(os.environ["PLIVO_FLOW_URL"])
