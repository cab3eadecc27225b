"""The SP API: the operator's HTTP door for SPs, JSON over HTTP.

- ``POST /sp/v1/orders`` with ``{"msisdn": ..., "service": ...}`` (and optionally
  ``"language"``) orders a service for a subscriber through the SP's platform
  (``Channel.SP_API``): 201 with the order. The subscriber is asked to confirm (C1);
  the SP never can.
- ``GET /sp/v1/orders/{id}``: 200 with the SP's own order.
- ``GET /sp/v1/openapi.json``: the OpenAPI 3.1 document of these routes (no key
  needed), kept in the package (``vas_lifecycle/openapi/sp_v1.json``).

The key goes in ``Authorization: Bearer KEY`` (see :class:`~vas_lifecycle.sp_keys.SpKeys`).
Answers: 401 without a valid key; 403 for another SP's service; 404 for an order that
is missing or another SP's (never its data); 422 for malformed input; 409 for a
second live order of the same service (with ``existing_order``, the live one's id);
429 over the C13 daily limit.

Retries are safe with an ``Idempotency-Key`` header (a UUID, say): the same key with
the same body answers what the first request answered, and does nothing again (no
order, no text to the subscriber, nothing counted toward the daily limit or booked
against the SP); the same key with another body is 422 ``idempotency_key_reused``.
The key is stored in the request's own unit of work. Every refusal
body is JSON with a ``reason``; refusals of an SP's reach past its own services and
orders, and C13 refusals, are booked against it (``sp-report``); the rest are logged.
No route lets an SP confirm, decline or cancel anything.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

from vas_lifecycle.errors import (
    IdempotencyKeyError,
    InvalidArgumentError,
    InvalidMsisdnError,
    SpAccessError,
    UnknownOrderError,
    UnknownServiceError,
)
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.order import Order
from vas_lifecycle.records import Channel, ReasonCode
from vas_lifecycle.sp_keys import SpKeys
from vas_lifecycle.states import OrderState
from vas_lifecycle.wsgi import HttpError, Request, Response, Routes, json_body

__all__ = ["OPENAPI", "order_view", "sp_api"]

log = logging.getLogger("vas_lifecycle.sp_api")

#: the OpenAPI 3.1 document of the SP API, as served
OPENAPI = resources.files("vas_lifecycle").joinpath("openapi", "sp_v1.json").read_bytes()

_FIELDS = {"msisdn", "service", "language"}
#: what a refused order's end reason answers
_REFUSED = {
    ReasonCode.DAILY_LIMIT.value: 429,
    ReasonCode.DUPLICATE_ORDER.value: 409,
}


def _time(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def order_view(order: Order) -> dict[str, object]:
    """What an SP sees of its order: never the confirmation code."""
    return {
        "id": order.id,
        "state": order.state.value,
        "service": order.service_code,
        "msisdn": order.msisdn,
        "requested_at": _time(order.requested_at),
        "confirm_by": _time(order.confirm_by),
        "activated_at": _time(order.activated_at),
        "trial_ends_at": _time(order.trial_ends_at),
        "ended_at": _time(order.ended_at),
        "end_reason": order.end_reason,
    }


def _answer(lifecycle: Lifecycle, order: Order) -> Response:
    """201 with the order, or the refusal with its reason (and, for a duplicate, the
    live order's id)."""
    if order.state is not OrderState.REJECTED:
        location = (("Location", f"/sp/v1/orders/{order.id}"),)
        return Response.json(201, order_view(order), location)
    refused: dict[str, object] = {"reason": order.end_reason or "rejected"}
    if order.end_reason == ReasonCode.DUPLICATE_ORDER.value:
        live = lifecycle.live_orders(order.msisdn)
        same = (o.id for o in live if o.service_code == order.service_code)
        refused["existing_order"] = next(same, None)
    status = _REFUSED.get(order.end_reason or "", 422)
    return Response.json(status, {**refused, **order_view(order)})


def _caller(keys: SpKeys, request: Request) -> str:
    """The SP whose key the request bears; 401 for anything else."""
    header = request.header("Authorization") or ""
    scheme, _, key = header.partition(" ")
    sp_id = keys.authenticate(key.strip()) if scheme.lower() == "bearer" else None
    if sp_id is None:
        log.warning("SP API: refused a request without a valid key")
        raise HttpError(
            401,
            "unauthorized",
            "a valid SP key is required",
            (("WWW-Authenticate", 'Bearer realm="sp"'),),
        )
    return sp_id


def sp_api(lifecycle: Lifecycle, keys: SpKeys) -> Routes:
    """The SP API as a WSGI application."""

    def create(request: Request) -> Response:
        sp_id = _caller(keys, request)
        body = json_body(request)
        unknown = set(body) - _FIELDS
        if unknown or not isinstance(body.get("msisdn"), str):
            log.info("SP API: %s sent a malformed order", sp_id)
            raise HttpError(422, "malformed_request", "msisdn and service are strings")
        service, language = body.get("service"), body.get("language")
        if not isinstance(service, str) or not (language is None or isinstance(language, str)):
            raise HttpError(422, "malformed_request", "service and language are strings")
        try:
            order = lifecycle.request(
                body["msisdn"],
                service,
                channel=Channel.SP_API,
                language=language,
                sp_id=sp_id,
                idempotency_key=request.header("Idempotency-Key"),
            )
        except IdempotencyKeyError:
            raise HttpError(
                422, "idempotency_key_reused", "that Idempotency-Key was used for another body"
            ) from None
        except InvalidMsisdnError:
            raise HttpError(422, "invalid_msisdn", "msisdn is not a subscriber number") from None
        except UnknownServiceError:
            raise HttpError(422, "unknown_service", "no such service") from None
        except SpAccessError as err:
            raise HttpError(403, err.reason, "not a service of this SP") from None
        except InvalidArgumentError as err:
            raise HttpError(422, "invalid_argument", str(err)[:200]) from None
        return _answer(lifecycle, order)

    def read(request: Request, order_id: str) -> Response:
        sp_id = _caller(keys, request)
        try:
            order = lifecycle.sp_order(order_id, sp_id=sp_id)
        except UnknownOrderError:
            raise HttpError(404, "unknown_order", "no such order of this SP") from None
        return Response.json(200, order_view(order))

    def openapi(request: Request) -> Response:
        return Response(200, OPENAPI, (("Content-Type", "application/json"),))

    return Routes(
        [
            ("POST", "/sp/v1/orders", create),
            ("GET", r"/sp/v1/orders/(?P<order_id>[A-Za-z0-9_-]{1,64})", read),
            ("GET", "/sp/v1/openapi.json", openapi),
        ]
    )
