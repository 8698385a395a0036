"""Plain-urllib calls to the fake server, so tests see status, headers and body as sent."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from fakestripe import DEFAULT_API_KEY


def get(base: str, path: str, params=None, key: str | None = DEFAULT_API_KEY,
        basic: bool = False) -> tuple[int, dict, dict]:
    """(status, headers, JSON body) of GET base+path; params is a list of pairs or a dict."""
    query = urllib.parse.urlencode(params or {})
    request = urllib.request.Request(base + path + ("?" + query if query else ""))
    if key is not None and basic:
        token = base64.b64encode(f"{key}:".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    elif key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def ids(body: dict) -> list[str]:
    return [obj["id"] for obj in body["data"]]


def walk(base: str, path: str, params=None, limit: int = 3) -> list[str]:
    """Every id of a list, paging forward with starting_after."""
    seen, after = [], None
    while True:
        query = dict(params or {}, limit=limit, **({"starting_after": after} if after else {}))
        status, _, body = get(base, path, query)
        assert status == 200, body
        seen += ids(body)
        if not body["has_more"]:
            return seen
        after = seen[-1]
