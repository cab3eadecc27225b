"""Group commit for inbound texts: a gateway's concurrent requests handled in bursts.

A gateway hands texts over on many connections at once (Kannel's smsbox opens one
HTTP request per text). Each request handled alone costs a commit; while one commits,
the others wait on the store's lock anyway. :class:`GroupCommit` lets them wait for
each other instead: the first caller leads and hands every text waiting at that
moment to :meth:`Lifecycle.handle_sms_many` as one burst, one commit for all; the
texts that arrive meanwhile go together in the next burst, led by the first of them.
Under no concurrency a burst is one text, handled by :meth:`Lifecycle.handle_sms`.

Each caller gets its own text's replies or error, as if it had been handled alone: a
text that fails in a burst is undone alone and the others are committed
(:class:`~vas_lifecycle.BatchError`); a malformed text (which refuses a whole burst
up front) sends the burst's texts through one by one.
"""

from __future__ import annotations

import threading

from vas_lifecycle.errors import BatchError, InvalidArgumentError, VasError
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.notices import Notice

__all__ = ["GroupCommit"]


class _Waiting:
    """One caller's text, and what became of it."""

    __slots__ = ("answered", "error", "lead", "replies", "text")

    def __init__(self, text: tuple[str, object, str, str | None]) -> None:
        self.text = text
        self.answered = False
        self.lead = False  # chosen to lead the burst its text is in
        self.replies: list[Notice] = []
        self.error: BaseException | None = None


class GroupCommit:
    """Inbound texts from many threads, handled in bursts of at most ``most``.

    Args:
        lifecycle: handles the texts.
        most: the longest burst; texts beyond it wait for the next one.
    """

    def __init__(self, lifecycle: Lifecycle, *, most: int = 100) -> None:
        if not isinstance(most, int) or isinstance(most, bool) or most < 1:
            raise InvalidArgumentError(f"most must be a whole number of at least 1, got {most!r}")
        self.lifecycle = lifecycle
        self.most = most
        self._changed = threading.Condition()
        self._queue: list[_Waiting] = []
        self._leading = False
        #: how many bursts were run, and how many texts they held
        self.bursts = 0
        self.texts = 0

    @property
    def waiting(self) -> int:
        """How many texts wait for the next burst."""
        with self._changed:
            return len(self._queue)

    def handle_sms(
        self, msisdn: str, text: object, *, to: str, message_id: str | None = None
    ) -> list[Notice]:
        """What :meth:`Lifecycle.handle_sms` does with one text, in the next burst."""
        mine = _Waiting((msisdn, text, to, message_id))
        with self._changed:
            self._queue.append(mine)
            if not self._leading:
                self._leading = mine.lead = True
            while not mine.answered and not mine.lead:
                self._changed.wait()
        if not mine.answered:
            self._lead()
        if mine.error is not None:
            raise mine.error
        return mine.replies

    def _lead(self) -> None:
        """Run the burst of what waits now (the leader's own text first), then choose
        the first text still waiting to lead the next burst, or stand down."""
        with self._changed:
            burst, self._queue = self._queue[: self.most], self._queue[self.most :]
        try:
            self._run(burst)
        finally:
            with self._changed:
                for waiting in burst:
                    waiting.answered = True
                if self._queue:
                    self._queue[0].lead = True
                else:
                    self._leading = False
                self._changed.notify_all()

    def _run(self, burst: list[_Waiting]) -> None:
        lc = self.lifecycle
        self.bursts += 1
        self.texts += len(burst)
        if len(burst) == 1:
            self._alone(burst[0])
            return
        try:
            results = lc.handle_sms_many([w.text for w in burst])
        except BatchError as err:
            for n, waiting in enumerate(burst):
                waiting.replies = err.results[n]
                waiting.error = err.errors.get(n)
            return
        except VasError:  # a malformed text refuses the whole burst: one by one
            for waiting in burst:
                self._alone(waiting)
            return
        except BaseException as err:  # the caller of each text hears of it
            for waiting in burst:
                waiting.error = err
            raise
        for waiting, replies in zip(burst, results, strict=True):
            waiting.replies = replies

    def _alone(self, waiting: _Waiting) -> None:
        msisdn, text, to, message_id = waiting.text
        try:
            waiting.replies = self.lifecycle.handle_sms(msisdn, text, to=to, message_id=message_id)
        except VasError as err:
            waiting.error = err
