"""The fan-out pacer: rounds run at once when the budget allows, later when the fan-out is costly,
within the grace when a source is due, and every callback's CPU counts against one budget.

A fake loop and fake clocks: no sockets, no real time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from srs.media.message import VIDEO, MediaMessage
from srs.media.source import Source, SourceSettings
from srs.server.fanout import FanoutPacer
from support.media_fakes import FakeSink


class Handle:
    def __init__(self, loop: FakeLoop, at: float, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.loop, self.at, self.fn, self.args = loop, at, fn, args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """call_soon / call_later on a manual clock; ``cpu_per_call`` is what each callback "costs"."""

    def __init__(self) -> None:
        self.now = 100.0
        self.cpu = 0.0
        self.handles: list[Handle] = []

    def call_soon(self, fn: Callable[..., None], *args: Any) -> Handle:
        h = Handle(self, self.now, fn, args)
        self.handles.append(h)
        return h

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> Handle:
        h = Handle(self, self.now + delay, fn, args)
        self.handles.append(h)
        return h

    def pending(self) -> list[Handle]:
        return [h for h in self.handles if not h.cancelled]

    def next_at(self) -> float | None:
        live = self.pending()
        return min(h.at for h in live) if live else None

    def run_until(self, t: float) -> None:
        """Run every callback due by ``t`` in time order, advancing the clock."""
        while True:
            live = [h for h in self.pending() if h.at <= t]
            if not live:
                break
            h = min(live, key=lambda x: x.at)
            self.handles.remove(h)
            self.now = max(self.now, h.at)
            h.fn(*h.args)
        self.now = max(self.now, t)


class CostlySource:
    """Stands in for a Source: its flush costs ``cost_s`` of CPU on the fake clock."""

    def __init__(self, loop: FakeLoop, cost_s: float) -> None:
        self.loop = loop
        self.cost_s = cost_s
        self.flushed_at: list[float] = []

    def paced_flush(self) -> None:
        self.flushed_at.append(self.loop.now)
        self.loop.cpu += self.cost_s


def pacer(loop: FakeLoop, duty: float = 0.2, grace_s: float = 0.010) -> FanoutPacer:
    return FanoutPacer(
        loop,  # type: ignore[arg-type]
        duty,
        grace_s,
        clock=lambda: loop.now,
        cpu_clock=lambda: loop.cpu,
    )


def test_an_idle_server_flushes_in_the_next_loop_turn() -> None:
    loop = FakeLoop()
    p = pacer(loop)
    src = CostlySource(loop, 0.0001)
    p.pace(src, False)  # type: ignore[arg-type]
    assert loop.next_at() == loop.now  # call_soon, no timer
    loop.run_until(loop.now)
    assert src.flushed_at == [100.0]


def test_rounds_space_out_by_their_cost_over_the_duty() -> None:
    loop = FakeLoop()
    p = pacer(loop, duty=0.2)
    src = CostlySource(loop, 0.010)  # 10 ms of CPU per round
    for _ in range(5):
        p.pace(src, False)  # type: ignore[arg-type]
        loop.run_until(loop.now + 1.0)
    gaps = [round(b - a, 4) for a, b in zip(src.flushed_at, src.flushed_at[1:], strict=False)]
    # each round's 10 ms is paid back at 0.2 s/s: the next may start 50 ms after the previous
    assert gaps == [1.0] * 4  # here requests came 1 s apart: never held back
    loop2 = FakeLoop()
    p2 = pacer(loop2, duty=0.2)
    src2 = CostlySource(loop2, 0.010)
    t0 = loop2.now
    for i in range(5):
        loop2.run_until(t0 + i * 0.001)  # data keeps arriving every millisecond
        p2.pace(src2, False)  # type: ignore[arg-type]
    loop2.run_until(t0 + 0.5)
    assert src2.flushed_at[0] == t0
    assert src2.flushed_at[1] == pytest.approx(t0 + 0.050)


def test_fanout_cpu_share_converges_to_the_duty() -> None:
    loop = FakeLoop()
    p = pacer(loop, duty=0.25)
    src = CostlySource(loop, 0.004)
    t0 = loop.now
    while loop.now < t0 + 10.0:  # a message every 5 ms for 10 s
        p.pace(src, False)  # type: ignore[arg-type]
        loop.run_until(loop.now + 0.005)
    share = len(src.flushed_at) * 0.004 / 10.0
    assert 0.23 <= share <= 0.25 + 0.004 / 10.0  # the first round is free (no debt yet)


def test_a_due_source_waits_at_most_the_grace() -> None:
    loop = FakeLoop()
    p = pacer(loop, duty=0.2, grace_s=0.010)
    src = CostlySource(loop, 0.020)  # 20 ms per round: 100 ms of debt after each
    p.pace(src, False)  # type: ignore[arg-type]
    loop.run_until(loop.now)
    t1 = loop.now
    p.pace(src, False)  # type: ignore[arg-type]
    assert loop.next_at() == pytest.approx(t1 + 0.100)  # paced: after the debt is paid
    loop.run_until(t1 + 0.002)
    p.pace(src, True)  # SRS's rule met (or realtime): the armed round moves up
    assert loop.next_at() == pytest.approx(t1 + 0.012)
    loop.run_until(t1 + 1.0)
    assert src.flushed_at[1] == pytest.approx(t1 + 0.012)
    assert len(src.flushed_at) == 2


def test_duty_zero_is_srs_merged_write_exactly() -> None:
    loop = FakeLoop()
    p = pacer(loop, duty=0.0)
    src = CostlySource(loop, 0.010)
    p.pace(src, False)  # type: ignore[arg-type]
    loop.run_until(loop.now + 10.0)
    assert src.flushed_at == []  # not due: the source waits for SRS's rule
    p.pace(src, True)
    assert loop.next_at() == loop.now  # due: at once
    loop.run_until(loop.now)
    assert len(src.flushed_at) == 1


def test_soon_callbacks_are_charged_to_the_same_budget() -> None:
    loop = FakeLoop()
    p = pacer(loop, duty=0.5)

    def realtime_flush() -> None:
        loop.cpu += 0.030

    p.soon(realtime_flush)
    loop.run_until(loop.now)
    assert p.wait_s == pytest.approx(0.060)  # 30 ms of CPU at 0.5 s/s
    assert p.busy_total_s == pytest.approx(0.030)
    src = CostlySource(loop, 0.001)
    t = loop.now
    p.pace(src, False)  # type: ignore[arg-type]
    loop.run_until(t + 1.0)
    assert src.flushed_at == [pytest.approx(t + 0.060)]


def test_duty_can_change_at_runtime_and_close_cancels() -> None:
    loop = FakeLoop()
    p = pacer(loop, duty=0.2)
    p.duty = 0.5
    assert p.duty == 0.5
    with pytest.raises(ValueError):
        p.duty = 1.5
    src = CostlySource(loop, 0.1)
    p.pace(src, False)  # type: ignore[arg-type]
    loop.run_until(loop.now)
    p.pace(src, False)  # type: ignore[arg-type]
    assert loop.pending()
    p.close()
    assert not loop.pending()


def test_with_a_real_source_every_player_gets_every_message_in_order() -> None:
    """The Source and the pacer together, the way the server wires them (registry aside)."""
    loop = FakeLoop()
    p = pacer(loop, duty=0.2)
    src = Source("/live/s", SourceSettings(), p.soon, None, p.pace)
    src.publish("pub")
    sinks = [FakeSink() for _ in range(3)]
    for s in sinks:
        src.create_consumer(s)
    t0 = loop.now
    for i in range(100):  # 4 s at 25 fps
        loop.run_until(t0 + i * 0.040)
        src.on_message(MediaMessage(VIDEO, i * 40, b"v" * 100, keyframe=(i % 50 == 0), codec=7))
    loop.run_until(t0 + 5.0)
    for s in sinks:
        assert s.timestamps == [i * 40 for i in range(100)]
    # the fake flushes cost no CPU: every message went out in the loop turn after it arrived
    assert len(sinks[0].batches) == 100
