"""The store contract on MemoryStore."""

from vas_lifecycle import MemoryStore, Store
from vas_lifecycle.testing import StoreContract


class TestMemoryStore(StoreContract):
    def make_store(self) -> Store:
        return MemoryStore()
