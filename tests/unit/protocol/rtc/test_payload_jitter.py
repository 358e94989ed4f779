"""The reorder (jitter) buffer and sequence arithmetic shared by the RTP payload formats."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srs.protocol.rtc.payload import Event, Lost, ReorderBuffer, RtpPayload, seq_diff, seq_newer
from srs.util.errors import LocalProtocolError


@pytest.mark.parametrize(
    ("a", "b", "diff"),
    [
        (1, 0, 1),
        (0, 1, -1),
        (0, 65535, 1),
        (65535, 0, -1),
        (100, 65000, 636),
        (32767, 0, 32767),
        (32768, 0, -32768),
    ],
)
def test_seq_diff(a: int, b: int, diff: int) -> None:
    assert seq_diff(a, b) == diff
    assert seq_newer(a, b) is (diff > 0)


def seqs(events: list[Event]) -> list[int | tuple[int, int]]:
    """Released packets as their seq, holes as (first, count)."""
    return [e.seq if isinstance(e, RtpPayload) else (e.first_seq, e.count) for e in events]


# (name, buffer kwargs, steps of ("push", seq, arrival_ms) or ("poll", now_ms) or ("flush",), expected per step)
CASES: list[tuple[str, dict[str, int], list[tuple], list[list]]] = [
    (
        "in order",
        {"start_hold_ms": 0},
        [("push", 10, 0), ("push", 11, 1), ("push", 12, 2)],
        [[10], [11], [12]],
    ),
    (
        "reordered",
        {"start_hold_ms": 0},
        [("push", 1, 0), ("push", 3, 1), ("push", 2, 2), ("push", 4, 3)],
        [[1], [], [2, 3], [4]],
    ),
    (
        "duplicates and late packets dropped",
        {"start_hold_ms": 0},
        [("push", 1, 0), ("push", 1, 1), ("push", 3, 1), ("push", 3, 1), ("push", 2, 2), ("push", 2, 3)],
        [[1], [], [], [], [2, 3], []],
    ),
    (
        "wraparound",
        {"start_hold_ms": 0},
        [("push", 65534, 0), ("push", 0, 1), ("push", 65535, 2), ("push", 1, 3)],
        [[65534], [], [65535, 0], [1]],
    ),
    (
        "holes given up after max_wait_ms, merged",
        {"start_hold_ms": 0, "max_wait_ms": 50},
        [("push", 65533, 0), ("push", 2, 10), ("poll", 59), ("poll", 60), ("push", 3, 61)],
        [[65533], [], [], [(65534, 4), 2], [3]],
    ),
    (
        "a hole filled in time",
        {"start_hold_ms": 0, "max_wait_ms": 50},
        [("push", 1, 0), ("push", 3, 10), ("push", 2, 59), ("poll", 1000)],
        [[1], [], [2, 3], []],
    ),
    (
        "start held, an earlier packet moves the start back",
        {"max_wait_ms": 40},
        [("push", 5, 0), ("push", 3, 10), ("push", 6, 20), ("poll", 39), ("poll", 40), ("push", 4, 45)],
        [[], [], [], [], [3], [4, 5, 6]],
    ),
    (
        "start held, then its hole waits until max_wait_ms after it was seen",
        {"max_wait_ms": 40},
        [("push", 5, 0), ("push", 3, 30), ("poll", 40), ("poll", 70)],
        [[], [], [3], [(4, 1), 5]],
    ),
    (
        "a jump beyond capacity gives up at once",
        {"start_hold_ms": 0, "capacity": 8},
        [("push", 0, 0), ("push", 100, 1), ("push", 93, 2), ("flush",)],
        [[0], [(1, 92)], [93], [(94, 6), 100]],
    ),
    (
        "flush releases everything",
        {},
        [("push", 7, 0), ("push", 9, 0), ("flush",), ("push", 8, 1)],
        [[], [], [7, (8, 1), 9], []],
    ),
]


@pytest.mark.parametrize(("name", "kwargs", "steps", "want"), CASES, ids=[c[0] for c in CASES])
def test_reorder_buffer(name: str, kwargs: dict[str, int], steps: list[tuple], want: list[list]) -> None:
    rb = ReorderBuffer(**kwargs)
    got = []
    for step in steps:
        if step[0] == "push":
            got.append(seqs(rb.push(step[1], 0, b"x", step[2])))
        elif step[0] == "poll":
            got.append(seqs(rb.poll(step[1])))
        else:
            got.append(seqs(rb.flush()))
    assert got == want


def test_nack_list() -> None:
    rb = ReorderBuffer(max_wait_ms=100, nack_after_ms=10, start_hold_ms=0)
    rb.push(65534, 0, b"", 0)
    rb.push(2, 0, b"", 5)
    assert rb.nack_list(14) == []
    assert rb.nack_list(15) == [65535, 0, 1]
    rb.push(0, 0, b"", 20)
    assert rb.nack_list(20) == [65535, 1]
    rb.poll(105)
    assert rb.nack_list(200) == []
    assert rb.stats.lost == 2


def test_stats() -> None:
    rb = ReorderBuffer(start_hold_ms=0)
    for s in (1, 3, 3, 2, 0, 1):  # a copy of a released packet counts as late (its seq is behind)
        rb.push(s, 0, b"", 0)
    assert (rb.stats.received, rb.stats.duplicates, rb.stats.late) == (6, 1, 2)
    assert rb.poll(0) == [] and len(rb) == 0


def test_bad_arguments() -> None:
    with pytest.raises(LocalProtocolError):
        ReorderBuffer(capacity=0)
    assert ReorderBuffer().poll(0) == [] and ReorderBuffer().flush() == []


def test_audio_with_5_percent_reordering_and_40ms_delay_does_not_stutter() -> None:
    """Issue 10: 20 ms Opus packets, 5% of them 40 ms late: every packet comes out, in order, no hole."""
    rng = random.Random(10)
    sent = [(i, i * 20 + (40 if rng.random() < 0.05 else 0) + rng.randint(0, 3)) for i in range(3000)]
    arrivals = sorted(sent, key=lambda x: x[1])
    assert any(a[0] > b[0] for a, b in itertools.pairwise(arrivals))  # really reordered
    rb = ReorderBuffer(max_wait_ms=100, nack_after_ms=20)
    out: list[Event] = []
    now = 0
    for seq, at in arrivals:
        while now + 5 <= at:
            now += 5
            out += rb.poll(now)  # the adapter's timer
        out += rb.push((seq + 60000) & 0xFFFF, seq * 960, b"opus", at)
    out += rb.poll(now + 1000)
    assert not any(isinstance(e, Lost) for e in out)
    assert [e.seq for e in out if isinstance(e, RtpPayload)] == [(s + 60000) & 0xFFFF for s in range(3000)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 300)), max_size=60),
    st.integers(0, 65535),
    st.integers(0, 100),
)
def test_output_is_ordered_and_unique(pushes: list[tuple[int, int]], base: int, wait: int) -> None:
    """Whatever arrives, releases are strictly increasing (mod 2^16), never repeat, and cover holes."""
    rb = ReorderBuffer(max_wait_ms=wait, capacity=64)
    out: list[Event] = []
    now = 0
    for off, dt in pushes:
        now += dt
        out += rb.push((base + off % 200) & 0xFFFF, 0, b"", now)
    out += rb.flush()
    expect = None
    for e in out:
        first = e.seq if isinstance(e, RtpPayload) else e.first_seq
        if expect is not None:
            assert first == expect
        expect = (first + (1 if isinstance(e, RtpPayload) else e.count)) & 0xFFFF
