"""Calls a WSGI application in process, as a server would (no sockets), and a real
HTTP server over loopback (for the tests that start `vas-lifecycle serve`)."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from wsgiref.util import setup_testing_defaults


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = int(status.split()[0])
        self.headers = dict(headers)
        self.body = body

    def json(self) -> Any:
        assert self.headers.get("Content-Type") == "application/json"
        return json.loads(self.body)


def call(
    app: Callable[..., Any],
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes | object = b"",
    headers: Mapping[str, str] | None = None,
) -> Answer:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(data)),
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(data),
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, response_headers

    chunks = app(environ, start_response)
    return Answer(seen["status"], seen["headers"], b"".join(chunks))


def over_http(
    url: str,
    *,
    key: str | None = None,
    body: object = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """(status, body) of a GET, or of a POST of ``body`` as JSON, with an SP key."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
