"""The SP API: an SP orders and reads only its own, never confirms, and every
refusal is a clear 4xx with a reason; nothing changes on a refusal."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from tests.conftest import START, SUB, make_catalog
from tests.wsgi_client import Answer, call
from vas_lifecycle import (
    Channel,
    Lifecycle,
    ManualClock,
    OrderState,
    ReasonCode,
    RecordingNotifier,
    SpAccessError,
)
from vas_lifecycle.server import make_app
from vas_lifecycle.sp_keys import SpKeys
from vas_lifecycle.store import MemoryStore
from vas_lifecycle.wsgi import MAX_BODY, Routes

TOKEN = "kannel-shared-token-0123456789"


class World:
    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.notifier = RecordingNotifier()
        self.store = MemoryStore()
        self.lc = Lifecycle(
            make_catalog(),
            clock=self.clock,
            store=self.store,
            notifier=self.notifier,
            rng=random.Random(5),
        )
        self.keys = SpKeys(self.store, self.clock)
        self.sp01 = self.keys.add("SP01")
        self.sp02 = self.keys.add("SP02")
        self.app: Routes = make_app(self.lc, keys=self.keys, gateway_token=TOKEN)

    def post(self, key: str | None, body: object, **headers: str) -> Answer:
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return call(self.app, "POST", "/sp/v1/orders", body=body, headers=headers)

    def get(self, key: str | None, order_id: str) -> Answer:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return call(self.app, "GET", f"/sp/v1/orders/{order_id}", headers=headers)

    def snapshot(self) -> tuple[object, ...]:
        with self.store.transaction() as tx:
            return (
                list(tx.orders.all_orders()),
                list(tx.outbox.all_notices()),
                list(tx.ledger.all_charges()),
            )


@pytest.fixture
def world() -> World:
    return World()


def test_an_sp_orders_its_own_service_and_the_subscriber_is_asked(world: World) -> None:
    answer = world.post(world.sp01, {"msisdn": "13800138000", "service": "NEWS"})
    assert answer.status == 201
    body = answer.json()
    assert body["state"] == "awaiting_confirmation" and body["service"] == "NEWS"
    assert answer.headers["Location"] == f"/sp/v1/orders/{body['id']}"
    assert "code" not in body  # the subscriber's code is never shown to the SP
    order = world.lc.get(body["id"])
    assert order.request_channel is Channel.SP_API and order.msisdn == SUB
    assert [n.kind.value for n in world.notifier.to(SUB)] == ["confirmation_request"]
    read = world.get(world.sp01, body["id"])
    assert read.status == 200 and read.json() == body


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer vas_0000.x"],
)
def test_a_missing_or_wrong_key_is_401_and_changes_nothing(
    world: World, authorization: str | None
) -> None:
    before = world.snapshot()
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = call(
        world.app,
        "POST",
        "/sp/v1/orders",
        body={"msisdn": SUB, "service": "NEWS"},
        headers=headers,
    )
    assert answer.status == 401 and answer.json()["reason"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert world.snapshot() == before


def test_a_key_with_a_wrong_secret_or_revoked_is_401(world: World) -> None:
    key_id = world.sp01.split(".")[0].removeprefix("vas_")
    forged = world.sp01[:-4] + ("AAAA" if not world.sp01.endswith("AAAA") else "BBBB")
    assert world.post(forged, {"msisdn": SUB, "service": "NEWS"}).status == 401
    assert world.keys.revoke("SP01", key_id) == 1
    assert world.post(world.sp01, {"msisdn": SUB, "service": "NEWS"}).status == 401
    assert world.lc.orders_of(SUB) == []
    fresh = world.keys.add("SP01")  # a new key works; the old one stays revoked
    assert world.post(fresh, {"msisdn": SUB, "service": "NEWS"}).status == 201


def test_another_sps_service_is_403_booked_against_the_asking_sp(world: World) -> None:
    before = world.snapshot()
    answer = world.post(world.sp02, {"msisdn": SUB, "service": "NEWS"})
    assert answer.status == 403 and answer.json()["reason"] == "not_your_service"
    orders, notices, charges = world.snapshot()
    assert (orders, notices, charges) == before
    (violation,) = world.lc.sp_violations("SP02")
    assert violation.reason is ReasonCode.NOT_YOUR_SERVICE and violation.msisdn == SUB
    assert world.lc.sp_violations("SP01") == []


def test_the_facade_refuses_another_sps_service_too(world: World) -> None:
    with pytest.raises(SpAccessError) as refused:
        world.lc.request(SUB, "MUSIC7", channel=Channel.SP_API, sp_id="SP01")
    assert refused.value.reason == "not_your_service"
    assert world.lc.orders_of(SUB) == []
    assert [v.reason for v in world.lc.sp_violations("SP01")] == [ReasonCode.NOT_YOUR_SERVICE]


def test_another_sps_order_is_404_without_its_data_and_booked(world: World) -> None:
    mine = world.post(world.sp01, {"msisdn": SUB, "service": "NEWS"}).json()
    answer = world.get(world.sp02, mine["id"])
    assert answer.status == 404 and answer.json()["reason"] == "unknown_order"
    assert SUB.lstrip("+") not in answer.body.decode() and "NEWS" not in answer.body.decode()
    missing = world.get(world.sp02, "no-such-order")
    assert missing.status == 404 and missing.json() == answer.json()  # indistinguishable
    (violation,) = world.lc.sp_violations("SP02")
    assert violation.reason is ReasonCode.NOT_YOUR_ORDER and violation.order_id == mine["id"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"[1, 2]", "malformed_json"),
        (b"[" * 100_00, "malformed_json"),
        ({"msisdn": 13800138000, "service": "NEWS"}, "malformed_request"),
        ({"msisdn": SUB, "service": "NEWS", "confirm": True}, "malformed_request"),
        ({"msisdn": SUB}, "malformed_request"),
        ({"msisdn": SUB, "service": "NEWS", "language": 1}, "malformed_request"),
        ({"msisdn": "12345", "service": "NEWS"}, "invalid_msisdn"),
        ({"msisdn": "<script>", "service": "NEWS"}, "invalid_msisdn"),
        ({"msisdn": SUB, "service": "NOPE\x00"}, "unknown_service"),
        ({"msisdn": SUB, "service": "NEWS", "language": "fr"}, "invalid_argument"),
    ],
)
def test_malformed_input_is_422_with_a_reason_and_changes_nothing(
    world: World, body: object, reason: str
) -> None:
    before = world.snapshot()
    answer = world.post(world.sp01, body)
    assert answer.status == 422 and answer.json()["reason"] == reason
    assert world.snapshot() == before


def test_a_huge_body_is_refused_unread(world: World) -> None:
    answer = world.post(world.sp01, b"{" + b" " * MAX_BODY + b"}")
    assert answer.status == 413 and answer.json()["reason"] == "body_too_large"


def test_a_second_live_order_is_409_and_the_c13_limit_is_429(world: World) -> None:
    first = world.post(world.sp01, {"msisdn": SUB, "service": "NEWS"})
    assert first.status == 201
    again = world.post(world.sp01, {"msisdn": SUB, "service": "NEWS"})
    assert again.status == 409 and again.json()["reason"] == "duplicate_order"
    world.clock.advance(dt.timedelta(minutes=1))
    limit = world.lc.policy.sp_daily_request_limit
    assert limit == 3  # two requests so far, the refused duplicate counts too
    assert world.post(world.sp01, {"msisdn": SUB, "service": "JOKE"}).status == 201
    over = world.post(world.sp01, {"msisdn": SUB, "service": "WEATHER"})
    assert over.status == 429 and over.json()["reason"] == "daily_limit"
    assert over.json()["state"] == "rejected"
    # the limit is per SP: SP02 may still ask
    assert world.post(world.sp02, {"msisdn": SUB, "service": "MUSIC7"}).status == 201


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/sp/v1/orders/{id}/confirm"),
        ("POST", "/sp/v1/orders/{id}"),
        ("PUT", "/sp/v1/orders/{id}"),
        ("DELETE", "/sp/v1/orders/{id}"),
        ("PATCH", "/sp/v1/orders/{id}"),
        ("POST", "/sp/v1/orders/{id}/decline"),
        ("GET", "/sp/v1/orders"),
    ],
)
def test_no_route_lets_an_sp_confirm_decline_or_cancel(
    world: World, method: str, path: str
) -> None:
    order = world.post(world.sp01, {"msisdn": SUB, "service": "NEWS"}).json()
    world.clock.advance(dt.timedelta(minutes=1))
    answer = call(
        world.app,
        method,
        path.format(id=order["id"]),
        body={"state": "active", "code": "1234"},
        headers={"Authorization": f"Bearer {world.sp01}"},
    )
    assert answer.status in (404, 405) and "reason" in answer.json()
    assert world.lc.get(order["id"]).state is OrderState.AWAITING_CONFIRMATION


def test_an_sp_key_is_stored_only_as_a_digest(world: World) -> None:
    (stored,) = world.keys.keys("SP02")
    secret = world.sp02.split(".", 1)[1]
    assert secret not in repr(stored) and secret not in stored.digest
    assert world.keys.authenticate(world.sp02) == "SP02"
    assert world.keys.authenticate(world.sp02 + "x") is None


def test_a_duplicate_without_a_key_is_409_naming_the_live_order(world: World) -> None:
    first = world.post(world.sp01, {"msisdn": SUB, "service": "NEWS"}).json()
    again = world.post(world.sp01, {"msisdn": "13800138000", "service": "news"})
    assert again.status == 409 and again.json()["existing_order"] == first["id"]


def test_a_retry_with_the_same_idempotency_key_answers_the_first_answer_and_does_nothing(
    world: World,
) -> None:
    body = {"msisdn": SUB, "service": "NEWS"}
    first = world.post(world.sp01, body, **{"Idempotency-Key": "5f0c7a1e-retry"})
    assert first.status == 201
    world.clock.advance(dt.timedelta(minutes=1))
    world.lc.handle_sms(SUB, "是", to="10086")  # the order moves on meanwhile
    assert world.lc.get(first.json()["id"]).state is OrderState.ACTIVE
    for _ in range(5):  # the SP's client timed out and retries, again and again
        retry = world.post(world.sp01, body, **{"Idempotency-Key": "5f0c7a1e-retry"})
        assert (retry.status, retry.body) == (first.status, first.body)
        assert retry.headers["Location"] == first.headers["Location"]
    assert len(world.lc.orders_of(SUB)) == 1
    assert [n.kind.value for n in world.notifier.to(SUB)] == ["confirmation_request", "activated"]
    # retries never count toward the C13 limit: two more genuine requests are taken
    assert world.post(world.sp01, {"msisdn": SUB, "service": "WEATHER"}).status == 201
    assert world.post(world.sp01, {"msisdn": SUB, "service": "JOKE"}).status == 201
    assert world.lc.sp_violations("SP01") == []


def test_the_same_idempotency_key_with_another_body_is_422_and_changes_nothing(
    world: World,
) -> None:
    key = {"Idempotency-Key": "order-0001"}
    assert world.post(world.sp01, {"msisdn": SUB, "service": "NEWS"}, **key).status == 201
    before = world.snapshot()
    other = world.post(world.sp01, {"msisdn": SUB, "service": "WEATHER"}, **key)
    assert other.status == 422 and other.json()["reason"] == "idempotency_key_reused"
    assert world.snapshot() == before
    # keys are the SP's own: SP02 may use the same string for its own request
    assert world.post(world.sp02, {"msisdn": SUB, "service": "MUSIC7"}, **key).status == 201


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "ключ", "a\tb"])
def test_a_malformed_idempotency_key_is_422_and_changes_nothing(world: World, key: str) -> None:
    before = world.snapshot()
    answer = world.post(world.sp01, {"msisdn": SUB, "service": "NEWS"}, **{"Idempotency-Key": key})
    assert answer.status == 422 and answer.json()["reason"] == "invalid_argument"
    assert world.snapshot() == before


def test_c13_retried_refusals_answer_the_same_and_are_booked_once(world: World) -> None:
    key = {"Idempotency-Key": "not-mine"}
    first = world.post(world.sp02, {"msisdn": SUB, "service": "NEWS"}, **key)
    again = world.post(world.sp02, {"msisdn": SUB, "service": "NEWS"}, **key)
    assert (first.status, again.status) == (403, 403)
    assert again.json()["reason"] == "not_your_service"
    assert len(world.lc.sp_violations("SP02")) == 1
    for service in ("NEWS", "WEATHER", "JOKE"):
        assert world.post(world.sp01, {"msisdn": SUB, "service": service}).status == 201
    key = {"Idempotency-Key": "over-the-limit"}
    limit = world.post(world.sp01, {"msisdn": SUB, "service": "JOKE"}, **key)
    retry = world.post(world.sp01, {"msisdn": SUB, "service": "JOKE"}, **key)
    assert limit.status == 429 and (retry.status, retry.body) == (limit.status, limit.body)
    assert len(world.lc.sp_violations("SP01")) == 1
    assert len(world.lc.orders_of(SUB)) == 4


def test_purge_forgets_request_keys_with_the_orders_of_their_time(world: World) -> None:
    key = {"Idempotency-Key": "old-key"}
    first = world.post(world.sp01, {"msisdn": SUB, "service": "NEWS"}, **key).json()
    world.lc.unsubscribe(first["id"], channel=Channel.HOTLINE)
    world.clock.advance(dt.timedelta(days=200))
    assert world.lc.purge(world.clock.now().subtract(months=5)) == 1
    again = world.post(world.sp01, {"msisdn": SUB, "service": "NEWS"}, **key)
    assert again.status == 201 and again.json()["id"] != first["id"]
