"""Operations: ``/healthz`` and ``/readyz`` for an orchestrator, ``/metrics`` for a
scraper, and the SP API's OpenAPI document, served and held to what the server
answers by schemathesis against a running ``vas-lifecycle serve``."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest

from tests.fake_smsbox import running_smsbox
from tests.test_serve import _mo, _sp_key, running_serve
from tests.wsgi_client import call, over_http
from vas_lifecycle import Lifecycle, ManualClock, MemoryStore, RecordingNotifier, Store
from vas_lifecycle.errors import StoreError
from vas_lifecycle.server import make_app
from vas_lifecycle.sp_api import OPENAPI, sp_api
from vas_lifecycle.sp_keys import SpKeys
from vas_lifecycle.testing import demo_catalog

DOCUMENT = json.loads(OPENAPI)


class DownStore(Store):
    """A store whose database does not answer."""

    def transaction(self, *, readonly: bool = False) -> contextlib.AbstractContextManager[object]:
        raise StoreError("connection refused")


def _app(store: Store) -> object:
    lc = Lifecycle(
        demo_catalog(),
        clock=ManualClock(pendulum.datetime(2026, 12, 7, 9, tz="Asia/Shanghai")),
        store=store,
        notifier=RecordingNotifier(),
    )
    return make_app(lc, keys=SpKeys(MemoryStore()), gateway_token="a-gateway-token-of-length")


def test_healthz_answers_without_the_store_and_readyz_asks_it() -> None:
    up, down = _app(MemoryStore()), _app(DownStore())
    for app in (up, down):
        answer = call(app, "GET", "/healthz")
        assert (answer.status, answer.json()) == (200, {"status": "ok"})
    assert call(up, "GET", "/readyz").json() == {"status": "ready"}
    refused = call(down, "GET", "/readyz")
    assert refused.status == 503 and refused.json()["reason"] == "store_unavailable"
    assert call(up, "POST", "/readyz").status == 405


def test_the_openapi_document_is_served_and_names_every_route_of_the_sp_api() -> None:
    answer = call(_app(MemoryStore()), "GET", "/sp/v1/openapi.json")
    assert answer.status == 200 and answer.json() == DOCUMENT
    assert DOCUMENT["openapi"].startswith("3.1")
    routes = sp_api(Lifecycle(demo_catalog(), store=MemoryStore()), SpKeys(MemoryStore())).table
    served = {(m, re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", p)) for m, p, _ in routes}
    documented = {
        (method.upper(), path) for path, ops in DOCUMENT["paths"].items() for method in ops
    }
    assert served == documented


def _schemathesis() -> list[str]:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("schemathesis is not installed (the dev extra installs it)")
    return [found]


@contextlib.contextmanager
def _serving(tmp_path: Path) -> Iterator[tuple[str, str]]:
    db = tmp_path / "vas.db"
    key = _sp_key(db)
    with running_smsbox() as (url, _box), running_serve(db, url) as base:
        yield base, key


def test_schemathesis_finds_no_server_error_and_every_answer_as_documented(
    tmp_path: Path,
) -> None:
    """Generated requests, valid and not, to every documented operation of a running
    ``serve``: no 5xx, every status and body and header as the document says."""
    command = _schemathesis()
    with _serving(tmp_path) as (base, key):
        assert over_http(f"{base}/readyz")[0] == 200
        done = subprocess.run(
            [
                *command,
                "run",
                f"{base}/sp/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {key}",
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,"
                "response_schema_conformance,response_headers_conformance",
                "--max-examples",
                "40",
                "--seed",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=tmp_path,  # its cache goes there, not into the working tree
        )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_a_running_serve_exposes_its_metrics_to_a_scraper(tmp_path: Path) -> None:
    """``GET /metrics`` of a real ``serve``: an SP's order and a replayed MO counted,
    the outbox read from the store, in a format Prometheus's own parser reads."""
    from prometheus_client.parser import text_string_to_metric_families

    with _serving(tmp_path) as (base, key):
        body = {"msisdn": "13800138000", "service": "NEWS"}
        assert over_http(f"{base}/sp/v1/orders", key=key, body=body)[0] == 201
        for _ in range(2):  # the gateway hands one MO over twice
            assert _mo(base, "8613800138001", "帮助", "mo-77")[0] == 200
        status, text = over_http(f"{base}/metrics")
    assert status == 200
    seen = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }
    ok = ("vas_lifecycle_commands_total", (("command", "request"), ("outcome", "ok")))
    assert seen[ok] == 1
    for outcome in ("ok", "duplicate"):
        labels = (("command", "receive_text"), ("outcome", outcome))
        assert seen[("vas_lifecycle_commands_total", labels)] == 1
    assert seen[("vas_lifecycle_store_up", ())] == 1
    assert ("vas_lifecycle_outbox_waiting", ()) in seen
