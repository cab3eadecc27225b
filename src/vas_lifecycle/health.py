"""Health and readiness for an orchestrator (``vas-lifecycle serve``).

- ``GET /healthz``: the process answers (200 ``{"status": "ok"}``); it reads nothing,
  so a slow store never gets a live process restarted.
- ``GET /readyz``: the store answers a read-only transaction (200 ``{"status":
  "ready"}``), else 503 ``store_unavailable``: take the process out of the load
  balancer until it does.
"""

from __future__ import annotations

from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.wsgi import Request, Response, Routes

__all__ = ["health_endpoints"]


def health_endpoints(lifecycle: Lifecycle) -> Routes:
    """``/healthz`` and ``/readyz`` as a WSGI application."""

    def healthz(request: Request) -> Response:
        return Response.json(200, {"status": "ok"})

    def readyz(request: Request) -> Response:
        lifecycle.next_due()  # one read-only transaction; a StoreError answers 503
        return Response.json(200, {"status": "ready"})

    return Routes([("GET", "/healthz", healthz), ("GET", "/readyz", readyz)])
