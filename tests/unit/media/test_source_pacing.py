"""The paced flush path: when a Source asks the pacer, and what every player is guaranteed.

The guarantees (issue 7) hold whatever the pacing: no reordering across kinds, metadata and
sequence headers first, a slow player never blocks a fast one, a player that keeps up is never
dropped. A hypothesis state sweep drives a Source through random publishes, joins, back-pressure
and flushes (fast path and general path) and checks them on every player's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st

from srs.media.message import AUDIO, DATA, VIDEO, MediaMessage
from srs.media.source import FLUSH_SLICE, MW_MSGS_MAX, Source, SourceSettings
from support.media_fakes import CountingWire, FakeSink, Loop, audio, video

REALTIME = SourceSettings(mw_latency_ms=0, mw_msgs=0)
DEFAULT = SourceSettings()  # mw_latency 350, mw_msgs 8


class FakePace:
    """Records what the Source asks; ``run`` plays the pacer's round."""

    def __init__(self) -> None:
        self.calls: list[tuple[Source, bool]] = []
        self.waiting: dict[Source, None] = {}

    def __call__(self, source: Source, due: bool) -> None:
        self.calls.append((source, due))
        self.waiting[source] = None

    def run(self) -> None:
        waiting, self.waiting = self.waiting, {}
        for src in waiting:
            src.paced_flush()


def make(settings: SourceSettings = DEFAULT) -> tuple[Source, Loop, FakePace]:
    loop, pace = Loop(), FakePace()
    return Source("/live/s", settings, loop.schedule, None, pace), loop, pace


def started(src: Source, loop: Loop, pace: FakePace, n: int = 1) -> list[FakeSink]:
    """A publishing source with ``n`` players that have had their first write."""
    src.publish("pub")
    sinks = [FakeSink() for _ in range(n)]
    for s in sinks:
        src.create_consumer(s)
    src.on_message(video(0, key=True))
    loop.run()
    pace.run()
    loop.run()
    pace.calls.clear()
    return sinks


def test_paced_source_asks_once_until_flushed_then_again() -> None:
    src, loop, pace = make()
    (sink,) = started(src, loop, pace)
    for ts in (40, 80, 120):
        src.on_message(video(ts))
    assert pace.calls == [(src, False)]  # one request for the three messages
    assert loop.calls == []  # nothing else scheduled: the merged-write rule is not met
    pace.run()
    assert sink.timestamps[-3:] == [40, 80, 120]
    src.on_message(video(160))
    assert pace.calls == [(src, False), (src, False)]


def test_srs_rule_met_asks_again_as_due() -> None:
    src, loop, pace = make(SourceSettings(mw_latency_ms=100, mw_msgs=0))
    started(src, loop, pace)
    for ts in (40, 80, 120, 140, 160):
        src.on_message(video(ts))
    # 40..140 spans 100 ms: SRS would flush now, so the request becomes due (once)
    assert pace.calls == [(src, False), (src, True)]
    assert loop.calls == []


def test_realtime_every_message_is_due() -> None:
    src, loop, pace = make(REALTIME)
    (sink,) = started(src, loop, pace)
    src.on_message(video(40))
    src.on_message(audio(45))  # same read, same request
    assert pace.calls == [(src, True)]
    pace.run()
    src.on_message(video(80))
    assert pace.calls == [(src, True), (src, True)]
    pace.run()
    assert sink.timestamps[-3:] == [40, 45, 80]


class RealtimeSink(FakeSink):
    realtime = True  # as a WebRTC player's sink


def test_a_realtime_player_makes_every_message_due_until_it_leaves() -> None:
    src, loop, pace = make()  # SRS's default merged write (350 ms)
    (sink,) = started(src, loop, pace)
    rt = RealtimeSink()
    consumer = src.create_consumer(rt)
    loop.run()
    pace.calls.clear()
    src.on_message(video(40))
    assert pace.calls == [(src, True)]
    pace.run()
    assert rt.timestamps[-1] == 40 and sink.timestamps[-1] == 40  # everyone gets it at once
    consumer.close()
    src.on_message(video(80))
    assert pace.calls == [(src, True), (src, False)]  # back to merged writes


def test_a_burst_is_flushed_without_waiting_for_the_pacer() -> None:
    src, loop, pace = make()
    (sink,) = started(src, loop, pace)
    for _ in range(MW_MSGS_MAX):
        src.on_message(video(40))  # timestamps that do not advance never meet mw_latency
    assert len(loop.calls) == 1
    loop.run()
    assert len(sink.batches[-1]) == MW_MSGS_MAX


def test_paced_flush_after_another_flush_writes_nothing_more() -> None:
    src, loop, pace = make()
    (sink,) = started(src, loop, pace)
    src.on_message(video(40))
    src.tick(0)
    src.tick(DEFAULT.mw_latency_ms)  # the wall-clock fallback flushes first
    n = len(sink.batches)
    pace.run()
    assert len(sink.batches) == n


def test_fast_path_stops_at_back_pressure_and_tick_resumes() -> None:
    src, loop, pace = make(REALTIME)
    fast, slow = started(src, loop, pace, 2)
    slow.can_write = False  # its next write reports a full transport
    src.on_message(video(40))
    pace.run()
    src.on_message(video(80))
    pace.run()
    assert fast.timestamps[-2:] == [40, 80]
    assert slow.timestamps[-1] == 40  # written once (the write said "full"), then held back
    slow.can_write = True
    src.tick(0)  # the backed-up player is retried
    assert slow.timestamps[-1] == 80


def test_passes_start_at_different_players() -> None:
    src, loop, pace = make(REALTIME)
    sinks = started(src, loop, pace, 10)
    order: list[int] = []
    for sink in sinks:
        original = sink.write

        def write(bufs: list[bytes], nbytes: int, _s: FakeSink = sink, _w=original) -> bool:  # type: ignore[no-untyped-def]
            order.append(sinks.index(_s))
            return bool(_w(bufs, nbytes))

        sink.write = write  # type: ignore[method-assign]
    firsts = set()
    for i in range(1, 8):
        order.clear()
        src.on_message(video(i * 40))
        pace.run()
        assert sorted(order) == list(range(10))  # everyone, once
        firsts.add(order[0])
    assert len(firsts) > 1


def test_a_pass_longer_than_a_slice_spans_loop_turns_in_order() -> None:
    src, loop, pace = make(REALTIME)
    sinks = started(src, loop, pace, FLUSH_SLICE + 10)
    src.on_message(video(40))
    pace.run()
    assert sum(1 for s in sinks if s.timestamps[-1] == 40) == FLUSH_SLICE
    src.on_message(video(80))  # arrives while the pass is under way
    pace.run()
    loop.run()
    assert all(s.timestamps[-2:] == [40, 80] for s in sinks)


# ------------------------------------------------------------------ the guarantees, swept

SH_AUDIO = MediaMessage(AUDIO, 0, b"A" * 3, sequence_header=True, codec=10)
SH_VIDEO = MediaMessage(VIDEO, 0, b"V" * 4, keyframe=True, sequence_header=True, codec=7)

Op = tuple[str, int]
MEDIA = st.tuples(st.sampled_from(["video", "video", "audio", "audio", "key", "meta"]), st.just(0))
OPS = st.one_of(
    MEDIA,
    MEDIA,
    st.tuples(st.just("join"), st.booleans().map(int)),  # 1: a player that may be slow
    st.tuples(st.sampled_from(["block", "unblock"]), st.integers(0, 7)),  # the i-th slow player
    st.tuples(st.sampled_from(["pace", "pace", "loop", "tick"]), st.just(0)),
)


@dataclass
class Player:
    sink: FakeSink
    slow: bool
    ever_blocked: bool = False
    joined_prefix: list[str] = field(default_factory=list)


def token(buf: bytes) -> tuple[int, int, int]:
    kind, ts, size = buf.rstrip(b";").split(b":")
    return int(kind), int(ts), int(size)


@settings(max_examples=300, deadline=None)
@example(  # a blocked player early in the pass, fast ones after it
    initial=[True, False, False],
    ops=[("key", 0), ("pace", 0), ("block", 0), ("video", 0), ("pace", 0), ("audio", 0), ("pace", 0)],
    realtime=True,
    queue_ms=30_000,
)
@example(  # a blocked player that falls more than queue_length behind, then a metadata change
    initial=[True, False],
    ops=[("block", 0), *[("key", 0), ("video", 0), ("pace", 0)] * 20, ("meta", 0), ("unblock", 0)],
    realtime=False,
    queue_ms=200,
)
@given(
    initial=st.lists(st.booleans(), min_size=1, max_size=6),  # players there from the start (True: slow)
    ops=st.lists(OPS, max_size=80),
    realtime=st.booleans(),
    queue_ms=st.sampled_from([200, 30_000]),
)
def test_delivery_guarantees_hold_under_any_schedule(
    initial: list[bool], ops: list[Op], realtime: bool, queue_ms: int
) -> None:
    base = REALTIME if realtime else DEFAULT
    src, loop, pace = make(SourceSettings(**{**_fields(base), "queue_length_ms": queue_ms}))
    src.publish("pub")
    src.on_message(SH_AUDIO)
    src.on_message(SH_VIDEO)
    wire = CountingWire()
    players: list[Player] = []
    ops = [("join", int(slow)) for slow in initial] + ops
    published: list[tuple[int, int, int]] = []  # ring tokens in publish order (frames, metadata)
    ts = 0
    nmeta = 0
    for op, arg in ops:
        if op in ("video", "audio", "key"):
            ts += 7
            m = video(ts, key=True) if op == "key" else video(ts) if op == "video" else audio(ts)
            src.on_message(m)
            published.append((m.kind, m.timestamp, len(m.payload)))
        elif op == "meta":
            nmeta += 1
            src.on_metadata(MediaMessage(DATA, ts, b"m" * (20 + nmeta)))
            published.append((DATA, 0, 20 + nmeta))
        elif op == "join":
            p = Player(FakeSink(wire), slow=bool(arg))
            expect = (["meta"] if src.metadata is not None else []) + ["ash", "vsh"]
            p.joined_prefix = expect
            players.append(p)
            src.create_consumer(p.sink)
        elif op in ("block", "unblock") and any(p.slow for p in players):
            p = [p for p in players if p.slow][arg % sum(p.slow for p in players)]
            p.sink.can_write = op == "unblock"
            p.ever_blocked |= op == "block"
        elif op == "pace":
            pace.run()
            loop.run()
            # a slow player never blocks a fast one: once the pass is done, every player that
            # always took its data has everything published so far
            for p in players:
                c = next(c for c in src.consumers if c.sink is p.sink)
                if not p.ever_blocked and c.wire is not None:
                    assert c.cursor == src.head
        elif op == "loop":
            loop.run()
        elif op == "tick":
            src.tick(10_000)
    # the end: everyone can write again and every pending flush runs
    for p in players:
        p.sink.can_write = True
    for _ in range(3):
        pace.run()
        loop.run()
        src.tick(20_000)
        loop.run()
    index = {t: i for i, t in enumerate(published)}
    for p in players:
        toks = [token(b) for b in p.sink.buffers]
        # metadata and sequence headers first, in SRS's order
        names = ["meta" if k == DATA else "ash" if size == 3 else "vsh" for k, _, size in toks[:3]]
        assert names[: len(p.joined_prefix)] == p.joined_prefix
        frames = toks[len(p.joined_prefix) :]
        positions = [index[t] for t in frames]
        # no reordering across kinds, no duplicates
        assert positions == sorted(set(positions))
        consumer = next(c for c in src.consumers if c.sink is p.sink)
        if not p.ever_blocked:
            # a player that keeps up is never dropped: from its first message to the last one
            # published, it has everything
            assert consumer.dropped_msgs == 0
            if positions:
                assert positions == list(range(positions[0], len(published)))


def _fields(s: SourceSettings) -> dict[str, object]:
    return {f: getattr(s, f) for f in s.__dataclass_fields__}
