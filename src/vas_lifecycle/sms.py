"""Tolerant reading of subscriber texts into commands (C3, C8, C9, C10).

The grammar is the policy's data (keyword sets, separators); this module holds no
regime. Reading is forgiving: Unicode compatibility folding (full-width ``Ｙ``,
``０００００``, ``ＴＤ`` and the ideographic space become ASCII), case folding,
control and direction marks dropped, spaces and punctuation trimmed around the word.
Whatever cannot be read is :attr:`CommandKind.UNKNOWN`: it changes nothing.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from functools import lru_cache

import attrs
import pendulum

from vas_lifecycle.policy import Policy

__all__ = ["Command", "CommandKind", "PickSession", "fragment", "normalize_text", "parse"]

#: Longest text read as a command; anything longer is UNKNOWN without further work.
MAX_COMMAND_LENGTH = 64


class CommandKind(enum.StrEnum):
    CONFIRM = "confirm"
    DECLINE = "decline"
    LIST = "list"
    PICK = "pick"
    CANCEL_ALL = "cancel_all"
    UNSUBSCRIBE = "unsubscribe"
    HELP = "help"
    UNKNOWN = "unknown"


@attrs.frozen
class Command:
    """What a subscriber's text asks for."""

    kind: CommandKind
    code: str | None = None  # the confirmation code quoted (C3)
    numbers: tuple[int, ...] = ()  # the picked numbers (C8)
    service_code: str | None = None  # TD <code> (C9)


@attrs.frozen
class PickSession:
    """The numbered list sent after ``0000`` (C8): picks refer to it, as it was sent."""

    msisdn: str
    order_ids: tuple[str, ...]
    sent_at: pendulum.DateTime
    expires_at: pendulum.DateTime


def _is_edge(ch: str) -> bool:
    """Characters trimmed around a word: spaces, punctuation, symbols (emoji too)."""
    return unicodedata.category(ch)[0] in "PZS"


def normalize_text(text: str) -> str:
    """Fold a text for reading: NFKC, upper case, no control or format characters,
    single spaces, and no spaces, punctuation or symbols at either end."""
    folded = unicodedata.normalize("NFKC", text[: MAX_COMMAND_LENGTH * 4])
    kept = []
    for ch in folded:
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp") or ch.isspace():
            kept.append(" ")
        elif category[0] != "C":  # drops format (RTL marks), surrogates, private use
            kept.append(ch)
    words = "".join(kept).upper().split()
    joined = " ".join(words)
    start, end = 0, len(joined)
    while start < end and _is_edge(joined[start]):
        start += 1
    while end > start and _is_edge(joined[end - 1]):
        end -= 1
    return joined[start:end]


def fragment(text: str, limit: int = 10) -> str:
    """A short, printable excerpt of ``text`` that is safe to quote in a reply."""
    folded = unicodedata.normalize("NFKC", text[: limit * 8])
    safe = "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN" or ch == " ")
    safe = " ".join(safe.split())
    return safe[:limit] + ("…" if len(safe) > limit else "")


@lru_cache(maxsize=32)
def _pick_pattern(separators: str) -> re.Pattern[str]:
    sep = "[" + re.escape(unicodedata.normalize("NFKC", separators)) + "]+"
    return re.compile(rf"[0-9]{{1,3}}(?:{sep}[0-9]{{1,3}})*")


def _word_and_code(text: str, words: frozenset[str]) -> tuple[bool, str | None]:
    """Does ``text`` start with one of ``words``, followed by nothing or by a code?"""
    for word in sorted(words, key=len, reverse=True):
        if text.startswith(word):
            rest = text[len(word) :].strip(" -:#,.")
            if not rest:
                return True, None
            if rest.isascii() and rest.isdigit():
                return True, rest
    return False, None


def parse(text: object, policy: Policy, *, to_operator: bool) -> Command:
    """Read one inbound text. Never raises; anything unreadable is UNKNOWN.

    ``to_operator`` tells whether it was sent to the operator number (where yes/no,
    ``0000`` and picks are read) or to a service's access code (where ``TD`` is).
    """
    if not isinstance(text, str):
        return Command(CommandKind.UNKNOWN)
    raw = " ".join(unicodedata.normalize("NFKC", text[:MAX_COMMAND_LENGTH]).split()).upper()
    if len(text) > MAX_COMMAND_LENGTH * 4:
        return Command(CommandKind.UNKNOWN)
    word = normalize_text(text)
    if raw in policy.help_words or word in policy.help_words:
        return Command(CommandKind.HELP)
    if not word or len(word) > MAX_COMMAND_LENGTH:
        return Command(CommandKind.UNKNOWN)
    for kind, words in (
        (CommandKind.CONFIRM, policy.confirm_words),
        (CommandKind.DECLINE, policy.decline_words),
    ):
        matched, code = _word_and_code(word, words)
        if matched:
            return Command(kind, code=code)
    if word in policy.list_words:
        return Command(CommandKind.LIST)
    if word in policy.cancel_all_words:
        return Command(CommandKind.CANCEL_ALL)
    for unsubscribe in sorted(policy.unsubscribe_words, key=len, reverse=True):
        if word.startswith(unsubscribe):
            rest = word[len(unsubscribe) :].strip(" -:#,.")
            if not rest:
                return Command(CommandKind.UNSUBSCRIBE)
            if re.fullmatch(r"[A-Z0-9_]{1,32}", rest):
                return Command(CommandKind.UNSUBSCRIBE, service_code=rest)
            break
    if _pick_pattern(policy.pick_separators).fullmatch(word):
        numbers = tuple(int(n) for n in re.findall(r"[0-9]+", word))
        return Command(CommandKind.PICK, numbers=numbers)
    return Command(CommandKind.UNKNOWN)
