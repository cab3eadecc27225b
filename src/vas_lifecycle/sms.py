"""Tolerant reading of subscriber texts into commands (C3, C8, C9, C10).

The grammar is the policy's data (keyword sets, separators); this module holds no
regime. Reading is forgiving in the ways C10a names and no others: full-width forms
(``Ｙ``, ``０００００``, ``ＴＤ``, the ideographic space) become ASCII, ASCII letters are
read in either case, control characters (NUL too), format characters (direction
marks, zero-width spaces) and lone surrogates are dropped, and spaces, punctuation
and symbols around the word are trimmed. Look-alike letters (``ʸ``, ``ⓨ``, ``🅈``,
``⒴``, ``𝐘``, ``№``) are not folded, so they are never a yes or a no. Whatever cannot
be read is :attr:`CommandKind.UNKNOWN`: it changes nothing.
"""

from __future__ import annotations

import enum
import re
import unicodedata

import attrs

from vas_lifecycle.policy import Policy
from vas_lifecycle.records import PickSession
from vas_lifecycle.values import code_key, fold_width, upper_ascii

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
    UNSUBSCRIBE_ALL = "unsubscribe_all"  # UK1 STOP ALL: every service on that number
    HELP = "help"
    UNKNOWN = "unknown"


@attrs.frozen
class Command:
    """What a subscriber's text asks for."""

    kind: CommandKind
    code: str | None = None  # the confirmation code quoted (C3)
    numbers: tuple[int, ...] = ()  # the picked numbers (C8)
    service_code: str | None = None  # TD <code> (C9), as its code_key
    #: an unreadable text that looks like a wish to leave (the policy's revocation hints)
    flagged: bool = False


def _is_edge(ch: str) -> bool:
    """Characters trimmed around a word: spaces, punctuation, symbols (emoji too)."""
    return unicodedata.category(ch)[0] in "PZS"


def _cleaned(text: str) -> str:
    """Full-width forms to ASCII, ASCII letters to upper case, no control, format or
    surrogate characters, single spaces."""
    folded = upper_ascii(fold_width(text[: MAX_COMMAND_LENGTH * 4]))
    kept = []
    for ch in folded:
        category = unicodedata.category(ch)
        if category in ("Zl", "Zp") or ch.isspace():
            kept.append(" ")
        elif category[0] != "C":  # drops controls, format (RTL marks), surrogates, private use
            kept.append(ch)
    return " ".join("".join(kept).split())


def normalize_text(text: str) -> str:
    """Fold a text for reading (C10a): full-width forms to ASCII, ASCII letters to
    upper case, no control, format or surrogate characters, single spaces, and no
    spaces, punctuation or symbols at either end. Nothing else is folded."""
    joined = _cleaned(text)
    start, end = 0, len(joined)
    while start < end and _is_edge(joined[start]):
        start += 1
    while end > start and _is_edge(joined[end - 1]):
        end -= 1
    return joined[start:end]


def fragment(text: str, limit: int = 10) -> str:
    """A short, printable excerpt of ``text`` that is safe to quote in a reply."""
    folded = fold_width(text[: limit * 8])
    safe = "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN" or ch == " ")
    safe = " ".join(safe.split())
    return safe[:limit] + ("…" if len(safe) > limit else "")


def _pick_pattern(separators: str) -> str:
    """Numbers of one to three digits between the policy's separators (``re`` keeps
    the compiled patterns it has seen)."""
    sep = "[" + re.escape(fold_width(separators)) + "]+"
    return rf"[0-9]{{1,3}}(?:{sep}[0-9]{{1,3}})*"


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
    if len(text) > MAX_COMMAND_LENGTH * 4:
        return _unknown(text, policy)
    word = normalize_text(text)
    if word in policy.help_words or _cleaned(text) in policy.help_words:  # "?" is punctuation
        return Command(CommandKind.HELP)
    if not word and policy.blank_lists and to_operator:
        return Command(CommandKind.LIST)  # IN4: an empty text to the deactivation number
    if not word or len(word) > MAX_COMMAND_LENGTH:
        return _unknown(text, policy)
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
    if word in policy.all_here_words:
        return Command(CommandKind.UNSUBSCRIBE_ALL)
    for unsubscribe in sorted(policy.unsubscribe_words, key=len, reverse=True):
        if word.startswith(unsubscribe):
            rest = word[len(unsubscribe) :].strip(" -:#,.")
            if not rest:
                return Command(CommandKind.UNSUBSCRIBE)
            if len(rest) <= 40 and all(ch.isalnum() or ch in "-_ " for ch in rest):
                # matched against the catalog's codes by code_key (C9)
                return Command(CommandKind.UNSUBSCRIBE, service_code=code_key(rest))
            break
    if re.fullmatch(_pick_pattern(policy.pick_separators), word):
        numbers = tuple(int(n) for n in re.findall(r"[0-9]+", word))
        return Command(CommandKind.PICK, numbers=numbers)
    return _unknown(text, policy)


#: How much of a text is searched for revocation hints.
HINT_SEARCH_LIMIT = 640


def _unknown(text: str, policy: Policy) -> Command:
    """An unreadable text, flagged when one of the policy's revocation hints is in it:
    an ASCII hint as a whole word (``stop`` in "please stop texting", not in
    "nonstop"), any other as it stands (``退订``)."""
    if not policy.revocation_hints:
        return Command(CommandKind.UNKNOWN)
    folded = upper_ascii(fold_width(text[:HINT_SEARCH_LIMIT]))
    for hint in policy.revocation_hints:
        if hint.isascii():
            if re.search(rf"(?<![A-Z0-9]){re.escape(hint)}(?![A-Z0-9])", folded):
                return Command(CommandKind.UNKNOWN, flagged=True)
        elif hint in folded:
            return Command(CommandKind.UNKNOWN, flagged=True)
    return Command(CommandKind.UNKNOWN)
