"""Property tests: every invariant of RULES.md over random interleavings."""

from __future__ import annotations

from vas_lifecycle.testing import LifecycleMachine

TestLifecycleMachine = LifecycleMachine.TestCase
