"""What an SP's own platform may do through the facade (the SP API's rules): order
only its own services and read only its own orders; every reach past them is booked
against the asking SP. A base class of :class:`~vas_lifecycle.lifecycle.Lifecycle`.
"""

from __future__ import annotations

from vas_lifecycle import arguments, handlers
from vas_lifecycle.arguments import ACTOR_LIMIT
from vas_lifecycle.catalog import Service
from vas_lifecycle.commands import KeyedRequest, ReadSpOrder, RefuseSp
from vas_lifecycle.errors import SpAccessError
from vas_lifecycle.order import Order
from vas_lifecycle.records import ReasonCode
from vas_lifecycle.unit_of_work import Runner

__all__ = ["SpPlatform"]


class SpPlatform:
    """The SP platform's side of the facade."""

    _runner: Runner

    def _refuse_sp(
        self, sp_id: str, msisdn: str, service: Service, keyed: KeyedRequest | None
    ) -> None:
        asker = arguments.text(sp_id, "sp_id", ACTOR_LIMIT) or "?"
        refusal = SpAccessError(f"{service.code} is not a service of {asker}", "not_your_service")
        evidence = f"request for {service.code} of {service.sp_id}"
        command = RefuseSp(
            asker, ReasonCode.NOT_YOUR_SERVICE, msisdn, None, evidence, refusal, keyed
        )
        self._runner.run(handlers.refuse_sp, command)

    def sp_order(self, order_id: str, *, sp_id: str) -> Order:
        """An order as the SP API shows it to ``sp_id``: only its own. Another SP's
        order raises UnknownOrderError, exactly as a missing one does, and the attempt
        is booked against the asking SP."""
        asker = arguments.text(sp_id, "sp_id", ACTOR_LIMIT) or "?"
        order, _replies = self._runner.run(handlers.sp_order, ReadSpOrder(asker, order_id))
        return order
