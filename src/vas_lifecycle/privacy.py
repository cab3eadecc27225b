"""Subscriber numbers in output (C14a): masked unless the caller asks for them in full.

A leaf module: the error tree, the records' reprs and the command line all use it.
Stored data keeps full numbers (it is the evidence); only what is shown is masked.
"""

from __future__ import annotations

import re

__all__ = ["mask_digits", "mask_msisdn", "mask_numbers", "masked_repr", "numbers_masked_repr"]

_E164 = re.compile(r"\+(\d{8,15})")


def mask_msisdn(value: str) -> str:
    """``+8613800138000`` as ``+86138****8000``: the country code and a few leading
    digits, four stars, the last four digits. Anything that is not an E.164 number
    (an SP id, ``system``) is returned as it is."""
    found = _E164.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        return value
    digits = found.group(1)
    head = max(0, min(5, len(digits) - 8))
    return f"+{digits[:head]}****{digits[-4:]}"


def mask_numbers(text: str) -> str:
    """``text`` with every E.164 number in it masked (evidence, error details)."""
    return _E164.sub(lambda m: mask_msisdn(m.group(0)), text)


def mask_digits(text: str) -> str:
    """``text`` with all but its last four digits starred, when it holds more than six
    (a malformed number is still personal data)."""
    count = sum(ch.isdigit() for ch in text)
    if count <= 6:
        return text
    keep = count - 4
    out = []
    for ch in text:
        if ch.isdigit() and keep > 0:
            out.append("*")
            keep -= 1
        else:
            out.append(ch)
    return "".join(out)


def masked_repr(value: object) -> str:
    """``repr`` of a field that may hold a subscriber number (for attrs' ``repr=``)."""
    return repr(mask_msisdn(value) if isinstance(value, str) else value)


def numbers_masked_repr(value: object) -> str:
    """``repr`` of a free text that may quote subscriber numbers."""
    return repr(mask_numbers(value) if isinstance(value, str) else value)
