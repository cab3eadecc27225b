"""The little HTTP plumbing the SP API and the gateway endpoints share, on plain WSGI
(PEP 3333) and the standard library.

Everything that arrives is hostile: the query string and the body are size-limited
before they are read, parameters are parsed as raw bytes (a gateway may send text in
UTF-16), and an answer never echoes what was sent back as markup.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import attrs

from vas_lifecycle.errors import StoreError

__all__ = ["MAX_BODY", "MAX_QUERY", "HttpError", "Request", "Response", "Routes", "json_body"]

log = logging.getLogger("vas_lifecycle.http")

#: the longest query string and body read; longer ones are refused unread
MAX_QUERY = 8 * 1024
MAX_BODY = 16 * 1024

_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    414: "URI Too Long",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@attrs.frozen
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(
        cls, status: int, payload: Mapping[str, object], headers: tuple[tuple[str, str], ...] = ()
    ) -> Response:
        # ensure_ascii: whatever a caller sent comes back escaped, never as raw bytes
        body = json.dumps(payload, ensure_ascii=True, sort_keys=True).encode("ascii")
        return cls(status, body, (("Content-Type", "application/json"), *headers))


class HttpError(Exception):
    """Answer with ``status`` and a JSON body ``{"reason": ..., "message": ...}``."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str = "",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.response = Response.json(
            status, {"reason": reason, "message": message or reason.replace("_", " ")}, headers
        )


@attrs.frozen
class Request:
    """What a handler is given: the method, the path, the raw query parameters (bytes,
    as sent) and the WSGI environ."""

    method: str
    path: str
    params: Mapping[str, bytes]
    environ: Mapping[str, Any]

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> Request:
        raw = environ.get("QUERY_STRING", "")
        if not isinstance(raw, str) or len(raw) > MAX_QUERY:
            raise HttpError(414, "query_too_long", f"at most {MAX_QUERY} bytes")
        params: dict[str, bytes] = {}
        # latin-1 maps every byte to one character and back: the raw bytes survive
        for key, value in parse_qsl(raw, keep_blank_values=True, encoding="latin-1"):
            if key in params:
                raise HttpError(400, "repeated_parameter", f"{key[:40]!r} is given twice")
            params[key] = value.encode("latin-1")
        path = environ.get("PATH_INFO", "")
        return cls(str(environ.get("REQUEST_METHOD", "GET")), str(path), params, environ)

    def text(self, name: str, *, required: bool = True) -> str | None:
        """An ASCII parameter (numbers, ids, statuses); a 400 if missing or not ASCII."""
        value = self.params.get(name)
        if value is None:
            if required:
                raise HttpError(400, "missing_parameter", f"{name} is required")
            return None
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            raise HttpError(400, "invalid_parameter", f"{name} must be ASCII") from None

    def header(self, name: str) -> str | None:
        value = self.environ.get("HTTP_" + name.upper().replace("-", "_"))
        return value if isinstance(value, str) else None

    def body(self) -> bytes:
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise HttpError(400, "invalid_content_length") from None
        if length < 0:
            raise HttpError(400, "invalid_content_length")
        if length > MAX_BODY:
            raise HttpError(413, "body_too_large", f"at most {MAX_BODY} bytes")
        stream = self.environ.get("wsgi.input")
        data: bytes = stream.read(length) if stream is not None and length else b""
        return data


def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object; a 422 for anything else."""
    try:
        value = json.loads(request.body().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HttpError(422, "malformed_json", "the body must be a JSON object") from None
    if not isinstance(value, dict):
        raise HttpError(422, "malformed_json", "the body must be a JSON object")
    return value


Handler = Callable[..., Response]


class Routes:
    """A WSGI application made of ``(method, path pattern) -> handler``; a pattern's
    named groups are passed to the handler as keyword arguments."""

    def __init__(self, routes: Iterable[tuple[str, str, Handler]]) -> None:
        self.table = list(routes)
        self._routes = [(m, re.compile(p), h) for m, p, h in self.table]

    def __add__(self, other: Routes) -> Routes:
        return Routes([*self.table, *other.table])

    def __call__(
        self, environ: Mapping[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        response = self.respond(environ)
        status = f"{response.status} {_REASONS.get(response.status, 'Unknown')}"
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(status, headers)
        return [response.body]

    def respond(self, environ: Mapping[str, Any]) -> Response:
        try:
            request = Request.from_environ(environ)
            return self._dispatch(request)
        except HttpError as err:
            return err.response
        except StoreError as err:
            log.warning("%s %s: %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), err)
            return HttpError(503, "store_unavailable", "try again later").response
        except Exception:  # a bug or a store down: logged here, never shown to the caller
            log.exception("%s %s failed", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            return HttpError(500, "internal_error", "the request could not be handled").response

    def _dispatch(self, request: Request) -> Response:
        allowed: list[str] = []
        for method, pattern, handler in self._routes:
            found = pattern.fullmatch(request.path)
            if found is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            return handler(request, **found.groupdict())
        if allowed:
            raise HttpError(405, "method_not_allowed", headers=(("Allow", ", ".join(allowed)),))
        raise HttpError(404, "not_found", "no such route")
