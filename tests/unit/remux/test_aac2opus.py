"""AAC / MP3 -> Opus transcoder of the RTMP -> WebRTC bridge: packets, sample clock, errors."""

from __future__ import annotations

import itertools
import logging

import pytest

from srs.protocol.rtc.payload_opus import OpusToc
from srs.remux.aac2opus import FRAME_SAMPLES, AacToOpus, OpusPacket
from unit.remux.rtc_media import AAC_HEAD, aac_bodies, decode_opus, mp3_bodies


def _run(bodies: list[tuple[int, bytes]], t: AacToOpus | None = None, flush: bool = True) -> list[OpusPacket]:
    t = t or AacToOpus()
    out: list[OpusPacket] = []
    for ts, body in bodies:
        out += t.feed(body, ts)
    return out + (t.flush() if flush else [])


@pytest.mark.parametrize(
    ("make", "rate", "layout", "channels"),
    [
        (aac_bodies, 44100, "stereo", 2),
        (aac_bodies, 48000, "mono", 1),  # the source's channels, up to 2
        (aac_bodies, 22050, "stereo", 2),
        (mp3_bodies, 44100, "stereo", 2),
        (mp3_bodies, 22050, "mono", 1),
    ],
)
def test_transcodes_to_20ms_opus_on_a_48k_clock(make, rate: int, layout: str, channels: int) -> None:  # type: ignore[no-untyped-def]
    bodies = make(rate, layout, 1.0)
    pkts = _run(bodies)
    assert pkts[0].timestamp == bodies[0][0] * 48
    assert [b.timestamp - a.timestamp for a, b in itertools.pairwise(pkts)] == [FRAME_SAMPLES] * (
        len(pkts) - 1
    )
    assert {(OpusToc.parse(p.data[0]).frame_samples, p.data[0] & 3) for p in pkts} == {
        (960, 0)
    }  # 1 frame of 20 ms
    samples, got_channels, peak = decode_opus([p.data for p in pkts])
    assert got_channels == channels
    assert abs(samples - 48000) < 48000 * 0.1  # 1 s in (codec delays and padding aside)
    assert peak > 1000  # the sine made it through


def test_clock_anchors_at_the_first_timestamp() -> None:
    bodies = [(ts + 5000, b) for ts, b in aac_bodies()]
    pkts = _run(bodies, flush=False)
    assert pkts[0].timestamp == 5000 * 48


def test_jitter_under_a_second_keeps_the_sample_clock() -> None:
    bodies = [(ts + (37 if i % 2 else -23), b) for i, (ts, b) in enumerate(aac_bodies())]
    pkts = _run(bodies, flush=False)
    assert {b.timestamp - a.timestamp for a, b in itertools.pairwise(pkts)} == {FRAME_SAMPLES}


@pytest.mark.parametrize("jump_ms", [60_000, -800_000, 1500])
def test_reanchors_when_the_input_jumps(jump_ms: int) -> None:
    bodies = aac_bodies()
    t = AacToOpus()
    first = _run(bodies, t, flush=False)
    base = 1_000_000
    second = _run([(base + jump_ms + ts, b) for ts, b in bodies[1:]], t, flush=False)
    assert first and second
    assert second[0].timestamp == (base + jump_ms) * 48  # a fresh clock at the new timeline
    assert {b.timestamp - a.timestamp for a, b in itertools.pairwise(second)} == {FRAME_SAMPLES}


def test_republish_with_a_new_config() -> None:
    t = AacToOpus()
    a = _run(aac_bodies(44100, "stereo"), t, flush=False)
    b = _run([(ts + 100_000, body) for ts, body in aac_bodies(48000, "mono")], t)
    assert a[0].data[0] & 4 and not b[-1].data[0] & 4  # stereo, then mono
    assert b[0].timestamp == 100_000 * 48 and t.dropped == 0


def test_corrupt_frames_are_dropped_and_logged_once_per_burst(caplog: pytest.LogCaptureFixture) -> None:
    bodies = aac_bodies()
    junk = bytes((AAC_HEAD, 1)) + b"\xff" * 40
    feed = bodies[:10] + [(bodies[10][0], junk)] * 3 + bodies[10:20] + [(bodies[20][0], junk)] + bodies[20:]
    t = AacToOpus()
    with caplog.at_level(logging.WARNING, logger="srs"):
        pkts = _run(feed, t)
    assert t.dropped == 4
    assert sum("aac2opus" in r.getMessage() for r in caplog.records) == 2
    samples, _, peak = decode_opus([p.data for p in pkts])
    assert samples > 40000 and peak > 1000


@pytest.mark.parametrize(
    ("body", "dropped"),
    [
        (b"", 1),  # not an audio tag
        (bytes((AAC_HEAD, 1)) + b"\x21\x10", 1),  # AAC before its sequence header
        (bytes((AAC_HEAD, 1)), 0),  # an empty raw frame: nothing to do
        (bytes((0xB2,)) + b"speex", 0),  # Speex: not transcoded
        (bytes((0xD2,)) + b"\xfc\xff\xfe", 0),  # Opus (SRS's id 13): the wire relays it
        (bytes((MP3 := 0x2F,)) + b"\x00" * 100, 1),  # not an MP3 frame
    ],
)
def test_inputs_that_yield_nothing(body: bytes, dropped: int) -> None:
    t = AacToOpus()
    assert t.feed(body, 0) == []
    assert t.dropped == dropped


def test_bitrate_is_the_opus_target() -> None:
    bodies = aac_bodies(seconds=2.0)
    low = _run(bodies, AacToOpus(16000))
    high = _run(bodies, AacToOpus(128000))
    assert sum(map(len, (p.data for p in low))) * 3 < sum(map(len, (p.data for p in high)))


def test_flush_then_continue() -> None:
    t = AacToOpus()
    bodies = aac_bodies()
    a = _run(bodies, t)
    assert t.flush() == []  # nothing left
    b = _run([(ts + 2000, body) for ts, body in bodies[1:]], t)
    assert a and b and b[0].timestamp == bodies[1][0] * 48 + 2000 * 48


def test_a_new_sample_rate_on_the_same_timeline() -> None:
    t = AacToOpus()
    a = _run(aac_bodies(44100, "stereo"), t, flush=False)
    b = _run([(ts + 1024 * 1000 * 45 // 44100, body) for ts, body in aac_bodies(48000, "stereo")], t)
    assert t.dropped == 0
    assert {y.timestamp - x.timestamp for x, y in itertools.pairwise(a + b)} == {FRAME_SAMPLES}  # one clock
    samples, channels, peak = decode_opus([p.data for p in a + b])
    assert channels == 2 and abs(samples - 2 * 48000) < 48000 * 0.15 and peak > 1000
