"""One JSON request to a server's HTTP API with the standard library, as a plain client sends it."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.support.waiting import TIMEOUT


def send(url: str, method: str, body: object = None) -> Any:
    """Send one request (``body`` as JSON); the decoded answer, an ``HTTPError`` for a refusal."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
        return json.load(answer)
