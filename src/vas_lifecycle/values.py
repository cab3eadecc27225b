"""Small value checks shared by the catalog, the policy and the facade.

Money is always :class:`~decimal.Decimal` with at most two places; a float is refused
because ``0.1 + 0.2`` is not a price anybody quoted. Subscriber numbers are stored in
E.164 (``+8613800138000``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from vas_lifecycle.errors import InvalidAmountError, InvalidMsisdnError, PolicyError

__all__ = [
    "MAX_AMOUNT",
    "canonical_access_code",
    "check_service_code",
    "clean_text",
    "code_key",
    "fold_width",
    "format_amount",
    "normalize_msisdn",
    "to_amount",
    "upper_ascii",
]

_CENT = Decimal("0.01")
#: The largest amount accepted anywhere (a price, a charge): far above any VAS price,
#: and small enough that cents are always exact.
MAX_AMOUNT = Decimal("1000000000")

#: Full-width ASCII forms (U+FF01-U+FF5E) and the ideographic space, as typed on
#: Chinese handsets, mapped to ASCII. Nothing else is folded: enclosed, mathematical,
#: modifier or superscript letters keep their identity (C10a).
_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


_ASCII_UPPER = {code: code - 32 for code in range(ord("a"), ord("z") + 1)}


def fold_width(text: str) -> str:
    """``text`` with full-width ASCII forms and the ideographic space made ASCII."""
    return text.translate(_WIDTH)


def upper_ascii(text: str) -> str:
    """``text`` with ASCII letters in upper case and every other character as it is
    (``str.upper`` would also turn the long s ``ſ`` into ``S``)."""
    return text.translate(_ASCII_UPPER)


_CODE_SEPARATORS = str.maketrans("", "", "-_ ")


def code_key(code: str) -> str:
    """How a service code is matched (C9): full-width folded, ASCII letters in upper
    case, hyphens, underscores and spaces left out, so ``TD music7`` and ``TD MUSIC 7``
    both name ``MUSIC-7``."""
    return upper_ascii(fold_width(code)).translate(_CODE_SEPARATORS)


def check_service_code(code: str) -> str:
    """A catalog's service code, which a subscriber must be able to type after ``TD``:
    letters (Chinese too), digits, hyphens and underscores, at most 32 characters.

    Raises:
        PolicyError: anything else.
    """
    if not isinstance(code, str) or not 1 <= len(code.strip()) <= 32:
        raise PolicyError(f"a service code has 1 to 32 characters, got {code!r}")
    text = code.strip()
    if not all(ch.isalnum() or ch in "-_" for ch in text) or not code_key(text):
        raise PolicyError(
            f"service code {text!r} must be letters, digits, '-' or '_' (it is typed after TD)"
        )
    return text


def canonical_access_code(value: object) -> str:
    """An access number (short code) as digits only: ``1065-8002``, ``1065 8002`` and
    ``１０６５８００２`` are all ``10658002``.

    Raises:
        PolicyError: not 3 to 21 digits once spaces, hyphens and dots are left out.
    """
    text = fold_width(value) if isinstance(value, str) else ""
    for sep in (" ", "-", "."):
        text = text.replace(sep, "")
    if not (text.isascii() and text.isdigit() and 3 <= len(text) <= 21):
        raise PolicyError(f"an access code is 3 to 21 digits, got {value!r}")
    return text


def _shown(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # the control picture: NUL is shown as U+2400
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"  # C1 controls and lone surrogates


def clean_text(text: str, limit: int) -> str:
    """A received text as it is stored: at most ``limit`` characters, with control
    characters shown as their Unicode control pictures (NUL as U+2400, ``\\x07`` as
    U+2407; tab and line breaks kept) and C1 controls and lone surrogates as U+FFFD, so
    every store can keep it and every reader sees what arrived. Markup and every other
    character stay as they are: print stored text literally."""
    cut = text[:limit]
    if cut.isprintable():
        return cut
    return "".join(
        _shown(ch)
        if (ch < " " and ch not in "\t\n\r") or "\x7f" <= ch <= "\x9f" or "\ud800" <= ch <= "\udfff"
        else ch
        for ch in cut
    )


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
    if amount > MAX_AMOUNT:
        raise InvalidAmountError(value, f"larger than {MAX_AMOUNT}")
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
    text = fold_width(value).strip()
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
