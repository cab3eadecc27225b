"""Small value checks shared by the catalog, the policy and the facade.

Money is always :class:`~decimal.Decimal` with at most two places; a float is refused
because ``0.1 + 0.2`` is not a price anybody quoted. Subscriber numbers are stored in
E.164 (``+8613800138000``).
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation

from vas_lifecycle.errors import InvalidAmountError, InvalidMsisdnError

__all__ = ["format_amount", "normalize_msisdn", "to_amount"]

_CENT = Decimal("0.01")


def to_amount(value: object) -> Decimal:
    """Return ``value`` as a non-negative Decimal with at most two decimal places.

    Accepts ``Decimal``, ``int`` and decimal strings. Refuses ``float`` and ``bool``
    (ambiguous), negative values, NaN and infinities, and sub-cent precision.
    """
    if isinstance(value, (bool, float)):
        raise InvalidAmountError(value, "use Decimal or a string, never float")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation as err:
            raise InvalidAmountError(value, "not a decimal number") from err
    else:
        raise InvalidAmountError(value, f"unsupported type {type(value).__name__}")
    if not amount.is_finite():
        raise InvalidAmountError(value, "not a finite number")
    if amount < 0:
        raise InvalidAmountError(value, "negative")
    if amount != amount.quantize(_CENT):
        raise InvalidAmountError(value, "more than two decimal places")
    return amount.quantize(_CENT)


def format_amount(amount: Decimal) -> str:
    """Render an amount the way a price list shows it: ``5``, ``0.5``, ``12.99``."""
    text = f"{amount:.2f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def normalize_msisdn(value: object, country_code: str) -> str:
    """Normalise a subscriber number to E.164.

    ``13800138000``, ``+86 138-0013-8000``, ``008613800138000`` and
    ``8613800138000`` all give ``+8613800138000`` for country code ``86``.
    Full-width digits are read as digits.

    Raises:
        InvalidMsisdnError: not a string, empty, or not 8 to 15 digits.
    """
    if not isinstance(value, str):
        raise InvalidMsisdnError(value, "must be a string")
    text = unicodedata.normalize("NFKC", value).strip()
    for sep in (" ", "-", "(", ")", "."):
        text = text.replace(sep, "")
    if not text:
        raise InvalidMsisdnError(value, "empty")
    international = False
    if text.startswith("+"):
        international = True
        text = text[1:]
    elif text.startswith("00"):
        international = True
        text = text[2:]
    if not text.isascii() or not text.isdigit():
        raise InvalidMsisdnError(value, "only digits, spaces, dashes and a leading + are allowed")
    if not international:
        if text.startswith(country_code) and len(text) > 11:
            international = True
        else:
            national = text.lstrip("0")
            if len(national) < 7:
                raise InvalidMsisdnError(value, "a subscriber number has at least 7 digits")
            text = country_code + national
    if not 8 <= len(text) <= 15:
        raise InvalidMsisdnError(value, "an E.164 number has 8 to 15 digits")
    if text[0] == "0":
        raise InvalidMsisdnError(value, "country code cannot start with 0")
    return "+" + text
