"""The public test kit: prove that an integration keeps the consent rules.

- :func:`check_invariants` reads a lifecycle's store and reports every breach of the
  invariants of docs/specification.md (no test library needed);
- :mod:`vas_lifecycle.testing.strategies` has Hypothesis strategies;
- :class:`LifecycleMachine` is a rule-based state machine that drives any
  ``Lifecycle`` through random interleavings, checking the invariants after each step;
- :func:`explore` runs *every* sequence of up to N actions in a small world and
  reports the shortest one that breaks an invariant (no Hypothesis needed).

The last two need Hypothesis (``pip install 'vas-lifecycle[testing]'``).
"""

from vas_lifecycle.testing.catalogs import demo_catalog
from vas_lifecycle.testing.explorer import Exploration, explore
from vas_lifecycle.testing.invariants import InvariantViolation, check_invariants

try:
    from vas_lifecycle.testing import strategies
    from vas_lifecycle.testing.stateful import FlakyNotifier, LifecycleMachine
    from vas_lifecycle.testing.store_contract import StoreContract
except ImportError as err:  # pragma: no cover - exercised only without hypothesis
    if err.name != "hypothesis":
        raise
    _MISSING = err

    def __getattr__(name: str) -> object:
        if name in {
            "strategies",
            "FlakyNotifier",
            "LifecycleMachine",
            "StoreContract",
        }:
            raise ImportError(
                f"vas_lifecycle.testing.{name} needs Hypothesis: "
                "pip install 'vas-lifecycle[testing]'"
            ) from _MISSING
        raise AttributeError(name)


__all__ = [
    "Exploration",
    "FlakyNotifier",
    "InvariantViolation",
    "LifecycleMachine",
    "StoreContract",
    "check_invariants",
    "demo_catalog",
    "explore",
    "strategies",
]
