"""What the by-hand SQL references of the benchmarks do for the evidence chain (C18):
a SHA-256 over the event's canonical JSON with the hash before it, in the stdlib
only, so that "the same row work" includes the chain the library writes."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def link(prev: str, event: list[Any]) -> str:
    """The hash of ``event`` (order_id, seq, kind, at, channel, actor, text_in,
    text_out, data) after the event whose hash is ``prev``."""
    text = json.dumps(
        ["vas-evidence/1", prev, *event], ensure_ascii=False, separators=(",", ":"), sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()
