"""RTSP publish path, sans-IO: RtspWire's RTP (what an RTSP player gets) back through RtspIngest
(what an RTSP publisher sends) gives the clip's frames, sequence headers and A/V timing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from srs.format.flv import AudioCodec, VideoCodec, parse_audio
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.protocol.rtc.rtp import RtpPacket
from srs.protocol.rtsp.sdp import audio_track, describe, parse_announce, video_track
from srs.remux.rtc_out import split_frames
from srs.remux.rtsp_in import RtspIngest, aac_units, plain
from srs.remux.rtsp_out import RtspWire, aac_payloads
from srs.util.errors import ParseError
from unit.codec.samples import audio_sh, clip_tags, video_sh


def _announced() -> list:
    tags = clip_tags("bbb.flv")
    a = audio_track(audio_sh(tags).body)
    v = video_track(video_sh(tags).body)
    assert a is not None and v is not None
    sdp = describe("rtsp://h/live/x", [replace(a, control="trackID=0"), replace(v, control="trackID=1")])
    return parse_announce(sdp)


def test_aac_units() -> None:
    ((p, _),) = aac_payloads(b"\x05" * 10)
    assert aac_units(p) == [(b"\x05" * 10, 10)]
    two = b"\x00\x20" + bytes((0, 2 << 3, 0, 3 << 3)) + b"ab" + b"cde"
    assert aac_units(two) == [(b"ab", 2), (b"cde", 3)]
    frag, _ = aac_payloads(b"\x07" * 3000, limit=1000)[0]
    assert aac_units(frag) == [(b"\x07" * 1000, 3000)]


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x10\x00", b"\x00\x11\x00\x00", b"\x00\x10\x00\x50"])
def test_bad_aac_payloads(data: bytes) -> None:
    with pytest.raises(ParseError):
        aac_units(data)


def test_wire_to_ingest_round_trip() -> None:
    tags = clip_tags("bbb.flv")
    audio, video = _announced()
    ingest = RtspIngest(video, audio)
    wire = RtspWire("h264")
    out: list[MediaMessage] = []
    sent_video = sent_audio = 0
    now = 0
    for t in tags:
        kind = VIDEO if t.tag_type == 9 else AUDIO if t.tag_type == 8 else 0
        if not kind or t.timestamp > 6000:
            continue
        now = t.timestamp
        data = wire.encode(MediaMessage(kind, t.timestamp, t.body))
        for pkt in split_frames(data):
            p = RtpPacket.parse(pkt)
            out += ingest.on_rtp("video" if p.payload_type == 96 else "audio", p, now)
        if kind == VIDEO and len(t.body) > 5 and t.body[1] == 1:
            sent_video += 1
        if kind == AUDIO and t.body[1] == 1:
            sent_audio += 1
    out += ingest.poll(now + 1000) + ingest.flush()
    out = plain(out)
    vsh = [m for m in out if m.kind == VIDEO and m.sequence_header]
    ash = [m for m in out if m.kind == AUDIO and m.sequence_header]
    frames = [m for m in out if m.kind == VIDEO and not m.sequence_header]
    aac = [m for m in out if m.kind == AUDIO and not m.sequence_header]
    assert len(vsh) == 1 and vsh[0].codec == VideoCodec.AVC and vsh[0].payload == video_sh(tags).body
    assert len(ash) == 1 and ash[0].payload == audio_sh(tags).body
    assert frames[0].keyframe and len(frames) >= sent_video - 2
    assert len(aac) >= sent_audio - 5 and all(m.rtp is None for m in aac)
    assert parse_audio(aac[0].payload).codec == AudioCodec.AAC
    # timestamps advance with the clip (presentation order: within a GOP's reordering of it)
    assert frames[-1].timestamp + 200 >= 5000 and aac[-1].timestamp <= 6100


def test_hevc_describe_wire_and_ingest() -> None:
    """H.265: sprop-vps/sps/pps in the SDP, RFC 7798 packets, and back to an hvc1 sequence header."""
    tags = clip_tags("hevc.flv")
    v = video_track(video_sh(tags).body)
    assert v is not None and v.codec == "H265"
    assert all(f"sprop-{k}=" in v.fmtp for k in ("vps", "sps", "pps"))
    (video,) = parse_announce(describe("rtsp://h/live/x", [replace(v, control="trackID=0")]))
    ingest = RtspIngest(video, None)
    wire = RtspWire("h265")
    out: list[MediaMessage] = []
    for t in tags:
        if t.tag_type != 9 or t.timestamp > 3000:
            continue
        for pkt in split_frames(wire.encode(MediaMessage(VIDEO, t.timestamp, t.body))):
            out += ingest.on_rtp("video", RtpPacket.parse(pkt), t.timestamp)
    out += ingest.flush()
    assert out[0].sequence_header and out[0].codec == VideoCodec.HEVC
    frames = [m for m in out if not m.sequence_header]
    assert frames[0].keyframe and len(frames) > 30


def test_opus_track() -> None:
    from srs.format.flv import audio_body

    t = audio_track(audio_body(AudioCodec.OPUS, 1, b"\xfc\xff\xfe", enhanced=True))
    assert t is not None and (t.codec, t.clock, t.channels) == ("opus", 48000, 2)
