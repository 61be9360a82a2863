"""An application's own code, unchanged: nothing here knows about plivo-flow. tests/sdk/recipes.sh
runs it with the base-URL recipe (contrib/sdk-base-url/python) applied from the environment.

Kicks the member given as the first argument from MyConference and prints the SDK's answer as JSON.
"""

import json
import os
import sys

import plivo

client = plivo.RestClient(os.environ["PLIVO_AUTH_ID"], os.environ["PLIVO_AUTH_TOKEN"])
answer = client.conferences.member_kick("MyConference", sys.argv[1])
print(json.dumps({"message": answer.message, "member_id": answer.member_id, "api_id": answer.api_id}))
