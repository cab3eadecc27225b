"""The evidence side of the facade (C18): checking orders' hash chains, one order or
a whole store, and sealing the orders a store held before it kept chains.

A base class of :class:`~vas_lifecycle.lifecycle.Lifecycle`, like
:class:`~vas_lifecycle.queries.Queries`; the chain itself and the check are
:mod:`vas_lifecycle.evidence`, on plain values.
"""

from __future__ import annotations

import functools

import pendulum

from vas_lifecycle import arguments
from vas_lifecycle.errors import UnknownOrderError
from vas_lifecycle.evidence import Chain, EvidenceCheck, StoreCheck, StoreTally, check
from vas_lifecycle.store.base import Transaction
from vas_lifecycle.unit_of_work import ClockReader, Runner

__all__ = ["Verification"]


class Verification:
    """Checking consent evidence, and sealing a store's older orders."""

    _runner: Runner
    _now: ClockReader

    def verify_evidence(self, order_id: str) -> EvidenceCheck:
        """Check one order's hash chain (C18): ``ok``, or the problems found (an event
        changed, removed, inserted or re-ordered, a broken link, events not sealed).
        Raises UnknownOrderError when neither the order nor any event of it is stored."""
        chain = self._runner.call(lambda tx: tx.evidence.chain(order_id), readonly=True)
        if chain is None:
            raise UnknownOrderError(order_id)
        return check(chain)

    def verify_store(self, *, page: int = 1000) -> StoreCheck:
        """Check every order's hash chain, ``page`` orders per read-only transaction
        (constant memory, and writers are not held up), then the events whose order row
        is gone; returns the counts and the first problems."""
        size = arguments.count(page, "page")
        tally = StoreTally()
        after: str | None = None
        while True:
            chains = self._runner.call(
                functools.partial(_page, after=after, size=size), readonly=True
            )
            for chain in chains:
                tally.add(check(chain))
            if len(chains) < size:
                break
            after = chains[-1].order_id
        for chain in self._runner.call(lambda tx: tx.evidence.orphans(size), readonly=True):
            tally.add(check(chain))
        return tally.result()

    def seal_evidence(self, *, batch: int = 1000, max_batches: int | None = None) -> int:
        """Chain the orders a store held before it kept chains (the migration of schema
        14), ``batch`` orders per transaction; returns how many it sealed. Resumable:
        each batch commits, and a run that stops is taken up by the next. Each sealed
        order notes from which event its chain was written as it happened and when the
        earlier events were sealed (its evidence bundle says so). An order that gets a
        new event before it is sealed is sealed by that unit of work."""
        size = arguments.count(batch, "batch")
        sealed = batches = 0
        while max_batches is None or batches < max_batches:
            done = self._runner.call(functools.partial(_seal, at=self._now.now(), size=size))
            sealed, batches = sealed + done, batches + 1
            if done < size:
                break
        return sealed


def _page(tx: Transaction, *, after: str | None, size: int) -> list[Chain]:
    return tx.evidence.chains(after, size)


def _seal(tx: Transaction, *, at: pendulum.DateTime, size: int) -> int:
    return tx.evidence.seal(tx.evidence.unsealed(size), at)
