"""The evidence side of the facade (C18): checking orders' hash chains, one order or
a whole store, and sealing the orders a store held before it kept chains.

A base class of :class:`~vas_lifecycle.lifecycle.Lifecycle`, like
:class:`~vas_lifecycle.queries.Queries`; the chain itself and the check are
:mod:`vas_lifecycle.evidence`, on plain values.
"""

from __future__ import annotations

import functools
from typing import Any

import pendulum

from vas_lifecycle import arguments
from vas_lifecycle.clock import utc_text
from vas_lifecycle.errors import UnknownOrderError
from vas_lifecycle.evidence import (
    Chain,
    EvidenceCheck,
    StoreCheck,
    StoreTally,
    check,
    make_bundle,
    plain,
)
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

    def evidence_bundle(self, order_id: str, *, signing_key: bytes | None = None) -> dict[str, Any]:
        """One order's consent evidence as a self-contained JSON document (a dict of
        JSON values): the order, every event with its hash and the hash before it,
        every notice as sent with its delivery reports, the charges and the refunds,
        a digest over all of it, and, with ``signing_key`` (an Ed25519 private key,
        raw or PEM; the ``signing`` extra), a signature. Anyone can check it with
        :func:`vas_lifecycle.evidence.verify_bundle`, no store needed; write it with
        :func:`~vas_lifecycle.evidence.bundle_bytes`. Raises UnknownOrderError."""
        at = utc_text(self._now.now())
        parts = self._runner.call(
            functools.partial(_bundle_parts, order_id=order_id), readonly=True
        )
        return make_bundle(*parts, exported_at=at, signing_key=signing_key)

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


Json = dict[str, Any]


def _bundle_parts(
    tx: Transaction, *, order_id: str
) -> tuple[Chain, Json, list[Json], list[Json], list[Json]]:
    """What a bundle holds, read in one transaction."""
    chain, order = tx.evidence.chain(order_id), tx.orders.get_order(order_id)
    if chain is None or order is None:
        raise UnknownOrderError(order_id)
    notices = []
    for notice in tx.outbox.notices(order_id):
        delivery = tx.outbox.delivery(notice.id)
        reports = tx.evidence.delivery_reports(notice.id)
        notices.append(
            {
                **plain(notice),
                "attempts": delivery.attempts if delivery is not None else None,
                "last_error": delivery.last_error if delivery is not None else None,
                "reports": [plain(r) for r in reports],
            }
        )
    charges = [plain(c) for c in tx.ledger.charges(order_id)]
    refunds = [plain(r) for r in tx.ledger.refunds(order_id)]
    return chain, plain(order), notices, charges, refunds
