"""The notice side of the facade: delivering the outbox, and what gateways report back.

A base class of :class:`~vas_lifecycle.lifecycle.Lifecycle`, like
:class:`~vas_lifecycle.queries.Queries`; the delivery itself is
:class:`~vas_lifecycle.outbox.Outbox`.
"""

from __future__ import annotations

from collections.abc import Sequence

from vas_lifecycle import arguments, handlers
from vas_lifecycle.commands import ReportDelivery
from vas_lifecycle.notify import DeliveryRules
from vas_lifecycle.outbox import Outbox
from vas_lifecycle.records import DeliveryReport, DeliveryStatus
from vas_lifecycle.unit_of_work import Runner

__all__ = ["REPORT_DETAIL_LIMIT", "Deliveries"]

#: How much of a gateway's own words about a delivery is kept.
REPORT_DETAIL_LIMIT = 200


class Deliveries:
    """Delivering notices and recording delivery reports."""

    delivery: DeliveryRules
    _runner: Runner
    _outbox: Outbox

    def dispatch(self, *, limit: int = 500) -> int:
        """Deliver the notices that are due; returns how many were delivered.

        Each notice is claimed (so concurrent dispatchers never send it at the same
        time), handed to the notifier with ``notice.id`` as idempotency key, and marked
        delivered. A notifier that raises leaves it for a retry with exponential
        backoff; after ``delivery.max_attempts`` it is parked, where
        :meth:`parked_notices` shows it and :meth:`retry_parked` re-queues it. A
        notifier failure never undoes the state change that made the notice.
        """
        return self._outbox.dispatch(arguments.count(limit, "limit"))

    @property
    def handed_over(self) -> int:
        """How many notices this Lifecycle has handed to its notifier and recorded as
        delivered since it was made, whether right after a command, by a background
        sender or by :meth:`dispatch` (for logs and metrics)."""
        return self._outbox.handed_over

    def retry_parked(self, notice_ids: Sequence[str] | None = None) -> int:
        """Queue parked notices (all, or those named) for delivery again."""
        return self._outbox.retry_parked(arguments.ids(notice_ids))

    def record_delivery_report(
        self, notice_id: str, status: DeliveryStatus | str, *, detail: str | None = None
    ) -> DeliveryReport:
        """Record what the SMS gateway reports about a notice it was handed.

        A final failure (``failed``, ``rejected``) means the notice did not arrive: it
        goes back to the outbox and is sent again under :class:`DeliveryRules`
        (backoff, then parked), the attempt it took counted.

        Raises:
            UnknownNoticeError: no notice with that id was recorded.
            InvalidArgumentError: a malformed id or an unknown status.
        """
        nid = arguments.identifier(notice_id, "notice_id")
        state = arguments.delivery_status(status)
        words = arguments.text(detail, "detail", REPORT_DETAIL_LIMIT) or ""
        return self._runner.run(handlers.delivery_report, ReportDelivery(nid, state, words))[0]

    def delivery_reports(self, notice_id: str) -> list[DeliveryReport]:
        """What gateways reported about a notice, oldest first."""
        nid = arguments.identifier(notice_id, "notice_id")
        return self._runner.call(lambda tx: tx.evidence.delivery_reports(nid), readonly=True)
