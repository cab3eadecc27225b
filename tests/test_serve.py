"""The commands that run the library for real: the catalog file, settings, sp-key,
and `vas-lifecycle serve` as a real process answering HTTP."""

from __future__ import annotations

import functools
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import CATALOG_TOML
from tests.fake_smsbox import running_smsbox
from tests.wsgi_client import over_http
from vas_lifecycle import Catalog, PolicyError, SQLiteStore
from vas_lifecycle.cli import main
from vas_lifecycle.cli.settings import KNOWN, Settings
from vas_lifecycle.errors import InvalidArgumentError
from vas_lifecycle.sp_keys import SpKeys
from vas_lifecycle.testing import demo_catalog

TOKEN = "a-gateway-token-of-length"


def test_the_example_catalog_file_is_the_demo_catalog() -> None:
    assert list(Catalog.from_toml(CATALOG_TOML.read_text(encoding="utf-8"))) == list(demo_catalog())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "not valid TOML"),
        ("[other]\nx = 1", "only \\[\\[service\\]\\] tables"),
        ('[[service]]\ncode = "A"', "missing fields"),
        (
            '[[service]]\ncode="A"\nsp_id="S"\nsp_name="s"\nname="n"\nkind="subscription"\n'
            'price=5.5\naccess_code="1065"',
            "price is a string",
        ),
        (
            '[[service]]\ncode="A"\nsp_id="S"\nsp_name="s"\nname="n"\nkind="subscription"\n'
            'price="5"\naccess_code="1065"\ncolour="red"',
            "unknown fields \\['colour'\\]",
        ),
        (
            '[[service]]\ncode="A"\nsp_id="S"\nsp_name="s"\nname="n"\nkind="trial"\n'
            'price="0"\naccess_code="1065"',
            "service 1: trial 'A' needs trial_days",
        ),
    ],
)
def test_a_bad_catalog_file_names_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Catalog.from_toml(text)


def test_settings_come_from_flags_then_environment_then_file(tmp_path: Path) -> None:
    config = tmp_path / "vas.toml"
    config.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n[kannel]\nusername = "file"\n')
    settings = Settings(
        str(config),
        {"server.port": 9100, "server.host": None},
        {"VAS_KANNEL_USERNAME": "env", "VAS_SERVER_HOST": "10.0.0.1"},
    )
    assert settings.get("server.port") == 9100
    assert settings.get("server.host") == "10.0.0.1"
    assert settings.get("kannel.username") == "env"
    assert settings.get("worker.tick") == 30.0
    with pytest.raises(InvalidArgumentError, match=r"server\.port from VAS_SERVER_PORT"):
        Settings(None, {}, {"VAS_SERVER_PORT": "eighty"}).get("server.port")
    config.write_text("[kannel]\npasword = 'typo'\n")
    with pytest.raises(InvalidArgumentError, match=r"unknown setting kannel\.pasword"):
        Settings(str(config), {}, {})


def test_sp_key_add_prints_a_key_once_list_shows_no_secret_and_revoke_works(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "vas.db")
    runner = CliRunner()
    catalog = ["--catalog", str(CATALOG_TOML)]
    added = runner.invoke(main, ["sp-key", "add", "SP01", "--db", db, "--create", *catalog])
    assert added.exit_code == 0, added.output
    key = added.output.strip()
    store = SQLiteStore(db)
    assert SpKeys(store).authenticate(key) == "SP01"
    listed = runner.invoke(main, ["sp-key", "list", "SP01", "--db", db])
    key_id, secret = key.removeprefix("vas_").split(".")
    assert key_id in listed.output and secret not in listed.output and "live" in listed.output
    revoked = runner.invoke(main, ["sp-key", "revoke", "SP01", "--key", key_id, "--db", db])
    assert revoked.exit_code == 0 and "revoked 1" in revoked.output
    assert SpKeys(store).authenticate(key) is None
    again = runner.invoke(main, ["sp-key", "revoke", "SP01", "--key", key_id, "--db", db])
    assert again.exit_code == 2 and "no live key" in again.output
    bad = runner.invoke(main, ["sp-key", "add", "SP 01; drop", "--db", db, "--force"])
    assert bad.exit_code == 2 and "an SP id is" in bad.output
    store.close()


def test_sp_key_revoke_names_a_key_or_says_all(tmp_path: Path) -> None:
    db = str(tmp_path / "vas.db")
    store = SQLiteStore(db)
    keys = [SpKeys(store).add("SP01") for _ in range(2)]
    runner = CliRunner()
    bare = runner.invoke(main, ["sp-key", "revoke", "SP01", "--db", db])
    assert bare.exit_code == 2 and "--all" in bare.output
    assert all(SpKeys(store).authenticate(k) == "SP01" for k in keys)  # nothing revoked
    both = runner.invoke(main, ["sp-key", "revoke", "SP01", "--key", "x", "--all", "--db", db])
    assert both.exit_code == 2
    every = runner.invoke(main, ["sp-key", "revoke", "SP01", "--all", "--db", db])
    assert every.exit_code == 0 and "revoked 2" in every.output
    assert all(SpKeys(store).authenticate(k) is None for k in keys)
    store.close()


def test_sp_key_add_refuses_an_sp_the_catalog_does_not_name_unless_forced(tmp_path: Path) -> None:
    db = str(tmp_path / "vas.db")
    SQLiteStore(db).close()
    runner = CliRunner()
    typo = runner.invoke(
        main, ["sp-key", "add", "SPO1", "--db", db, "--catalog", str(CATALOG_TOML)]
    )
    assert typo.exit_code == 2 and "SPO1 sells nothing" in typo.output and "SP01" in typo.output
    blind = runner.invoke(main, ["sp-key", "add", "SP01", "--db", db])
    assert blind.exit_code == 2 and "--catalog" in blind.output
    store = SQLiteStore(db)
    assert SpKeys(store).keys("SPO1") == [] and SpKeys(store).keys("SP01") == []
    forced = runner.invoke(main, ["sp-key", "add", "SP99", "--db", db, "--force"])
    assert forced.exit_code == 0 and SpKeys(store).authenticate(forced.output.strip()) == "SP99"
    store.close()


@pytest.mark.parametrize(
    "command",
    [
        ["sp-key", "add", "SP01", "--force"],
        ["sp-key", "list", "SP01"],
        ["worker", "--catalog", str(CATALOG_TOML)],
        ["serve", "--catalog", str(CATALOG_TOML)],
        ["bill", "--period", "2026-12", "--catalog", str(CATALOG_TOML)],
    ],
)
def test_a_mistyped_db_path_is_refused_not_created(tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "vsa.db"
    env = {"VAS_KANNEL_USERNAME": "u", "VAS_KANNEL_PASSWORD": "p", "VAS_KANNEL_TOKEN": TOKEN}
    result = CliRunner(env=env).invoke(main, [*command, "--db", str(typo)])
    assert (
        result.exit_code == 2 and "does not exist" in result.output and "--create" in result.output
    )
    assert not typo.exists()


def test_serve_refuses_to_start_without_a_gateway(tmp_path: Path) -> None:
    result = CliRunner(env={"VAS_KANNEL_USERNAME": None, "VAS_KANNEL_PASSWORD": None}).invoke(
        main, ["serve", "--db", str(tmp_path / "v.db"), "--catalog", str(CATALOG_TOML)]
    )
    assert result.exit_code == 2 and "no SMS gateway configured" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.communicate()[1].decode())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("serve did not start listening")


@contextmanager
def running_serve(
    db: Path, smsbox_url: str, *, env: dict[str, str] | None = None, worker: bool = True
) -> Iterator[str]:
    """A real `vas-lifecycle serve` process on a free port; yields its base URL and
    stops it with SIGTERM, which it must survive with exit code 0."""
    port = _free_port()
    environ = {
        **os.environ,
        "VAS_KANNEL_SENDSMS_URL": smsbox_url,
        "VAS_KANNEL_USERNAME": "vas",
        "VAS_KANNEL_PASSWORD": "secret",
        "VAS_KANNEL_TOKEN": TOKEN,
        "VAS_KANNEL_DLR_URL": f"http://127.0.0.1:{port}/kannel/dlr",
        **(env or {}),
    }
    args = ["serve", "--db", str(db), "--catalog", str(CATALOG_TOML), "--port", str(port)]
    if worker:
        args += ["--with-worker", "--tick", "0.2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "vas_lifecycle", *args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    assert b"stopped" in err


def _sp_key(db: Path, sp_id: str = "SP01") -> str:
    store = SQLiteStore(db)
    try:
        return SpKeys(store).add(sp_id)
    finally:
        store.close()


def _mo(base: str, sender: str, text: str, message_id: str) -> tuple[int, bytes]:
    query = urllib.parse.urlencode(
        {"from": sender, "to": "10086", "text": text, "id": message_id, "token": TOKEN}
    )
    return over_http(f"{base}/kannel/mo?{query}")


def test_serve_answers_sps_and_kannel_over_http_and_stops_on_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "vas.db"
    key = _sp_key(db)
    with running_smsbox() as (url, box), running_serve(db, url) as base:
        status, body = over_http(
            f"{base}/sp/v1/orders", key=key, body={"msisdn": "13800138000", "service": "NEWS"}
        )
        assert status == 201, body
        order = json.loads(body)
        assert over_http(f"{base}/sp/v1/orders/{order['id']}", key="vas_x.y")[0] == 401
        _until(lambda: len(box.seen) == 1)  # the confirmation request went to smsbox
        (sent,) = box.seen
        assert sent["to"] == ["8613800138000"] and "二次确认" in sent["text"][0]
        # the subscriber reads it, then answers through Kannel's get-url (a reply
        # faster than policy.fastest_human_reply would be refused as forced, C13)
        time.sleep(2.5)
        assert _mo(base, "8613800138000", "是", "k-1") == (200, b"")
        status, body = over_http(f"{base}/sp/v1/orders/{order['id']}", key=key)
        assert status == 200 and json.loads(body)["state"] == "active"
        _until(lambda: len(box.seen) == 2)
        assert "成功订购" in box.seen[1]["text"][0]


def _until(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    """Wait for something another process does; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_serve_answers_while_the_gateway_hangs_and_sends_everything_once_it_answers(
    tmp_path: Path,
) -> None:
    """A stuck smsbox (it takes the connection and never answers, and the gateway
    timeout is long) must not hold any request: every request is answered while the
    senders are still stuck in smsbox, and every notice goes out once it answers."""
    db = tmp_path / "vas.db"
    key = _sp_key(db)
    hold = threading.Event()
    numbers = [f"86138001{n:05d}" for n in range(12)]
    askers = [f"86139001{n:05d}" for n in range(4)]
    timings: list[float] = []

    def timed(call: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
        began = time.monotonic()
        answer = call()
        timings.append(time.monotonic() - began)
        return answer

    with (
        running_smsbox(hold=hold) as (url, box),
        running_serve(db, url, env={"VAS_KANNEL_TIMEOUT": "240"}, worker=False) as base,
    ):
        order_url = f"{base}/sp/v1/orders"
        calls: list[Callable[[], tuple[int, bytes]]] = [
            functools.partial(over_http, order_url, key=key, body={"msisdn": n, "service": "NEWS"})
            for n in numbers
        ]
        calls += [functools.partial(_mo, base, n, "0000", f"m-{n}") for n in askers]
        with ThreadPoolExecutor(len(calls)) as pool:
            answers = list(pool.map(timed, calls))
        assert [status for status, _ in answers] == [201] * 12 + [200] * 4
        assert not box.seen  # all of that while smsbox has answered nothing
        _until(lambda: len(box.held) == 2)  # both senders are stuck in smsbox now
        first = json.loads(answers[0][1])["id"]
        assert timed(lambda: over_http(f"{order_url}/{first}", key=key))[0] == 200
        assert _mo(base, "8613900100099", "0000", "m-late") == (200, b"")
        assert len(box.held) == 2 and not box.seen
        print(
            f"\n{len(timings)} requests while smsbox hangs: slowest {max(timings):.3f} s, "
            f"median {statistics.median(timings):.3f} s"
        )
        hold.set()
        # nothing was lost: each confirmation request and each reply goes out once
        everyone = [*numbers, *askers, "8613900100099"]
        _until(lambda: len(box.seen) == len(everyone))
        time.sleep(0.5)
        assert sorted(m["to"][0] for m in box.seen) == sorted(everyone)


def test_serve_sp_retries_with_an_idempotency_key_answer_the_first_answer(
    tmp_path: Path,
) -> None:
    """An SP's client times out and retries through a real server: the same key and
    body answer the first answer and send the subscriber nothing more; another body
    under the key is 422; a duplicate without a key names the live order."""
    db = tmp_path / "vas.db"
    key = _sp_key(db)
    with running_smsbox() as (url, box), running_serve(db, url, worker=False) as base:
        orders = f"{base}/sp/v1/orders"
        body = {"msisdn": "13800138000", "service": "NEWS"}
        retry = {"Idempotency-Key": "3b8f2c8e-0c1d-4a59-9a51-4f4f0a3c9d10"}
        first = over_http(orders, key=key, body=body, headers=retry)
        assert first[0] == 201
        answers = [over_http(orders, key=key, body=body, headers=retry) for _ in range(3)]
        assert answers == [first] * 3
        other = over_http(orders, key=key, body={**body, "service": "WEATHER"}, headers=retry)
        assert other[0] == 422 and json.loads(other[1])["reason"] == "idempotency_key_reused"
        # the retries did not count toward the daily limit (3): two more are taken
        for service in ("WEATHER", "JOKE"):
            assert over_http(orders, key=key, body={**body, "service": service})[0] == 201
        _until(lambda: len(box.seen) == 3)  # NEWS, WEATHER and JOKE asked once each
        # without a key, a duplicate is 409 with the live order's id
        other_sub = {"msisdn": "13900139000", "service": "NEWS"}
        live = json.loads(over_http(orders, key=key, body=other_sub)[1])["id"]
        duplicate = over_http(orders, key=key, body=other_sub)
        assert duplicate[0] == 409 and json.loads(duplicate[1])["existing_order"] == live
        _until(lambda: len(box.seen) == 4)
        time.sleep(0.5)
        assert len(box.seen) == 4


def test_every_setting_is_documented_with_its_variable_and_default() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "serve.md").read_text("utf-8")
    # the settings table: the one whose header begins "| setting |", to its end
    lines = doc.splitlines()
    first = lines.index("| setting | environment variable | flag | default | what it is |")
    table = itertools.takewhile(lambda line: line.startswith("|"), lines[first:])
    rows = {
        cells[0].strip("` "): cells
        for line in table
        if line.startswith("| `")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert set(rows) == set(KNOWN)
    for name, (_kind, default) in KNOWN.items():
        section, key = name.split(".")
        assert rows[name][1] == f"`VAS_{section.upper()}_{key.upper()}`", name
        if default is not None:
            assert rows[name][3] == f"`{default}`", name


def test_a_catalog_is_read_from_a_path_and_a_file_name_given_as_text_is_explained(
    tmp_path: Path,
) -> None:
    assert list(Catalog.from_toml(CATALOG_TOML)) == list(demo_catalog())
    with pytest.raises(PolicyError, match=r"pass the file as a path, Catalog.from_toml\(Path"):
        Catalog.from_toml(str(CATALOG_TOML))
    with pytest.raises(PolicyError, match="cannot read the catalog"):
        Catalog.from_toml(tmp_path / "missing.toml")
