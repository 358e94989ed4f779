"""The pieces of the hardening that need no sockets: send progress, eviction, forwarded addresses."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from srs.config import parse_text
from srs.server.context import ServerContext, ServerIdentity
from srs.server.forwarded import client_address
from srs.server.progress import SendProgress

HW = 1000


@pytest.mark.parametrize(
    ("steps", "stalled_at"),
    [
        # (time, bytes written, bytes buffered): a peer that reads keeps going
        ([(0, 100, 50), (10, 200, 50), (20, 300, 50), (40, 400, 50), (70, 500, 50)], None),
        # an empty buffer is progress whatever was written
        ([(0, 100, 0), (31, 100, 0), (62, 100, 0)], None),
        # nothing moved for 30 s
        ([(0, 100, 50), (10, 100, 50), (29, 100, 50), (30, 100, 50)], 3),
        # writing more into a buffer the peer never drains is not progress
        ([(0, 100, 50), (10, 200, 150), (20, 300, 250), (30, 400, 350)], 3),
        # a trickle while the backlog sits at the high-water mark is not keeping up
        ([(0, 2000, 1000), (10, 2010, 1000), (20, 2020, 1000), (30, 2030, 1000)], 3),
        # ...but a trickle below it is a slow reader, which is kept
        ([(0, 2000, 900), (10, 2010, 900), (20, 2020, 900), (30, 2030, 900), (60, 2040, 900)], None),
        # progress restarts the clock
        ([(0, 100, 50), (25, 100, 50), (26, 100, 0), (50, 200, 50), (56, 200, 50), (80, 200, 50)], 5),
    ],
)
def test_send_progress(steps: list[tuple[float, int, int]], stalled_at: int | None) -> None:
    p = SendProgress(0.0)
    got = [p.stalled(t, w, b, 30.0, HW) for t, w, b in steps]
    expected = [i == stalled_at or (stalled_at is not None and i > stalled_at) for i in range(len(steps))]
    assert got == expected


@dataclass
class FakeConn:
    cid: str
    ip: str = "10.0.0.1"
    kind: str = ""
    closed: list[str] = field(default_factory=list)

    def close(self, reason: str) -> None:
        self.closed.append(reason)

    def check(self, now: float) -> None:
        pass


@pytest.fixture
def ctx() -> Iterator[ServerContext]:
    loop = asyncio.new_event_loop()
    c = ServerContext(
        parse_text("listen 1935; max_connections 3; vhost __defaultVhost__ {}"),
        loop,
        ServerIdentity("s", "v", 1),
    )
    yield c
    loop.close()


def test_full_server_closes_the_oldest_idle_connection(ctx: ServerContext) -> None:
    a, b, c, d = (FakeConn(x) for x in "abcd")
    assert all(ctx.admit(x) for x in (a, b, c))
    ctx.identified(a)  # a plays: never evicted
    assert ctx.admit(d)
    assert b.closed and not a.closed and not c.closed
    assert set(ctx.connections) == {"a", "c", "d"}
    ctx.identified(c)
    ctx.identified(d)
    assert not ctx.admit(FakeConn("e"))  # everyone is being served: refused, as SRS
    assert set(ctx.connections) == {"a", "c", "d"}


def test_idle_again_goes_to_the_back_of_the_line(ctx: ServerContext) -> None:
    a, b, c = (FakeConn(x) for x in "abc")
    for x in (a, b, c):
        ctx.admit(x)
    ctx.identified(a)
    ctx.idle(a)  # a keep-alive connection between requests: the newest idle one
    ctx.admit(FakeConn("d"))
    assert b.closed and not a.closed
    ctx.forget(c)
    assert ctx.admit(FakeConn("e")) and not a.closed  # a free slot: nobody is closed


@pytest.mark.parametrize(
    ("peer", "xff", "real", "trusted", "expected"),
    [
        ("10.0.0.9", "1.2.3.4", "", (), "10.0.0.9"),  # SRS: the peer, headers ignored
        ("10.0.0.9", "", "5.6.7.8", (), "10.0.0.9"),
        ("10.0.0.9", "1.2.3.4", "", ("10.0.0.1",), "10.0.0.9"),  # not the trusted proxy
        ("10.0.0.1", "1.2.3.4", "", ("10.0.0.1",), "1.2.3.4"),
        ("10.0.0.1", "6.6.6.6, 1.2.3.4", "", ("10.0.0.0/8",), "1.2.3.4"),  # the left one is the client's word
        ("10.0.0.1", "1.2.3.4, 10.0.0.2", "", ("10.0.0.0/8",), "1.2.3.4"),  # proxies chained
        ("10.0.0.1", "10.0.0.3, 10.0.0.2", "", ("10.0.0.0/8",), "10.0.0.3"),
        ("10.0.0.1", "", "5.6.7.8:1234", ("10.0.0.1",), "5.6.7.8"),
        ("10.0.0.1", "", "", ("10.0.0.1",), "10.0.0.1"),
        ("::ffff:10.0.0.1", "1.2.3.4", "", ("10.0.0.1",), "1.2.3.4"),  # v4-mapped peer
        ("::1", "[2001:db8::1]:443", "", ("::1",), "2001:db8::1"),
        ("10.0.0.1", "not-an-ip, 1.2.3.4", "", ("10.0.0.1",), "1.2.3.4"),
    ],
)
def test_client_address(peer: str, xff: str, real: str, trusted: tuple[str, ...], expected: str) -> None:
    assert client_address(peer, xff, real, trusted) == expected


def test_watching_again_counts_from_the_restart() -> None:
    p = SendProgress(0.0)
    assert not p.stalled(1.0, 100, 0, 30.0, HW)  # drained: no longer watched
    p.restart(100.0)  # a later write left bytes behind
    assert not p.stalled(101.0, 2000, 1000, 30.0, HW)  # not "stalled since t=1"
    assert p.stalled(130.0, 2000, 1000, 30.0, HW)


@dataclass(eq=False)
class FakePlayer:
    buffered: int = 10
    stalled_at: float | None = None
    restarted: list[float] = field(default_factory=list)
    checks: int = 0

    def restart_watch(self, now: float) -> None:
        self.restarted.append(now)

    def check(self, now: float) -> bool:
        self.checks += 1
        if self.stalled_at is not None and now >= self.stalled_at:
            return False
        return self.buffered > 0


def test_only_backlogged_players_are_swept(ctx: ServerContext) -> None:
    backlogged, drained = FakePlayer(), FakePlayer(buffered=0)
    ctx.watch(backlogged)
    ctx.watch(backlogged)  # already watched: no restart
    ctx.watch(drained)
    assert len(backlogged.restarted) == 1
    ctx._last_sweep = -10.0
    ctx.sweep()
    assert (backlogged.checks, drained.checks) == (1, 1)
    ctx.sweep()  # within a second: nothing
    assert backlogged.checks == 1
    ctx._last_sweep = -10.0
    ctx.sweep()
    assert (backlogged.checks, drained.checks) == (2, 1)  # the drained one left the watch list
