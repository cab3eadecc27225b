"""Real Kannel processes for the end-to-end test: bearerbox, smsbox and fakesmsc
(Debian's ``kannel`` and ``kannel-extras``), on loopback, from the configuration in
tests/kannel/kannel.conf.in. Everything started here is stopped on the way out.

- ``handsets``: a fakesmsc connected for the whole test; every MT ends up there, and
  :meth:`Kannel.received` reads what it printed.
- :meth:`Kannel.send_mo` starts a short-lived fakesmsc on the ``injector`` centre that
  sends one MO text (UCS-2, as a handset sends Chinese) and is stopped once sent.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

CONF = Path(__file__).resolve().parent / "kannel" / "kannel.conf.in"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
BINARIES = ("/usr/sbin/bearerbox", "/usr/sbin/smsbox", FAKESMSC)
_GOT = re.compile(r"got message \d+: <(.*)>", re.IGNORECASE)


def missing() -> list[str]:
    """The Kannel programs this machine lacks."""
    return [b for b in BINARIES if not (os.path.isfile(b) and os.access(b, os.X_OK))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _bytes(data: str) -> bytes:
    """fakesmsc's url-coding: %XX, and + for a space."""
    return urllib.parse.unquote_to_bytes(data.replace("+", "%20"))


def _ucs2(data: str) -> str:
    return _bytes(data).decode("utf-16-be", "replace")


def wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@attrs.define
class Kannel:
    folder: Path
    ports: dict[str, int]
    sendsms_password: str
    processes: list[subprocess.Popen[bytes]] = attrs.field(factory=list)

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sendsms_port']}/cgi-bin/sendsms"

    def start(self, *command: str, log: str) -> subprocess.Popen[bytes]:
        out = (self.folder / log).open("wb")
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def received(self) -> list[tuple[str, str, str]]:
        """(sender, receiver, text) of every MT the handsets' centre got, the parts of
        a concatenated text joined. fakesmsc prints ``sender receiver text WORDS``,
        ``sender receiver ucs-2 DATA`` or ``sender receiver udh UDH data DATA``."""
        lines = (self.folder / "handsets.log").read_text(errors="replace").splitlines()
        parts: dict[tuple[str, str, str], dict[int, str]] = {}
        whole: list[tuple[str, str, str]] = []
        for line in lines:
            found = _GOT.search(line)
            if found is None:
                continue
            sender, receiver, kind, *rest = found.group(1).split(" ")
            if kind == "text":
                whole.append((sender, receiver, " ".join(rest)))
            elif kind in ("ucs-2", "ucs2"):
                whole.append((sender, receiver, _ucs2(rest[0])))
            elif kind == "udh":
                udh = _bytes(rest[0])
                text = " ".join(rest[2:]) if rest[1] == "text" else _ucs2(rest[2])
                # concatenation: 8-bit (IEI 0) or 16-bit (IEI 8) reference, total, number
                if udh[1] == 0:
                    ref, total, number = udh[3:4], udh[4], udh[5]
                else:
                    ref, total, number = udh[3:5], udh[5], udh[6]
                key = (sender, receiver, ref.hex())
                parts.setdefault(key, {})[number] = text
                if len(parts[key]) == total:
                    got = parts.pop(key)
                    whole.append((sender, receiver, "".join(got[n] for n in sorted(got))))
        return whole

    def send_mo(self, sender: str, receiver: str, text: str) -> None:
        """One MO text from ``sender`` to ``receiver``, through the injector centre."""
        data = urllib.parse.quote_from_bytes(text.encode("utf-16-be"))
        log = f"mo-{len(self.processes)}.log"
        process = self.start(
            FAKESMSC,
            "-H",
            "127.0.0.1",
            "-r",
            str(self.ports["injector_port"]),
            "-i",
            "0",
            "-m",
            "1",
            f"{sender} {receiver} ucs2 {data}",
            log=log,
        )
        wait_for(
            lambda: (
                "sent message 1" in (self.folder / log).read_text(errors="replace")
                or process.poll() is not None
            ),
            "fakesmsc to send its MO text",
        )
        time.sleep(0.2)  # let bearerbox take the line before the connection closes
        _stop(process)

    def stop(self) -> None:
        for process in reversed(self.processes):
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@contextmanager
def running_kannel(folder: Path, *, mo_url: str, token: str) -> Iterator[Kannel]:
    """bearerbox, smsbox and the handsets' fakesmsc, configured to call ``mo_url``."""
    names = ("admin_port", "smsbox_port", "sendsms_port", "handsets_port", "injector_port")
    ports = {name: free_port() for name in names}
    (folder / "spool").mkdir(parents=True, exist_ok=True)
    kannel = Kannel(folder, ports, sendsms_password=secrets.token_hex(8))
    conf = CONF.read_text().format(
        folder=folder,
        admin_password=secrets.token_hex(8),
        sendsms_password=kannel.sendsms_password,
        mo_url=mo_url,
        token=token,
        **ports,
    )
    (folder / "kannel.conf").write_text(conf)
    try:
        kannel.start("/usr/sbin/bearerbox", str(folder / "kannel.conf"), log="bearerbox.out")
        wait_for(lambda: _listening(ports["smsbox_port"]), "bearerbox")
        kannel.start("/usr/sbin/smsbox", str(folder / "kannel.conf"), log="smsbox.out")
        wait_for(lambda: _listening(ports["sendsms_port"]), "smsbox")
        kannel.start(
            FAKESMSC,
            "-H",
            "127.0.0.1",
            "-r",
            str(ports["handsets_port"]),
            "-m",
            "0",
            "0 0 text unused",
            log="handsets.log",
        )
        yield kannel
    finally:
        kannel.stop()
        shutil.rmtree(folder / "spool", ignore_errors=True)
