"""The error tree of vas_lifecycle.

Every error the library raises derives from :class:`VasError`, and also from the
builtin exception it resembles, so callers can catch either. Context travels as
attributes (``order_id``, ``state``, ``trigger``, ``reason``), never only in the text.
"""

from __future__ import annotations

from typing import Any

from vas_lifecycle.privacy import mask_digits, mask_numbers

__all__ = [
    "BatchError",
    "CallbackError",
    "ChargeRefusedError",
    "ClockError",
    "ConcurrencyError",
    "ConfirmationRefusedError",
    "ForcedSubscriptionError",
    "GatewayError",
    "IdempotencyKeyError",
    "InvalidAmountError",
    "InvalidArgumentError",
    "InvalidMsisdnError",
    "InvalidStateError",
    "PolicyError",
    "RefundRefusedError",
    "RetentionError",
    "SpAccessError",
    "StoreError",
    "TemplateError",
    "UnknownNoticeError",
    "UnknownOrderError",
    "UnknownServiceError",
    "VasError",
]


class VasError(Exception):
    """Root of every error raised by vas_lifecycle."""


class UnknownServiceError(VasError, LookupError):
    """No service with that code (or access code) is in the catalog."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unknown service {code!r}")
        self.code = code


class UnknownOrderError(VasError, LookupError):
    """No order with that id is in the store."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"unknown order {order_id!r}")
        self.order_id = order_id


class UnknownNoticeError(VasError, LookupError):
    """No notice with that id is in the store (a delivery report about nothing we sent)."""

    def __init__(self, notice_id: str) -> None:
        super().__init__(f"unknown notice {notice_id!r}")
        self.notice_id = notice_id


class InvalidMsisdnError(VasError, ValueError):
    """A subscriber number could not be read as an E.164 number."""

    def __init__(self, value: object, why: str) -> None:
        shown = mask_digits(repr(value))
        if len(shown) > 40:
            shown = shown[:37] + "..."
        super().__init__(f"malformed MSISDN {shown}: {why}")
        self.value = value


class InvalidAmountError(VasError, ValueError):
    """An amount of money is not a non-negative decimal with at most two places."""

    def __init__(self, value: object, why: str) -> None:
        super().__init__(f"invalid amount {value!r}: {why}")
        self.value = value


class InvalidArgumentError(VasError, ValueError):
    """An argument has the wrong type or value (a channel, a key, a language)."""


class PolicyError(VasError, ValueError):
    """A policy, a catalog or a combination of the two is impossible."""


class TemplateError(PolicyError):
    """A notice template lacks a field its rule requires, or names an unknown one."""

    def __init__(self, message: str, *, kind: str, language: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.language = language


class ClockError(VasError, ValueError):
    """The clock was moved backwards or gave a naive time."""


class InvalidStateError(VasError, RuntimeError):
    """The order is not in a state where that command makes sense."""

    def __init__(self, order_id: str, state: Any, trigger: str) -> None:
        state_name = getattr(state, "value", state)
        super().__init__(f"order {order_id} is {state_name}: cannot {trigger}")
        self.order_id = order_id
        self.state = state
        self.trigger = trigger


class ConfirmationRefusedError(VasError, PermissionError):
    """A confirmation (or a decline) was not accepted; the order is unchanged.

    ``reason`` is a :class:`~vas_lifecycle.ReasonCode`.
    """

    def __init__(self, order_id: str, reason: Any, detail: str = "", *, rule: str = "") -> None:
        text = f"confirmation of order {order_id} refused: {getattr(reason, 'value', reason)}"
        if detail:
            text += f" ({mask_numbers(detail)})"
        if rule:
            text += f" [{rule}]"
        super().__init__(text)
        self.order_id = order_id
        self.reason = reason
        #: the id of the rule that refused it (``C1``, ``C13``, ``IN1``)
        self.rule = rule
        #: what was refused, with subscriber numbers masked (C14a); the SP violation
        #: record keeps the full evidence
        self.detail = mask_numbers(detail)


class ForcedSubscriptionError(ConfirmationRefusedError):
    """A confirmation that looks like forced subscription (C13); booked against the SP."""

    def __init__(
        self, order_id: str, reason: Any, detail: str = "", *, sp_id: str, rule: str = ""
    ) -> None:
        super().__init__(order_id, reason, detail, rule=rule)
        self.sp_id = sp_id


class SpAccessError(VasError, PermissionError):
    """An SP asked for another SP's service; refused and booked against the asking SP.

    ``reason`` is a :class:`~vas_lifecycle.ReasonCode` value."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ChargeRefusedError(VasError, PermissionError):
    """``record_charge`` was called for a charge that C11 does not allow."""

    def __init__(self, order_id: str, reason: Any, *, rule: str = "") -> None:
        text = f"charge on order {order_id} refused: {getattr(reason, 'value', reason)}"
        super().__init__(text + (f" [{rule}]" if rule else ""))
        self.order_id = order_id
        self.reason = reason
        #: the id of the rule that refused it (``C11``, ``UK7``, ``IN3``)
        self.rule = rule


class RefundRefusedError(VasError, ValueError):
    """A refund that cannot be recorded: nothing left to refund on the order or the
    charge, or more than is left of it (``reason``). Nothing is stored."""

    def __init__(self, order_id: str, reason: Any, detail: str = "", *, rule: str = "") -> None:
        self.order_id = order_id
        self.reason = reason
        #: the id of the rule that refused it (``IN5``)
        self.rule = rule
        text = getattr(reason, "value", reason)
        suffix = f" [{rule}]" if rule else ""
        super().__init__(f"refund on order {order_id} refused: {text}{detail}{suffix}")


class IdempotencyKeyError(VasError, ValueError):
    """An idempotency key was reused for something else: a charge key for a different
    charge, a request key for a request with other arguments."""

    def __init__(self, key: str, what: str = "charge") -> None:
        super().__init__(f"{what} key {key!r} was already used for a different {what}")
        self.key = key
        self.what = what


class RetentionError(VasError, ValueError):
    """A purge would delete evidence younger than the retention period (C14)."""


class CallbackError(VasError, RuntimeError):
    """A function the embedder passed in (the id factory) failed; the cause is kept."""


class GatewayError(VasError, RuntimeError):
    """An SMS gateway refused or failed a submission; the outbox sends the notice again."""


class StoreError(VasError, RuntimeError):
    """The store failed; the unit of work was rolled back."""


class BatchError(StoreError):
    """Some commands of a batch failed (their changes undone), the others were
    committed. ``results`` holds each command's result in order (None where it
    failed), ``errors`` each failed command's error by its position."""

    def __init__(self, results: list[Any], errors: dict[int, VasError]) -> None:
        first = min(errors)
        super().__init__(
            f"{len(errors)} of {len(results)} commands failed, the others were committed "
            f"(the first, at {first}: {errors[first]})"
        )
        self.results = results
        self.errors = errors


class ConcurrencyError(StoreError):
    """The order changed under us more often than the facade retries."""

    def __init__(
        self, order_id: str, expected_version: int, found_version: int | None = None
    ) -> None:
        if not order_id:
            text = "concurrent transactions kept writing the same rows"
        else:
            found = f", found {found_version}" if found_version is not None else ""
            text = (
                f"order {order_id} changed concurrently "
                f"(expected version {expected_version}{found})"
            )
        super().__init__(text)
        self.order_id = order_id
        self.expected_version = expected_version
        self.found_version = found_version
