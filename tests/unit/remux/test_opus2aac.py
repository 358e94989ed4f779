"""Opus -> AAC transcoder of the WebRTC -> live bridge: sequence header, frames on the input clock,
holes and overlaps, corrupt input; the AAC is decoded back with FFmpeg's decoder to check it."""

from __future__ import annotations

import array
import itertools
import logging
from functools import cache

import av
import pytest

from srs.codec.aac import parse_asc
from srs.format.flv import AudioCodec, parse_audio
from srs.remux.opus2aac import AacFrame, OpusToAac

SECONDS = 2.0


@cache
def sine_opus(layout: str, seconds: float = SECONDS) -> tuple[bytes, ...]:
    """A 440 Hz sine encoded by libopus into 20 ms packets."""
    enc = av.CodecContext.create("libopus", "w")
    assert isinstance(enc, av.AudioCodecContext)
    enc.sample_rate = 48000
    enc.layout = layout
    enc.format = "s16"
    enc.open()
    src = av.open(f"sine=frequency=440:sample_rate=48000:duration={seconds}", format="lavfi")
    out: list[bytes] = []
    for frame in src.decode(audio=0):
        frame.pts = None
        out += [bytes(p) for p in enc.encode(frame)]
    out += [bytes(p) for p in enc.encode(None)]
    src.close()
    return tuple(p for p in out if p)


def transcode(
    packets: list[tuple[int, bytes]], t: OpusToAac | None = None, flush: bool = True
) -> list[AacFrame]:
    t = t or OpusToAac()
    out: list[AacFrame] = []
    for ts, p in packets:
        out += t.push(p, ts)
    return out + (t.flush() if flush else [])


def timed(packets: tuple[bytes, ...], start_ms: int = 0) -> list[tuple[int, bytes]]:
    return [(start_ms + i * 20, p) for i, p in enumerate(packets)]


def decode_aac(frames: list[AacFrame]) -> tuple[int, int, int]:
    """(samples per channel, channels, peak s16) of the AAC frames, decoded with the sequence header."""
    dec = av.CodecContext.create("aac", "r")
    assert isinstance(dec, av.AudioCodecContext)
    dec.extradata = frames[0].body[2:]
    dec.open()
    to_s16 = av.AudioResampler(format="s16", layout="mono", rate=48000)
    total = peak = channels = 0
    for f in frames[1:]:
        for frame in dec.decode(av.Packet(f.body[2:])):
            total += frame.samples
            channels = frame.layout.nb_channels
            frame.pts = None
            for r in to_s16.resample(frame):
                pcm = array.array("h", bytes(r.planes[0])[: r.samples * 2])
                peak = max(peak, max(abs(x) for x in pcm))
    return total, channels, peak


@pytest.mark.parametrize(("layout", "channels"), [("mono", 1), ("stereo", 2)])
def test_sequence_header_then_frames_on_the_input_clock(layout: str, channels: int) -> None:
    packets = sine_opus(layout)
    frames = transcode(timed(packets, 5000))
    sh, rest = frames[0], frames[1:]
    assert sh.sequence_header and sh.timestamp == 5000 and sh.body[:2] == b"\xaf\x00"
    cfg = parse_asc(sh.body[2:])
    assert (cfg.object_type, cfg.sample_rate, cfg.channels) == (2, 48000, channels)  # AAC-LC 48 kHz
    assert not any(f.sequence_header for f in rest)
    for f in rest:
        info = parse_audio(f.body)
        assert (info.codec, info.is_sequence_header, f.body[:2]) == (AudioCodec.AAC, False, b"\xaf\x01")
    # 1024-sample frames from the first Opus sample on (the priming frame 21 ms before it).
    assert rest[0].timestamp == 5000 - 22
    assert all(b.timestamp - a.timestamp in (21, 22) for a, b in itertools.pairwise(rest))
    samples, got_channels, peak = decode_aac(frames)
    assert got_channels == channels
    assert abs(samples - len(packets) * 960) <= 2048  # priming + the last frame's padding
    assert peak > 1000


def test_bitrate_is_the_encoders() -> None:
    frames = transcode(timed(sine_opus("stereo")), OpusToAac(bitrate=96000))
    bits = sum(len(f.body) - 2 for f in frames[1:]) * 8
    assert 96000 * SECONDS * 0.5 < bits < 96000 * SECONDS * 1.5


def test_a_hole_is_filled_with_silence_and_keeps_the_clock() -> None:
    packets = timed(sine_opus("mono"))
    holed = packets[:30] + packets[40:]  # 200 ms lost
    frames = transcode(holed)[1:]
    assert all(b.timestamp - a.timestamp in (21, 22) for a, b in itertools.pairwise(frames))
    assert abs(frames[-1].timestamp - transcode(packets)[-1].timestamp) <= 22


def test_an_overlap_is_trimmed_and_jitter_is_absorbed() -> None:
    packets = timed(sine_opus("mono"))
    jittered = [(ts + (3 if i % 3 == 0 else -2), p) for i, (ts, p) in enumerate(packets)]
    overlapped = packets[:50] + [(ts - 100, p) for ts, p in packets[50:]]  # the clock stepped back 100 ms
    ref = transcode(packets)[1:]
    for variant in (jittered, overlapped):
        frames = transcode(variant)[1:]
        assert all(b.timestamp - a.timestamp in (21, 22) for a, b in itertools.pairwise(frames))
    assert len(transcode(jittered)) == len(ref) + 1
    assert abs(transcode(overlapped)[-1].timestamp - (ref[-1].timestamp - 100)) <= 22


def test_a_big_jump_re_anchors() -> None:
    packets = timed(sine_opus("mono"))
    jumped = packets[:50] + [(ts + 60_000, p) for ts, p in packets[50:]]
    frames = transcode(jumped)[1:]
    steps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(frames)]
    assert sum(s > 1000 for s in steps) == 1
    assert abs(frames[-1].timestamp - (2000 + 60_000)) <= 50


def test_corrupt_packets_are_dropped_and_logged_once_per_burst(caplog: pytest.LogCaptureFixture) -> None:
    packets = timed(sine_opus("mono"))
    garbage = [b"", b"\x03", b"\x03\x00", b"\xfb\x00", b"\x0b" + b"\xff" * 300, b"\x01\x00\x00\x00"]
    feed = packets[:20] + [(400, g) for g in garbage] + packets[20:40] + [(800, b"")] + packets[40:]
    t = OpusToAac()
    with caplog.at_level(logging.WARNING, logger="srs"):
        frames = transcode(feed, t)
    assert t.dropped == len(garbage) + 1
    assert sum("opus2aac" in r.getMessage() for r in caplog.records) == 2
    assert frames[0].sequence_header and len(frames) > 80


def test_flush_resets_and_before_anything_is_empty() -> None:
    t = OpusToAac()
    assert t.flush() == []
    first = transcode(timed(sine_opus("mono")), t)
    again = transcode(timed(sine_opus("mono")), t)
    assert again[0].sequence_header and len(again) == len(first)
