"""When the live core's flushes run: right away when the server is idle, batched when it is loaded.

Writing to a player costs about the same whether it carries one message or twenty: on this kind of
machine ~11-15 µs of kernel time per TCP write on loopback, against ~1-2 µs of Python. So the CPU
of the fan-out is set by how often each player is written to, and the added latency by how long a
message waits for its write. SRS fixes the wait (``mw_latency``, 350 ms by default) whatever the
load. The pacer fixes the *CPU share* instead (``mw_cpu_budget``): a round of flushes starts once
the CPU the fan-out already used is paid back at ``duty`` of wall time. With a handful of players
every message goes out in the next loop turn; with 500 players rounds follow each other every few
tens of ms; with thousands of players rounds space out and each write carries more messages.
SRS's merged-write rule stays the upper bound: a source that meets it (every message, in realtime
mode) is flushed within ``grace_s`` whatever the budget.

Every fan-out callback (paced rounds, newcomers' first writes, bursts, the slices of a long pass)
runs through :meth:`FanoutPacer.soon` or a round and its CPU time is measured
(``time.thread_time``: it includes the writev syscalls and the kernel's loopback delivery, which
is charged to the writer), so realtime streams and paced streams share one budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from srs.media.source import Source

DEFAULT_DUTY = 0.2  # share of one core the fan-out may use before paced rounds space out
DEFAULT_GRACE_S = 0.010  # a due flush (SRS's rule met, realtime) waits at most this for a round
_NEVER = float("inf")
_SLACK_S = 0.0005  # timers fire with ~1 ms resolution: close enough counts as due


class FanoutPacer:
    """Runs the live sources' flushes and paces their merged writes by measured cost.

    A leaky bucket of CPU time: every fan-out callback adds the CPU it used to ``debt``; the debt
    drains at ``duty`` seconds per second of wall time. A paced round starts only once the debt
    is paid, so the fan-out averages at most ``duty`` of a core whatever the number of players,
    sources or realtime streams, whose due flushes wait at most ``grace_s`` and are charged to
    the same debt. ``duty`` 0 turns pacing off: sources flush when SRS's rule says so, at once.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        duty: float = DEFAULT_DUTY,
        grace_s: float = DEFAULT_GRACE_S,
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self._loop = loop
        self._clock = clock
        self._cpu = cpu_clock
        self._duty = 0.0
        self.duty = duty
        self.grace_s = grace_s
        self._waiting: dict[Source, None] = {}  # sources asking for a paced flush, in order
        self._handle: asyncio.Handle | asyncio.TimerHandle | None = None
        self._handle_at = 0.0  # when the armed round runs
        self._deadline = _NEVER  # a due source must be flushed by then
        self._debt = 0.0  # CPU seconds of fan-out not yet paid back by wall time x duty
        self._debt_at = clock()
        # counters (diagnostics; tests read them)
        self.rounds = 0
        self.busy_total_s = 0.0

    @property
    def duty(self) -> float:
        """Share of one core the fan-out may use (0: pacing off, SRS's merged write exactly)."""
        return self._duty

    @duty.setter
    def duty(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"duty must be in [0, 1], got {value}")
        self._duty = value

    # ------------------------------------------------------------- what the Sources call

    def soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the next loop turn, charging its CPU time to the budget."""
        self._loop.call_soon(self._timed, fn)

    def pace(self, source: Source, due: bool) -> None:
        """``source`` has data waiting: flush it in the next round the budget allows, or within
        ``grace_s`` when it is ``due`` (SRS's merged-write rule is met, realtime mode).

        With pacing off (``duty`` 0) only SRS's rule counts: a due source is flushed at once (the
        debt is always paid), the others wait for their rule."""
        if self._duty <= 0.0 and not due:
            return
        self._waiting[source] = None
        if due:
            self._arm_at(self._clock() + self.grace_s)
        elif self._handle is None:
            self._arm_at(_NEVER)

    @property
    def wait_s(self) -> float:
        """How long from now until the debt is paid (a paced round may start)."""
        return self._settle()

    # ------------------------------------------------------------- internals

    def _settle(self) -> float:
        """Pay the debt down for the wall time since the last settlement; the wait that is left."""
        now = self._clock()
        duty = self._duty
        if duty <= 0.0:
            self._debt, self._debt_at = 0.0, now
            return 0.0
        self._debt = max(0.0, self._debt - (now - self._debt_at) * duty)
        self._debt_at = now
        return self._debt / duty

    def _charge(self, cpu_s: float) -> None:
        self._settle()
        self._debt += cpu_s
        self.busy_total_s += cpu_s

    def _timed(self, fn: Callable[[], None]) -> None:
        t = self._cpu()
        try:
            fn()
        finally:
            self._charge(self._cpu() - t)

    def _arm_at(self, deadline: float) -> None:
        """Make sure a round runs by ``deadline`` (and as soon as the budget allows)."""
        if deadline < self._deadline:
            self._deadline = deadline
            if self._handle is not None and self._handle_at > deadline:
                self._handle.cancel()
                self._handle = None
        if self._handle is not None:
            return
        now = self._clock()
        delay = min(self._settle(), self._deadline - now)
        if delay <= 0.0:
            self._handle = self._loop.call_soon(self._round)
            self._handle_at = now
        else:
            self._handle = self._loop.call_later(delay, self._round)
            self._handle_at = now + delay

    def _round(self) -> None:
        self._handle = None
        if not self._waiting:
            self._deadline = _NEVER
            return
        if self._settle() > _SLACK_S and self._clock() < self._deadline - _SLACK_S:
            self._arm_at(_NEVER)  # more work was charged after the timer was set: wait for it
            return
        self.rounds += 1
        self._deadline = _NEVER
        waiting, self._waiting = self._waiting, {}
        t = self._cpu()
        try:
            for src in waiting:
                src.paced_flush()
        finally:
            self._charge(self._cpu() - t)
            if self._waiting:
                self._arm_at(_NEVER)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._waiting.clear()
        self._deadline = _NEVER
