"""Settings of ``serve`` and ``worker``: a TOML file, environment variables, flags.

Each setting is ``section.key``; it is read from the command line first, then from
the environment variable ``VAS_<SECTION>_<KEY>`` (``VAS_KANNEL_PASSWORD``), then from
the ``--config`` file, then its default. Secrets (the smsbox password, the gateway
token) belong in the environment or in a file only its service can read.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vas_lifecycle.errors import InvalidArgumentError

__all__ = ["KNOWN", "Settings", "quiet_hours"]

#: every setting, with its type and default (None: unset)
KNOWN: dict[str, tuple[type, Any]] = {
    "store.db": (str, None),
    "store.dsn": (str, None),
    "store.schema": (str, "public"),
    "store.catalog": (str, None),
    "server.host": (str, "127.0.0.1"),
    "server.port": (int, 8080),
    "server.threads": (int, 8),
    "server.senders": (int, 2),
    "worker.tick": (float, 30.0),
    "worker.batch": (int, 500),
    "kannel.sendsms_url": (str, "http://127.0.0.1:13013/cgi-bin/sendsms"),
    "kannel.username": (str, None),
    "kannel.password": (str, None),
    "kannel.dlr_url": (str, None),
    "kannel.token": (str, None),
    "kannel.smsc": (str, None),
    "kannel.timeout": (float, 5.0),
    "policy.quiet_hours": (str, "22:00-08:00"),
}


class Settings:
    """The merged settings; ``get("kannel.username")``."""

    def __init__(
        self,
        file: str | None,
        flags: Mapping[str, object],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._file = _read(file) if file else {}
        self._flags = {k: v for k, v in flags.items() if v is not None}
        self._env = os.environ if environ is None else environ
        unknown = set(self._flags) - set(KNOWN)
        if unknown:  # pragma: no cover - a programming error in the CLI
            raise InvalidArgumentError(f"unknown settings {sorted(unknown)}")

    def get(self, name: str) -> Any:
        kind, default = KNOWN[name]
        section, key = name.split(".")
        env = f"VAS_{section.upper()}_{key.upper()}"
        if name in self._flags:
            value, where = self._flags[name], "the command line"
        elif env in self._env:
            value, where = self._env[env], env
        elif key in self._file.get(section, {}):
            value, where = self._file[section][key], "the config file"
        else:
            return default
        try:
            return kind(value) if not isinstance(value, bool) else _bad(name, value, where)
        except (TypeError, ValueError):
            return _bad(name, value, where)


def _bad(name: str, value: object, where: str) -> Any:
    kind = KNOWN[name][0].__name__
    raise InvalidArgumentError(f"{name} from {where} must be a {kind}, got {value!r}")


def _read(path: str) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InvalidArgumentError(f"{path} is not valid TOML: {err}") from None
    sections = {name.split(".")[0] for name in KNOWN}
    for section, table in data.items():
        if section not in sections or not isinstance(table, dict):
            raise InvalidArgumentError(f"{path}: unknown section [{section}]")
        for key in table:
            if f"{section}.{key}" not in KNOWN:
                raise InvalidArgumentError(f"{path}: unknown setting {section}.{key}")
    return data


def quiet_hours(value: str) -> tuple[dt.time, dt.time] | None:
    """``"22:00-08:00"`` (local time of the policy), or ``"off"``."""
    if value.strip().lower() == "off":
        return None
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise InvalidArgumentError(
            f"policy.quiet_hours is HH:MM-HH:MM or off, got {value!r}"
        ) from None
    return start, end
