"""GB28181 remux (srs.remux.gb_in): PS from the test device -> Source messages; G.711 -> AAC."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from srs.codec import aac
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.remux.gb_in import G711ToAac, GbIngest, parse_rtp
from support.gb_device import ps_stream, rtp_packets
from support.media import clip


def _ingest(audio: str, seconds: float = 4.0, name: str = "bbb.flv") -> tuple[GbIngest, list[MediaMessage]]:
    g = GbIngest()
    out: list[MediaMessage] = []
    for ms, ps in ps_stream(Path(clip(name)), audio=audio):
        if ms > seconds * 1000:
            break
        for i in range(0, len(ps), 1400):
            out += g.feed(ps[i : i + 1400])
    return g, out + g.flush()


@pytest.mark.parametrize(("audio", "rate"), [("aac", 44100), ("g711a", 8000)])
def test_h264_and_audio_become_messages(audio: str, rate: int) -> None:
    g, msgs = _ingest(audio)
    assert msgs[0].kind == VIDEO and msgs[0].sequence_header and msgs[0].timestamp == 0
    assert msgs[1].kind == AUDIO and msgs[1].sequence_header
    asc = aac.parse_asc(msgs[1].payload[2:])
    assert asc.sample_rate == rate
    video = [m for m in msgs if m.kind == VIDEO and not m.sequence_header]
    audio_msgs = [m for m in msgs if m.kind == AUDIO and not m.sequence_header]
    assert video[0].keyframe
    assert 95 <= len(video) <= 101  # 4 s at 25 fps
    assert audio_msgs and audio_msgs[-1].timestamp > 3000
    assert all(b.timestamp >= a.timestamp for a, b in itertools.pairwise(video))
    assert g.stats.dropped == 0 and g.ps.errors == 0


def test_h265_becomes_enhanced_rtmp_hevc() -> None:
    g, msgs = _ingest("aac", 2.0, "hevc.flv")
    assert g.video_codec() == "h265"
    sh = msgs[0]
    assert sh.kind == VIDEO and sh.sequence_header and sh.payload[1:5] == b"hvc1"
    frames = [m for m in msgs if m.kind == VIDEO and not m.sequence_header]
    assert frames[0].keyframe and len(frames) >= 45


def test_video_only_device_starts_without_audio() -> None:
    _, msgs = _ingest("none", 2.0)
    assert msgs and all(m.kind == VIDEO for m in msgs)


def test_g711_to_aac_times_follow_the_input() -> None:
    t = G711ToAac("pcm_alaw")
    out: list[tuple[int, bytes]] = []
    for i in range(100):  # 2 s of 20 ms frames from 90 kHz time 9000
        out += t.push(b"\xd5" * 160, 9000 + i * 1800)
    assert len(out) >= 12 and t.dropped == 0
    assert out[0][1][:2] == b"\xff\xf1"  # ADTS
    assert out[0][0] >= 9000 - 1024 * 90000 // 8000
    times = [p for p, _ in out]
    assert times == sorted(times) and times[-1] < 9000 + 2 * 90000
    out = t.push(b"\xd5" * 160, 9000 + 100 * 90000)  # a 100 s jump: a new clock, no crash
    assert t.dropped == 0


def test_rtp_parsing() -> None:
    pkt = rtp_packets(b"payload", 40, 7, 0x01020304)[0]
    assert parse_rtp(pkt) == (0x01020304, b"payload")
    rtcp = bytes((0x80, 200, 0, 6)) + (5).to_bytes(4, "big") + bytes(20)
    assert parse_rtp(rtcp) == (5, b"")
    ext = bytes((0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9)) + b"\xbe\xde\x00\x01" + b"xxxx" + b"ps"
    assert parse_rtp(ext) == (9, b"ps")
    padded = bytes((0xA0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9)) + b"ps" + b"\x00\x00\x03"
    assert parse_rtp(padded) == (9, b"ps")
    assert parse_rtp(b"\x00" * 12) is None
    assert parse_rtp(bytes((0x90, 96)) + bytes(10)) is None
    assert parse_rtp(bytes((0xA0, 96)) + bytes(9) + b"\xff") is None
