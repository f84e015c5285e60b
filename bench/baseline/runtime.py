"""A minimal Lambda runtime loop, the shape of the managed Python runtime's bootstrap: import
the handler module (init), then fetch an event, call the handler, post the result, forever."""

import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import handler  # noqa: E402  (the import is the function's init, as in Lambda)

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"

while True:
    with urllib.request.urlopen(f"{API}/next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(response.read())
    try:
        body, path = json.dumps(handler.handler(event, None)).encode(), f"{API}/{request_id}/response"
    except Exception as error:  # noqa: BLE001  (reported to the runtime API, as Lambda does)
        body, path = json.dumps({"errorMessage": str(error)}).encode(), f"{API}/{request_id}/error"
    urllib.request.urlopen(urllib.request.Request(path, data=body, method="POST")).read()
