"""End to end with the real gateway: bearerbox, smsbox and fakesmsc (Debian's kannel
and kannel-extras) and `vas-lifecycle serve --with-worker`, all real processes.

An SP orders through the SP API; the confirmation request reaches the fake SMS
centre; the subscriber's 是 comes back as MO through Kannel; the order is active and
the activation notice reaches the handset; Kannel's delivery reports are recorded;
the same MO handed over again (Kannel's own message id) changes nothing; and a trial
is reminded and ended by the worker, both texts reaching the handset.

Outside CI a machine without Kannel skips this test, saying so; in CI it fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import CATALOG_TOML
from tests.kannel_processes import Kannel, free_port, missing, running_kannel, wait_for
from tests.wsgi_client import over_http
from vas_lifecycle import (
    Channel,
    Lifecycle,
    ManualClock,
    NoticeKind,
    OrderState,
    RecordingNotifier,
    SQLiteStore,
    SystemClock,
)
from vas_lifecycle.sp_keys import SpKeys
from vas_lifecycle.testing import demo_catalog

TOKEN = "e2e-gateway-token-0123456789"
HANDSET = "8613800138000"
SECOND = "8613900139000"

if missing():
    if os.environ.get("CI"):
        raise RuntimeError(f"CI needs Kannel for the end-to-end test; missing {missing()}")
    pytest.skip(
        f"no Kannel on this machine ({', '.join(missing())}): "
        "apt-get install kannel kannel-extras to run the end-to-end test",
        allow_module_level=True,
    )


class Service:
    """`vas-lifecycle serve --with-worker` on a free port, logging to a file."""

    def __init__(self, folder: Path, db: Path, kannel: Kannel, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = folder / "serve.log"
        env = {
            **os.environ,
            "VAS_KANNEL_SENDSMS_URL": kannel.sendsms_url,
            "VAS_KANNEL_USERNAME": "vas",
            "VAS_KANNEL_PASSWORD": kannel.sendsms_password,
            "VAS_KANNEL_TOKEN": TOKEN,
            "VAS_KANNEL_SMSC": "handsets",
            "VAS_KANNEL_DLR_URL": f"{self.base}/kannel/dlr",
            # real time of day: quiet hours (C16, tested with a manual clock) would
            # hold the trial texts until morning
            "VAS_POLICY_QUIET_HOURS": "off",
        }
        command = [
            sys.executable,
            "-m",
            "vas_lifecycle",
            "serve",
            "--db",
            str(db),
            "--catalog",
            str(CATALOG_TOML),
            "--port",
            str(port),
            "--with-worker",
            "--tick",
            "0.5",
        ]
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=self.log.open("wb")
        )

    def http(self, path: str, *, key: str | None = None, body: object = None) -> tuple[int, bytes]:
        return over_http(self.base + path, key=key, body=body)

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(self.log.read_text(errors="replace"))
        try:
            return self.http("/sp/v1/orders/x")[0] == 401
        except OSError:
            return False

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        return self.log.read_text(errors="replace")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Service, Kannel, Path, dict[str, str]]]:
    db = tmp_path / "vas.db"
    store = SQLiteStore(db)
    keys = {sp: SpKeys(store).add(sp) for sp in ("SP01", "SP02")}
    store.close()
    port = free_port()
    with running_kannel(tmp_path, mo_url=f"http://127.0.0.1:{port}/kannel/mo", token=TOKEN) as k:
        service = Service(tmp_path, db, k, port)
        try:
            wait_for(service.ready, "vas-lifecycle serve")
            yield service, k, db, keys
        finally:
            log = service.stop()
            assert service.process.returncode == 0, log


def _arrived(kannel: Kannel, to: str, pattern: str) -> Callable[[], bool]:
    return lambda: any(r == to and re.search(pattern, text) for _s, r, text in kannel.received())


def _reader(db: Path) -> Lifecycle:
    return Lifecycle(demo_catalog(), store=SQLiteStore(db), notifier=RecordingNotifier())


def test_an_sp_order_confirmed_through_kannel_and_a_trial_ended_by_the_worker(world) -> None:  # type: ignore[no-untyped-def]
    service, kannel, db, keys = world
    status, body = service.http(
        "/sp/v1/orders", key=keys["SP01"], body={"msisdn": HANDSET, "service": "NEWS"}
    )
    assert status == 201, body
    order_id = json.loads(body)["id"]
    # the confirmation request reaches the handset through smsbox and the fake centre
    wait_for(_arrived(kannel, HANDSET, "二次确认"), "the confirmation request at the handset")
    time.sleep(2.5)  # a human reads it first (C13: no yes faster than 2 s)
    kannel.send_mo(HANDSET, "10086", "是")
    wait_for(
        lambda: (
            json.loads(service.http(f"/sp/v1/orders/{order_id}", key=keys["SP01"])[1])["state"]
            == "active"
        ),
        "the order to be active",
    )
    wait_for(_arrived(kannel, HANDSET, "成功订购"), "the activation notice at the handset")
    reader = _reader(db)
    try:
        (activated,) = [n for n in reader.notices(order_id) if n.kind is NoticeKind.ACTIVATED]
        wait_for(lambda: len(reader.delivery_reports(activated.id)) >= 1, "a delivery report")
        statuses = {r.status.value for r in reader.delivery_reports(activated.id)}
        assert statuses <= {"submitted", "delivered"} and statuses
        history = reader.history(order_id)
    finally:
        reader.close()

    # Kannel hands the same text over again (its retry, with its own message id):
    # nothing changes and no second reply goes out
    (message_id,) = re.findall(
        r"MO (\S+) from \+86138\*\*\*\*8000 to 10086: 1 reply", service.log.read_text()
    )
    sent_before = len(kannel.received())
    query = urllib.parse.urlencode(
        {"from": HANDSET, "to": "10086", "text": "是", "id": message_id, "token": TOKEN}
    )
    assert service.http(f"/kannel/mo?{query}") == (200, b"")
    assert f"MO {message_id} from +86138****8000 to 10086: 0 replies" in service.log.read_text()
    time.sleep(1.0)
    assert len(kannel.received()) == sent_before
    reader = _reader(db)
    try:
        assert reader.history(order_id) == history
        assert reader.get(order_id).state is OrderState.ACTIVE
    finally:
        reader.close()

    # a one-day trial that began a day ago, less 20 seconds: the worker reminds it now
    # and ends it at its end, with no run_due() called by anyone
    began = SystemClock().now().subtract(days=1).add(seconds=20)
    seeder = Lifecycle(
        demo_catalog(),
        clock=ManualClock(began),
        store=SQLiteStore(db),
        notifier=RecordingNotifier(),
    )
    trial = seeder.request("+" + SECOND, "GAME1", channel=Channel.WEB)
    seeder.close()
    wait_for(_arrived(kannel, SECOND, "到期|即将结束|体验期"), "the trial reminder at the handset")
    reader = _reader(db)
    try:
        wait_for(lambda: not reader.get(trial.id).is_live, "the trial to end", timeout=120)
        kinds = [n.kind for n in reader.notices(trial.id)]
        assert kinds.index(NoticeKind.TRIAL_REMINDER) < kinds.index(NoticeKind.TRIAL_ENDED)
        ended = next(n for n in reader.notices(trial.id) if n.kind is NoticeKind.TRIAL_ENDED)
        reminder = next(n for n in reader.notices(trial.id) if n.kind is NoticeKind.TRIAL_REMINDER)
    finally:
        reader.close()
    texts = [text for _s, r, text in kannel.received() if r == SECOND]
    wait_for(lambda: ended.text in [t for _s, r, t in kannel.received() if r == SECOND], "the end")
    assert reminder.text in texts
