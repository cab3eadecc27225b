"""A store around another store whose transactions have one recorder (``orders`` by
default) seen through a proxy: tests use it to count what a command reads, to run a
rival command mid-way, or to make a write fail."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from vas_lifecycle import Store


class WrappedStore(Store):
    def __init__(
        self,
        store: Store,
        wrap: Callable[[Any], Any],
        *,
        readonly: bool = True,
        recorder: str = "orders",
    ) -> None:
        self.store = store
        self._wrap = wrap
        self._wrap_readonly = readonly
        self._recorder = recorder

    def transaction(self, *, readonly: bool = False) -> Any:
        return self._transaction(readonly)

    @contextlib.contextmanager
    def _transaction(self, readonly: bool) -> Iterator[Any]:
        with self.store.transaction(readonly=readonly) as tx:
            if not (self._wrap_readonly or not readonly):
                yield tx
                return
            own = getattr(tx, self._recorder)
            setattr(tx, self._recorder, self._wrap(own))
            try:
                yield tx
            finally:  # a store may hand out the same transaction object again
                setattr(tx, self._recorder, own)

    def close(self) -> None:
        self.store.close()
