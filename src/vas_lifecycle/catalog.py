"""The service catalog: what SPs sell through the operator, at what price."""

from __future__ import annotations

import enum
import os
import tomllib
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

import attrs

from vas_lifecycle.errors import PolicyError, UnknownServiceError
from vas_lifecycle.values import canonical_access_code, check_service_code, code_key, to_amount

__all__ = ["Catalog", "OfferKind", "Period", "Service"]


class OfferKind(enum.StrEnum):
    """How a service is sold (the seed's three offer kinds)."""

    ON_DEMAND = "on_demand"  # 点播: paid per use
    SUBSCRIPTION = "subscription"  # 包月 / 订阅: recurring charge
    TRIAL = "trial"  # 免费体验: free for a fixed period, then it ends


class Period(enum.StrEnum):
    """The period a subscription price is charged for."""

    MONTH = "month"
    WEEK = "week"
    DAY = "day"
    USE = "use"  # on-demand: per use
    VALIDITY = "validity"  # a pack: per validity period of its own length (validity_days)


def _amount(value: object) -> Decimal:
    return to_amount(value)


def _non_empty(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"service {attribute.name} must be a non-empty string, got {value!r}")
    if not value.isprintable() or len(value) > 200:
        raise PolicyError(
            f"service {attribute.name} must be printable text of at most 200 characters, "
            f"got {value[:40]!r}"
        )


@attrs.frozen
class Service:
    """One catalog entry.

    ``price`` is per ``period`` (monthly by default for subscriptions, per use for
    on-demand). A trial is free and lasts ``trial_days``. ``inactivity_exempt``
    services are never cancelled for lack of use (UK6). A pack (``validity_days``)
    is valid that many days from its activation and renewed at the end when
    ``auto_renew``, as the policy's renewal rules allow (IN3, IN7).
    """

    code: str = attrs.field(converter=check_service_code)
    sp_id: str = attrs.field(validator=_non_empty)
    sp_name: str = attrs.field(validator=_non_empty)
    name: str = attrs.field(validator=_non_empty)
    kind: OfferKind = attrs.field(converter=OfferKind)
    price: Decimal = attrs.field(converter=_amount)
    access_code: str = attrs.field(converter=canonical_access_code)
    trial_days: int | None = None
    period: Period | None = attrs.field(default=None, converter=attrs.converters.optional(Period))
    #: UK6: never cancelled for lack of use (push, seasonal and annual services)
    inactivity_exempt: bool = attrs.field(
        default=False, validator=attrs.validators.instance_of(bool)
    )
    #: a pack (IN3, IN7): valid this many days from its activation, charged per
    #: validity period (``Period.VALIDITY``), renewed at its end if ``auto_renew``
    validity_days: int | None = None
    auto_renew: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    #: CT1: the subscription (its code) a trial converts to at its end, where the
    #: policy lets trials convert and the subscriber consented at the start
    converts_to: str | None = None
    #: the price as every order of this service records it (C12), made once
    price_text: str = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "price_text", str(self.price))
        if self.kind is OfferKind.TRIAL:
            if self.price != 0:
                raise PolicyError(f"trial {self.code!r} must be free (price 0), got {self.price}")
            if not isinstance(self.trial_days, int) or self.trial_days <= 0:
                raise PolicyError(f"trial {self.code!r} needs trial_days > 0")
        elif self.trial_days is not None:
            raise PolicyError(f"only a trial has trial_days (service {self.code!r})")
        if self.converts_to is not None and self.kind is not OfferKind.TRIAL:
            raise PolicyError(f"only a trial converts (service {self.code!r})")
        if self.kind is OfferKind.SUBSCRIPTION and self.price == 0:
            raise PolicyError(f"subscription {self.code!r} has price 0: sell it as a trial")
        if self.validity_days is not None:
            self._check_pack()
        if self.period is None:
            default = Period.USE if self.kind is OfferKind.ON_DEMAND else Period.MONTH
            object.__setattr__(self, "period", default)
        if self.kind is OfferKind.ON_DEMAND and self.period is not Period.USE:
            raise PolicyError(f"on-demand {self.code!r} is priced per use")
        if self.kind is not OfferKind.ON_DEMAND and self.period is Period.USE:
            raise PolicyError(f"{self.kind.value} {self.code!r} cannot be priced per use")
        if self.period is Period.VALIDITY and self.validity_days is None:
            raise PolicyError(f"{self.code!r}: a validity period needs validity_days")

    def _check_pack(self) -> None:
        days = self.validity_days
        if isinstance(days, bool) or not isinstance(days, int) or days <= 0:
            raise PolicyError(f"pack {self.code!r} needs validity_days > 0, got {days!r}")
        if self.kind is not OfferKind.SUBSCRIPTION:
            raise PolicyError(f"only a subscription is sold as a pack (service {self.code!r})")
        if self.period not in (None, Period.VALIDITY):
            raise PolicyError(f"pack {self.code!r} is charged per validity period")
        object.__setattr__(self, "period", Period.VALIDITY)

    @property
    def billing_period(self) -> Period:
        """The period, never ``None`` once built."""
        assert self.period is not None
        return self.period


class Catalog:
    """The services on sale, by code. Codes are unique; lookups are case-insensitive.

    The catalog may change while orders live (C12): :meth:`put` replaces an entry,
    and orders keep the name and price frozen when their consent was given.
    """

    def __init__(self, services: Iterable[Service] = ()) -> None:
        self._by_code: dict[str, Service] = {}
        for service in services:
            key = code_key(service.code)
            if key in self._by_code:
                raise PolicyError(f"duplicate service code {service.code!r} in catalog")
            self._by_code[key] = service

    @classmethod
    def from_toml(cls, source: str | os.PathLike[str]) -> Catalog:
        """A catalog written as TOML (the text, or a path to a UTF-8 file, such as a
        :class:`pathlib.Path`): one ``[[service]]`` table per service, with the
        :class:`Service` fields (``price`` as a string, e.g. ``"5.00"``, so no binary
        fraction ever reaches a price)::

            [[service]]
            code = "NEWS"
            sp_id = "SP01"
            sp_name = "星辰科技"
            name = "新闻早报"
            kind = "subscription"
            price = "5.00"
            access_code = "10658001"

        Raises:
            PolicyError: not TOML, an unknown or missing field, or a service the
                catalog refuses (the message names the service by its position), or
                a file that cannot be read.
        """
        if isinstance(source, os.PathLike):
            try:
                text = Path(source).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise PolicyError(f"cannot read the catalog {os.fspath(source)}: {err}") from None
        elif isinstance(source, str):
            text = source
        else:
            raise PolicyError(f"a catalog is TOML text or a path, got {type(source).__name__}")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            if _names_a_file(text):
                raise PolicyError(
                    f"from_toml was given {text[:200]!r}, which is neither TOML nor read as a "
                    "file: pass the file as a path, Catalog.from_toml(Path(name))"
                ) from None
            raise PolicyError(f"the catalog is not valid TOML: {err}") from None
        extra = set(data) - {"service"}
        tables = data.get("service", [])
        if extra or not isinstance(tables, list):
            raise PolicyError("a catalog holds only [[service]] tables")
        return cls(_service_from_table(n, table) for n, table in enumerate(tables, 1))

    def put(self, service: Service) -> None:
        """Add a service or replace the one with the same code."""
        if not isinstance(service, Service):
            raise PolicyError(f"expected a Service, got {type(service).__name__}")
        self._by_code[code_key(service.code)] = service

    def get(self, code: str) -> Service:
        """Return the service with that code.

        Raises:
            UnknownServiceError: no such service.
        """
        if isinstance(code, str):
            found = self._by_code.get(code_key(code.strip()))
            if found is not None:
                return found
        raise UnknownServiceError(str(code))

    def by_access_code(self, access_code: str) -> list[Service]:
        """Every service sold through that access number (short code)."""
        try:
            wanted = canonical_access_code(access_code)
        except PolicyError:
            return []
        return [s for s in self._by_code.values() if s.access_code == wanted]

    def __iter__(self) -> Iterator[Service]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code_key(code.strip()) in self._by_code


_FIELDS = {f.name for f in attrs.fields(Service) if f.init}
_REQUIRED = {"code", "sp_id", "sp_name", "name", "kind", "price", "access_code"}


def _names_a_file(text: str) -> bool:
    """Is ``text`` (which is not TOML) the name of a catalog file rather than its text?"""
    name = text.strip()
    if "\n" in name or not name:
        return False
    try:
        return name.lower().endswith(".toml") or Path(name).is_file()
    except (OSError, ValueError):
        return False


def _service_from_table(number: int, table: object) -> Service:
    where = f"service {number}"
    if not isinstance(table, dict):
        raise PolicyError(f"{where}: a [[service]] table is expected")
    unknown, missing = set(table) - _FIELDS, _REQUIRED - set(table)
    if unknown or missing:
        raise PolicyError(
            f"{where}: unknown fields {sorted(unknown)}, missing fields {sorted(missing)}"
        )
    price = table["price"]
    if not isinstance(price, str | int) or isinstance(price, bool):
        raise PolicyError(f'{where}: price is a string such as "5.00", got {price!r}')
    for name in ("code", "sp_id", "sp_name", "name", "kind", "access_code"):
        if not isinstance(table[name], str):
            raise PolicyError(f"{where}: {name} must be a string")
    try:
        return Service(**table)
    except PolicyError as err:
        raise PolicyError(f"{where}: {err}") from None
    except (TypeError, ValueError) as err:
        raise PolicyError(f"{where}: {err}") from None
