"""``vas-lifecycle serve``: the Kannel endpoints and the SP API in one WSGI
application, served by waitress (the ``serve`` extra), with the worker beside them
when asked.

waitress is a production WSGI server in pure Python, with a thread pool and no
dependencies of its own; the application itself is plain WSGI, so any WSGI server
(gunicorn, uWSGI, mod_wsgi) can serve :func:`make_app` instead.
"""

from __future__ import annotations

from vas_lifecycle.gateways.kannel import kannel_endpoints
from vas_lifecycle.health import health_endpoints
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.metrics import metrics_endpoints
from vas_lifecycle.sp_api import sp_api
from vas_lifecycle.sp_keys import SpKeys
from vas_lifecycle.wsgi import Routes

__all__ = ["make_app"]


def make_app(lifecycle: Lifecycle, *, keys: SpKeys, gateway_token: str) -> Routes:
    """``/kannel/mo``, ``/kannel/dlr``, ``/sp/v1/...``, ``/healthz``, ``/readyz`` and
    ``/metrics`` as one WSGI application."""
    return (
        kannel_endpoints(lifecycle, gateway_token)
        + sp_api(lifecycle, keys)
        + health_endpoints(lifecycle)
        + metrics_endpoints(lifecycle)
    )
