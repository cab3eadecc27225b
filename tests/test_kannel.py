"""The Kannel adapter without Kannel: the MO and DLR endpoints called in process, and
the notifier against a small HTTP server standing in for smsbox. (The end-to-end
test with real bearerbox, smsbox and fakesmsc is tests/test_kannel_e2e.py.)"""

from __future__ import annotations

import datetime as dt
import random
import re
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.conftest import START, SUB, make_catalog
from tests.fake_smsbox import Smsbox, running_smsbox
from tests.wsgi_client import call
from vas_lifecycle import (
    Channel,
    DeliveryStatus,
    GatewayError,
    InvalidArgumentError,
    Lifecycle,
    ManualClock,
    NoticeKind,
    OrderState,
    RecordingNotifier,
)
from vas_lifecycle.gateways.kannel import KannelConfig, KannelNotifier, kannel_endpoints
from vas_lifecycle.store import MemoryStore
from vas_lifecycle.wsgi import MAX_QUERY

TOKEN = "kannel-shared-token-0123456789"
DIGITS = SUB.lstrip("+")


@pytest.fixture
def world() -> tuple[Lifecycle, ManualClock, RecordingNotifier]:
    clock = ManualClock(START)
    notifier = RecordingNotifier()
    lc = Lifecycle(
        make_catalog(), clock=clock, notifier=notifier, store=MemoryStore(), rng=random.Random(2)
    )
    return lc, clock, notifier


def mo(lc: Lifecycle, **params: str | bytes) -> tuple[int, bytes]:
    params.setdefault("token", TOKEN)
    answer = call(kannel_endpoints(lc, TOKEN), "GET", "/kannel/mo", query=_query(params))
    return answer.status, answer.body


def _query(params: dict[str, str | bytes]) -> str:
    return urllib.parse.urlencode(
        {
            k.encode("utf-8", "surrogatepass"): v
            if isinstance(v, bytes)
            else v.encode("utf-8", "surrogatepass")
            for k, v in params.items()
        }
    )


def test_a_yes_through_kannel_activates_and_a_repeat_changes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    lc, clock, notifier = world
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    status, body = mo(lc, **{"from": DIGITS, "to": "10086", "text": "是", "id": "uuid-1"})
    assert (status, body) == (200, b"")
    assert lc.get(order.id).state is OrderState.ACTIVE
    sent = list(notifier.sent)
    assert mo(lc, **{"from": DIGITS, "to": "10086", "text": "是", "id": "uuid-1"})[0] == 200
    assert notifier.sent == sent  # no second reply


def test_a_text_kannel_passes_as_utf16_is_read(world) -> None:  # type: ignore[no-untyped-def]
    lc, clock, _ = world
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    text = "否".encode("utf-16-be")
    params = {"from": DIGITS, "to": "10086", "text": text, "id": "u2", "charset": "UTF-16BE"}
    assert mo(lc, **params)[0] == 200
    assert lc.get(order.id).state is OrderState.DECLINED


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({"token": "wrong-token-wrong-token"}, 401, "unauthorized"),
        ({"token": ""}, 401, "unauthorized"),
        ({"from": ""}, 400, "invalid_msisdn"),
        ({"from": "<b>13800138000</b>"}, 400, "invalid_msisdn"),
        ({"to": "ten-oh-oh-eight-six"}, 400, "invalid_parameter"),
        ({"id": "x" * 65}, 400, "invalid_parameter"),
        ({"id": "编号"}, 400, "invalid_parameter"),
        ({"id": "a\x00b"}, 400, "invalid_parameter"),
    ],
)
def test_a_refused_mo_is_4xx_and_changes_nothing(world, params, status, reason) -> None:  # type: ignore[no-untyped-def]
    lc, _, notifier = world
    full = {"from": DIGITS, "to": "10086", "text": "0000", "id": "m1", "token": TOKEN, **params}
    answer = call(kannel_endpoints(lc, TOKEN), "GET", "/kannel/mo", query=_query(full))
    assert answer.status == status and answer.json()["reason"] == reason
    assert notifier.sent == [] and lc.orders_of(SUB) == []


def test_missing_and_repeated_parameters_are_400(world) -> None:  # type: ignore[no-untyped-def]
    lc, _, notifier = world
    app = kannel_endpoints(lc, TOKEN)
    missing = call(app, "GET", "/kannel/mo", query=f"token={TOKEN}&from={DIGITS}&to=10086")
    assert missing.status == 400 and missing.json()["reason"] == "missing_parameter"
    twice = f"token={TOKEN}&from={DIGITS}&from=13900139000&to=10086&text=0000&id=a"
    assert call(app, "GET", "/kannel/mo", query=twice).json()["reason"] == "repeated_parameter"
    long = call(app, "GET", "/kannel/mo", query="text=" + "a" * MAX_QUERY)
    assert long.status == 414
    assert notifier.sent == []


def test_a_gateway_token_must_be_long_enough(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgumentError, match="token"):
        kannel_endpoints(world[0], "short")


def test_delivery_reports_from_kannel_are_recorded(world) -> None:  # type: ignore[no-untyped-def]
    lc, clock, _ = world
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    (request,) = lc.notices(order.id)
    app = kannel_endpoints(lc, TOKEN)

    def dlr(status: str, notice: str = request.id, token: str = TOKEN) -> int:
        query = _query({"notice": notice, "status": status, "detail": "id:1 <x>", "token": token})
        return call(app, "GET", "/kannel/dlr", query=query).status

    assert dlr("8") == 200
    clock.advance(dt.timedelta(seconds=3))
    assert dlr("1") == 200
    assert [r.status for r in lc.delivery_reports(request.id)] == [
        DeliveryStatus.SUBMITTED,
        DeliveryStatus.DELIVERED,
    ]
    assert lc.delivery_reports(request.id)[0].detail == "id:1 <x>"
    assert dlr("3") == 400 and dlr("-1") == 400 and dlr("99999") == 400
    assert dlr("1", notice="nope") == 404
    assert dlr("1", token="wrong-token-wrong-token") == 401
    assert len(lc.delivery_reports(request.id)) == 2
    assert dlr("16") == 200  # rejected: the notice goes out again
    clock.advance(lc.delivery.first_retry)
    assert lc.dispatch() == 1


HOSTILE = [
    "",
    "\x00",
    "\ud800",
    "<script>alert(1)</script>",
    "'; DROP TABLE vas_orders; --",
    "１３８００１３８０００",  # full-width digits
    "+86 138 0013 8000 " * 40,
    "\u202e0000",
    "%00%ff%fe",
    "A" * 3000,
    "是\x00",
    "ＴＤ",
]


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def _hostile(rng: random.Random) -> str | bytes:
    pick = rng.random()
    if pick < 0.5:
        return rng.choice(HOSTILE)
    if pick < 0.8:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 60)))
    return "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 30)))


def test_mo_fuzz_ten_thousand_hostile_requests_get_only_4xx_and_change_nothing(world) -> None:  # type: ignore[no-untyped-def]
    """Every request has at least one hostile parameter a gateway could not have sent
    (sender, receiver, message id or token), and hostile values everywhere else."""
    lc, clock, notifier = world
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    sent, history = list(notifier.sent), lc.history(order.id)
    app = kannel_endpoints(lc, TOKEN)
    rng = random.Random(20261201)
    statuses: dict[int, int] = {}
    for _ in range(10_000):
        params: dict[str, str | bytes] = {
            "from": DIGITS,
            "to": "10086",
            "id": f"m{rng.randrange(10**9)}",
            "token": TOKEN,
            "text": _hostile(rng),
        }
        if rng.random() < 0.3:
            params["charset"] = rng.choice(["UTF-16BE", "UCS-2", "latin1", "nope", ""])
        # one of the four a real gateway always gets right is broken
        broken = rng.choice(["from", "to", "id", "token"])
        value = _hostile(rng)
        if broken in ("from", "to") and isinstance(value, str) and value.strip("+").isdigit():
            value = "x" + value
        if broken == "id" and re.fullmatch(rb"[A-Za-z0-9._:@-]{1,64}", _bytes(value)):
            value = _bytes(value) + b"\x00"  # a short random id can be a valid one
        if rng.random() < 0.1:
            params.pop(broken)
        else:
            params[broken] = value
        for _extra in range(rng.randint(0, 2)):
            params[rng.choice(["coding", "udh", "smsc", "\x00", "x" * 50])] = _hostile(rng)
        answer = call(app, "GET", "/kannel/mo", query=_query(params))
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
    assert set(statuses) <= set(range(400, 500)), statuses
    assert notifier.sent == sent and lc.history(order.id) == history
    assert [o.id for o in lc.orders_of(SUB)] == [order.id]


# --- the notifier, against a stand-in for smsbox ------------------------------------


@pytest.fixture
def smsbox() -> Iterator[tuple[str, type[Smsbox]]]:
    with running_smsbox() as box:
        yield box


def _config(url: str, **more: object) -> KannelConfig:
    return KannelConfig(
        sendsms_url=url,
        username="vas",
        password="secret",
        dlr_url="http://127.0.0.1:8080/kannel/dlr",
        token=TOKEN,
        **more,  # type: ignore[arg-type]
    )


def test_each_notice_goes_to_sendsms_in_ucs2_with_a_delivery_report_url(
    smsbox: tuple[str, type[Smsbox]],
) -> None:
    url, box = smsbox
    clock = ManualClock(START)
    lc = Lifecycle(make_catalog(), clock=clock, notifier=KannelNotifier(_config(url)))
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    (request,) = lc.notices(order.id)
    (sent,) = box.seen
    assert sent["to"] == [DIGITS] and sent["from"] == ["10086"]
    assert sent["text"] == [request.text] and sent["coding"] == ["2"]
    assert sent["charset"] == ["UTF-8"] and sent["dlr-mask"] == ["31"]
    (back,) = sent["dlr-url"]
    assert back.startswith("http://127.0.0.1:8080/kannel/dlr?")
    assert f"notice={request.id}" in back and back.endswith("&status=%d&detail=%A")
    assert "secret" not in repr(_config(url)) and TOKEN not in repr(_config(url))
    assert lc.dispatch() == 0  # delivered: smsbox accepted it


def test_a_refused_submission_raises_and_the_outbox_sends_again(
    smsbox: tuple[str, type[Smsbox]],
) -> None:
    url, box = smsbox
    box.answers.extend([(403, b"Authorization failed for sendsms"), (503, b"busy")])
    notifier = KannelNotifier(_config(url, smsc="fake"))
    clock = ManualClock(START)
    lc = Lifecycle(make_catalog(), clock=clock, notifier=notifier)
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    (request,) = lc.notices(order.id)  # its first hand-over was refused (403)
    with pytest.raises(GatewayError, match="503 busy"):
        notifier.send(request)
    clock.advance(lc.delivery.first_retry)
    assert lc.dispatch() == 1  # the third try is accepted
    assert [s["smsc"] for s in box.seen] == [["fake"]] * 3


def test_an_unreachable_smsbox_raises_gateway_error() -> None:
    notifier = KannelNotifier(_config("http://127.0.0.1:9/cgi-bin/sendsms", timeout=2.0))
    lc = Lifecycle(make_catalog(), clock=ManualClock(START), notifier=RecordingNotifier())
    order = lc.request(SUB, "JOKE", channel=Channel.SMS)
    (notice,) = lc.notices(order.id)
    assert notice.kind is NoticeKind.FEE_NOTICE
    with pytest.raises(GatewayError, match="unreachable"):
        notifier.send(notice)
