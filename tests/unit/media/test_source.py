"""The live core: shared ring fan-out, GOP cache, queue drops, merged writes, jitter, reaping."""

from __future__ import annotations

from dataclasses import replace

import pytest

from srs.media.jitter import Jitter, JitterAlgorithm
from srs.media.message import AUDIO, DATA, VIDEO, MediaMessage
from srs.media.registry import SourceRegistry
from srs.media.source import FLUSH_SLICE, PURE_AUDIO_GUESS_COUNT, Source, SourceSettings
from srs.util.errors import StreamBusyError
from support.media_fakes import CountingWire, FakeSink, Loop, audio, meta, video

REALTIME = SourceSettings(mw_latency_ms=0, mw_msgs=0)


def make(settings: SourceSettings = REALTIME) -> tuple[Source, Loop]:
    loop = Loop()
    return Source("/live/s", settings, loop.schedule), loop


def publish_gop(src: Source, start: int, frames: int = 5, step: int = 40) -> None:
    for i in range(frames):
        src.on_message(video(start + i * step, key=(i == 0)))
        src.on_message(audio(start + i * step + 5))


def test_fanout_shares_the_same_bytes_and_encodes_once() -> None:
    src, loop = make()
    src.publish("pub")
    wire = CountingWire()
    sinks = [FakeSink(wire) for _ in range(5)]
    for s in sinks:
        src.create_consumer(s)
    loop.run()
    publish_gop(src, 0)
    loop.run()
    assert wire.encoded == 10  # 10 messages, 5 players: each message serialized once
    first = sinks[0].buffers
    assert len(first) == 10
    for s in sinks[1:]:
        assert all(a is b for a, b in zip(s.buffers, first, strict=True))


def test_newcomer_gets_metadata_sequence_headers_then_gop() -> None:
    src, loop = make(replace(REALTIME, time_jitter=JitterAlgorithm.OFF))
    src.publish("pub")
    src.on_metadata(meta())
    src.on_message(video(0, sh=True))
    src.on_message(audio(0, sh=True))
    publish_gop(src, 0, frames=3)
    publish_gop(src, 1000, frames=3)  # second GOP: the cache starts at its keyframe
    sink = FakeSink()
    c = src.create_consumer(sink)
    loop.run()
    kinds = [(m.kind, m.sequence_header) for m in sink.first]
    # SRS order: metadata, audio sequence header, video sequence header, then the GOP.
    assert kinds[:3] == [(DATA, False), (AUDIO, True), (VIDEO, True)]
    assert sink.first[3].keyframe and sink.first[3].timestamp == 1000
    assert sink.first[0].timestamp == 0  # metadata always goes out stamped 0 (SRS; FFmpeg needs it)
    assert all(m.timestamp == 1000 for m in sink.first[1:3])  # headers re-timed to the GOP start
    assert len(sink.first) == 3 + 6
    assert c.cursor == src.head


def test_gop_cache_off_starts_live() -> None:
    src, loop = make(replace(REALTIME, gop_cache=False))
    src.publish("pub")
    src.on_message(video(0, sh=True))
    publish_gop(src, 0)
    sink = FakeSink()
    src.create_consumer(sink)
    loop.run()
    assert [m.sequence_header for m in sink.first] == [True]  # only the sequence header
    src.on_message(video(300))
    loop.run()
    assert sink.timestamps[-1] == 300


def test_pure_audio_guard_clears_the_gop_cache() -> None:
    src, _ = make()
    src.publish("pub")
    src.on_message(video(0, key=True))
    for i in range(PURE_AUDIO_GUESS_COUNT):
        src.on_message(audio(i * 20))
    assert src.gop_cache_size == PURE_AUDIO_GUESS_COUNT + 1
    src.on_message(audio(5000))
    assert src.gop_cache_size == 0
    src.on_message(audio(5020))  # still pure audio: nothing cached
    assert src.gop_cache_size == 0


def test_gop_cache_max_frames() -> None:
    src, _ = make(replace(REALTIME, gop_cache_max_frames=10))
    src.publish("pub")
    src.on_message(video(0, key=True))
    for i in range(1, 10):
        src.on_message(video(i * 40))
    assert src.gop_cache_size == 10
    src.on_message(video(400))
    assert src.gop_cache_size == 0


def test_ring_stays_bounded_when_players_keep_up() -> None:
    src, loop = make()
    src.publish("pub")
    sink = FakeSink()
    src.create_consumer(sink)
    for g in range(50):
        publish_gop(src, g * 1000, frames=25)
        loop.run()
    # Only the current GOP (50 messages) plus at most one trim batch stays in memory.
    assert len(src.ring) <= 50 + 64
    assert len(sink.buffers) == 50 * 50


def test_slow_player_drops_whole_gops_and_counts_them() -> None:
    src, loop = make(replace(REALTIME, queue_length_ms=2000))
    src.publish("pub")
    slow, fast = FakeSink(writable=False), FakeSink()
    c_slow = src.create_consumer(slow)
    src.create_consumer(fast)
    loop.run()
    for g in range(5):  # 5 GOPs of 1 s each
        publish_gop(src, g * 1000, frames=25)
        loop.run()
    assert c_slow.drops >= 1 and c_slow.dropped_msgs > 0
    assert src.dropped_msgs == c_slow.dropped_msgs
    slow.can_write = True
    src.on_message(video(5000, key=True))
    loop.run()
    # It resumes at a keyframe and its queue never spans more than queue_length.
    first_ts = slow.timestamps[0]
    assert first_ts % 1000 == 0
    assert 5000 - first_ts <= 2000
    assert fast.timestamps == sorted(fast.timestamps)
    # The ring never held more than the slow player's queue plus the current GOP.
    assert len(src.ring) <= 200


def test_merged_write_batches_by_media_duration_and_count() -> None:
    src, loop = make(SourceSettings(mw_latency_ms=350, mw_msgs=8))
    src.publish("pub")
    sink = FakeSink()
    src.create_consumer(sink)
    loop.run()
    for i in range(30):  # 30 video frames at 25 fps = 1.2 s
        src.on_message(video(i * 40, key=(i == 0)))
        loop.run()
    sizes = [len(b) for b in sink.batches]
    assert sum(sizes) == 30
    assert all(n >= 9 for n in sizes)  # more than mw_msgs per write, ~350 ms of media
    assert len(sizes) == 3


def test_realtime_flushes_every_message() -> None:
    src, loop = make(REALTIME)
    src.publish("pub")
    sink = FakeSink()
    src.create_consumer(sink)
    loop.run()
    for i in range(5):
        src.on_message(video(i * 40, key=(i == 0)))
        loop.run()
    assert [len(b) for b in sink.batches] == [1] * 5


def test_messages_of_one_read_are_flushed_together() -> None:
    src, loop = make(REALTIME)
    src.publish("pub")
    sink = FakeSink()
    src.create_consumer(sink)
    loop.run()
    publish_gop(src, 0)  # 10 messages before the loop runs: one flush
    loop.run()
    assert [len(b) for b in sink.batches] == [10]


def test_second_publisher_is_refused_first_keeps_going() -> None:
    src, _loop = make()
    src.publish("a")
    with pytest.raises(StreamBusyError) as e:
        src.publish("b")
    assert e.value.code == 1028
    src.unpublish("b")  # not the publisher: ignored
    assert src.publisher == "a"


def test_republish_players_continue_with_monotonic_timeline() -> None:
    src, loop = make()
    sink = FakeSink()
    src.publish("a")
    src.create_consumer(sink)
    loop.run()
    publish_gop(src, 0)
    loop.run()
    src.unpublish("a")
    assert sink.unpublished == 1
    src.publish("b")
    publish_gop(src, 0)  # the new encoder starts again at 0
    loop.run()
    ts = sink.timestamps
    assert len(ts) == 20
    assert ts[10] == ts[9] + 10  # one default frame step, never back to 0


def test_play_before_publish_waits() -> None:
    reg_loop = Loop()
    reg = SourceRegistry(reg_loop.schedule, lambda vhost: REALTIME)
    src = reg.fetch_or_create("/live/s", "__defaultVhost__")
    sink = FakeSink()
    src.create_consumer(sink)
    reg_loop.run()
    assert sink.batches == []
    src.publish("p")
    src.on_message(video(0, sh=True))
    publish_gop(src, 0)
    reg_loop.run()
    assert sink.first[0].sequence_header
    assert len(sink.buffers) == 11


def test_idle_sources_are_reaped() -> None:
    loop = Loop()
    reg = SourceRegistry(loop.schedule, lambda vhost: REALTIME)
    for i in range(100):
        src = reg.fetch_or_create(f"/live/s{i}", "v")
        c = src.create_consumer(FakeSink())
        src.publish("p")
        publish_gop(src, 0)
        loop.run()
        src.unpublish("p")
        assert len(reg) == 1
        c.close()
        assert len(reg) == 0
    assert reg.created == reg.reaped == 100


def test_empty_payload_is_never_delivered() -> None:
    src, loop = make()
    src.publish("p")
    sink = FakeSink()
    src.create_consumer(sink)
    src.on_message(MediaMessage(AUDIO, 0, b""))
    src.on_metadata(MediaMessage(DATA, 0, b""))
    loop.run()
    assert sink.buffers == []


def test_sink_that_cannot_start_skips_until_it_can() -> None:
    src, loop = make()
    src.publish("p")
    sink = FakeSink()
    sink.refuse = True
    c = src.create_consumer(sink)
    src.on_metadata(meta())
    loop.run()
    assert sink.batches == [] and c.cursor == src.head
    sink.refuse = False
    src.on_message(video(0, key=True))
    loop.run()
    assert len(sink.buffers) == 1


def test_not_yet_keeps_the_messages_queued() -> None:
    src, loop = make()
    src.publish("p")
    src.on_message(video(0, sh=True))
    src.on_message(video(0, key=True))
    sink = FakeSink()
    sink.wait_for = 4
    c = src.create_consumer(sink)
    loop.run()
    assert sink.batches == [] and len(sink.first) == 2 and c.prefix  # asked, nothing consumed
    src.on_message(video(40))
    loop.run()
    assert sink.batches == []
    src.on_message(video(80))
    loop.run()
    assert len(sink.first) == 4 and len(sink.buffers) == 4  # header, keyframe, 2 frames: nothing lost


def test_preamble_written_once() -> None:
    src, loop = make()
    src.publish("p")
    sink = FakeSink(CountingWire(preamble=b"FLV"))
    src.create_consumer(sink)
    publish_gop(src, 0)
    loop.run()
    publish_gop(src, 1000)
    loop.run()
    assert sink.buffers.count(b"FLV") == 1 and sink.buffers[0] == b"FLV"


def test_play_duration_limit() -> None:
    src, loop = make()
    src.publish("p")
    sink = FakeSink()
    c = src.create_consumer(sink)
    c.set_duration_limit(200)
    loop.run()
    for i in range(20):
        src.on_message(video(i * 40, key=(i == 0)))
        loop.run()
    assert sink.limit_reached >= 1
    assert max(sink.timestamps) < 200


def test_pause_holds_then_resumes() -> None:
    src, loop = make()
    src.publish("p")
    sink = FakeSink()
    c = src.create_consumer(sink)
    loop.run()
    c.pause(True)
    publish_gop(src, 0)
    loop.run()
    assert sink.buffers == []
    c.pause(False)
    loop.run()
    assert len(sink.buffers) == 10


def test_reduce_sequence_header_drops_duplicates() -> None:
    src, loop = make(replace(REALTIME, reduce_sequence_header=True))
    src.publish("p")
    sink = FakeSink()
    src.create_consumer(sink)
    src.on_message(video(0, sh=True))
    src.on_message(video(0, sh=True))
    loop.run()
    assert len(sink.buffers) == 1


def test_atc_auto_switches_jitter_off() -> None:
    src, loop = make(replace(REALTIME, atc_auto=True))
    src.publish("p")
    sink = FakeSink()
    src.create_consumer(sink)
    src.on_metadata(meta(), bravo_atc=True)
    src.on_message(video(123456, key=True))
    loop.run()
    assert sink.timestamps[-1] == 123456


def test_tick_retries_backed_up_players() -> None:
    src, loop = make()
    src.publish("p")
    sink = FakeSink(writable=False)
    src.create_consumer(sink)
    publish_gop(src, 0)
    loop.run()
    assert sink.buffers == []
    sink.can_write = True
    src.tick(1000)
    assert len(sink.buffers) == 10


def test_tick_flushes_when_timestamps_do_not_advance() -> None:
    src, loop = make(SourceSettings(mw_latency_ms=350, mw_msgs=8, time_jitter=JitterAlgorithm.OFF))
    src.publish("p")
    sink = FakeSink()
    src.create_consumer(sink)
    loop.run()
    for _ in range(5):
        src.on_message(video(1000, key=True))  # a broken encoder: every frame at the same time
    loop.run()
    assert sink.buffers == []  # no merged write: 0 ms of media, 5 messages
    src.tick(10_000)
    src.tick(10_200)
    assert sink.buffers == []  # waiting for less than mw_latency of wall time
    src.tick(10_400)
    assert len(sink.buffers) == 5


def test_flush_serves_players_in_slices_per_loop_turn() -> None:
    src, loop = make()
    src.publish("p")
    sinks = [FakeSink() for _ in range(FLUSH_SLICE * 2 + 10)]
    for s in sinks:
        src.create_consumer(s)
    loop.run()
    src.on_message(video(0, key=True))
    # one loop turn: the scheduled flush serves the first slice and schedules the next
    fn = loop.calls.pop(0)
    fn()
    assert sum(1 for s in sinks if s.buffers) == FLUSH_SLICE
    loop.run()
    assert all(len(s.buffers) == 1 for s in sinks)


def test_new_data_during_a_pass_gets_another_pass() -> None:
    src, loop = make()
    src.publish("p")
    sinks = [FakeSink() for _ in range(FLUSH_SLICE + 5)]
    for s in sinks:
        src.create_consumer(s)
    loop.run()
    src.on_message(video(0, key=True))
    loop.calls.pop(0)()  # first slice served
    src.on_message(video(40))  # arrives mid-pass
    loop.run()
    assert all(s.timestamps[-1] == 40 for s in sinks)
    assert all(len(s.buffers) == 2 for s in sinks)


def test_unpublish_delivers_the_tail_to_every_player_before_ending() -> None:
    src, loop = make(SourceSettings(mw_latency_ms=350, mw_msgs=8))
    src.publish("p")
    sinks = [FakeSink() for _ in range(FLUSH_SLICE * 3)]
    for s in sinks:
        src.create_consumer(s)
    loop.run()
    src.on_message(video(0, key=True))
    src.unpublish("p")  # no loop turn in between
    assert all(len(s.buffers) == 1 and s.unpublished == 1 for s in sinks)


# ---------------------------------------------------------------------- jitter


@pytest.mark.parametrize(
    ("algorithm", "inputs", "expected"),
    [
        (JitterAlgorithm.OFF, [1000, 1040, 900, 5000], [1000, 1040, 900, 5000]),
        (JitterAlgorithm.ZERO, [1000, 1040, 900, 5000], [0, 40, -100, 4000]),
        # full: the first packet (a jump from 0) becomes a 10 ms step from -1, big jumps become 10 ms,
        # small negative deltas are kept (SRS does not force monotonic output).
        (JitterAlgorithm.FULL, [1000, 1040, 1020, 5000, 5040], [9, 49, 29, 39, 79]),
        (JitterAlgorithm.FULL, [0, 40, 80], [0, 40, 80]),
    ],
)
def test_jitter_algorithms(algorithm: JitterAlgorithm, inputs: list[int], expected: list[int]) -> None:
    j = Jitter()
    assert [j.correct(video(t), algorithm).timestamp for t in inputs] == expected


def test_jitter_full_stamps_metadata_zero() -> None:
    assert Jitter().correct(meta(), JitterAlgorithm.FULL).timestamp == 0


def test_republish_steps_from_the_latest_timestamp_not_the_last() -> None:
    j = Jitter()
    out = [
        j.correct(m, JitterAlgorithm.FULL).timestamp
        for m in (video(0), audio(40), video(80), audio(120), video(100))
    ]
    assert out[-1] == 100  # an encoder's end-of-sequence tag, stamped before its last audio
    j.on_republish(JitterAlgorithm.FULL)
    assert j.correct(video(0), JitterAlgorithm.FULL).timestamp == 130  # 10 ms after 120, not after 100


def test_metadata_in_the_ring_does_not_count_as_lag() -> None:
    src, loop = make(replace(REALTIME, queue_length_ms=1000, time_jitter=JitterAlgorithm.OFF))
    src.publish("p")
    sink = FakeSink(writable=False)
    c = src.create_consumer(sink)
    publish_gop(src, 5000, frames=2)
    src.on_metadata(meta())  # stamped 0 on the wire, at 5045 on the A/V timeline
    c.cursor = src.head - 1  # the slow player's queue starts at the metadata
    publish_gop(src, 5200, frames=5)
    loop.run()
    assert c.drops == 0  # the queue spans ~360 ms of media, not 5 s


@pytest.mark.parametrize("algorithm", [JitterAlgorithm.OFF, JitterAlgorithm.FULL])
def test_timestamps_past_2_32_stay_monotonic(algorithm: JitterAlgorithm) -> None:
    j = Jitter()
    start = (1 << 32) - 200  # 49.7 days of publishing, then the 32-bit wire value wraps
    out = [j.correct(video(start + i * 40), algorithm).timestamp for i in range(20)]
    assert out == sorted(out) and len(set(out)) == 20
