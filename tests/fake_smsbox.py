"""A stand-in for Kannel's smsbox ``sendsms`` interface: an HTTP server in a thread
that records every submission (and answers 202 unless told otherwise). With a
``hold`` event it hangs like a stuck smsbox: it takes the connection, then answers
nothing until the event is set."""

from __future__ import annotations

import http.server
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar


class Smsbox(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, bytes]]]
    seen: ClassVar[list[dict[str, list[str]]]]
    delay: ClassVar[float]
    hold: ClassVar[threading.Event | None]
    held: ClassVar[list[str]]  # one entry per submission being held right now

    def do_GET(self) -> None:
        query = urllib.parse.urlsplit(self.path).query
        if self.hold is not None and not self.hold.is_set():
            self.held.append(query)
            self.hold.wait(300)
            self.held.remove(query)
        self.seen.append(urllib.parse.parse_qs(query, keep_blank_values=True))
        if self.delay:
            time.sleep(self.delay)
        status, body = self.answers.pop(0) if self.answers else (202, b"0: Accepted for delivery")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def running_smsbox(
    delay: float = 0.0, hold: threading.Event | None = None
) -> Iterator[tuple[str, type[Smsbox]]]:
    """(the sendsms URL, the handler class holding ``seen`` and ``answers``)."""
    handler = type(
        "Handler",
        (Smsbox,),
        {"answers": [], "seen": [], "delay": delay, "hold": hold, "held": []},
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/sendsms", handler
    finally:
        if hold is not None:
            hold.set()
        server.shutdown()
        server.server_close()
