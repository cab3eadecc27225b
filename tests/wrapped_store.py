"""A store around another store whose write transactions are seen through a proxy:
tests use it to count what a command reads, or to run a rival command mid-way."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from vas_lifecycle import Store


class WrappedStore(Store):
    def __init__(self, store: Store, wrap: Callable[[Any], Any], *, readonly: bool = True) -> None:
        self.store = store
        self._wrap = wrap
        self._wrap_readonly = readonly

    def transaction(self, *, readonly: bool = False) -> Any:
        return self._transaction(readonly)

    @contextlib.contextmanager
    def _transaction(self, readonly: bool) -> Iterator[Any]:
        with self.store.transaction(readonly=readonly) as tx:
            yield self._wrap(tx) if (self._wrap_readonly or not readonly) else tx

    def close(self) -> None:
        self.store.close()
