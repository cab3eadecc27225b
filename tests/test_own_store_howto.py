"""The store of docs/own_store.md, as that page writes it, passes the whole store
contract: the how-to's code is what is checked, not a copy of it."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "own_store.md"
_page: dict[str, object] = {}
for _block in re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S):
    exec(compile(_block, str(PAGE), "exec"), _page)

TestTimedStore = _page["TestTimedStore"]


def test_the_timed_store_timed_every_unit_of_work() -> None:
    store = _page["store"]
    assert store.timings  # type: ignore[attr-defined]
    assert all(seconds >= 0 for _readonly, seconds in store.timings)  # type: ignore[attr-defined]
