"""Fuzz the RTMP -> WebRTC wire: whatever audio/video messages come, ``RtpWire.encode`` never raises
and what it returns is well-framed RTP. Seeds: real sequence headers and frames of the shared clips,
then random bytes behind real tag headers (so the parsers, packetizers, B-slice checks and the AAC
decoder see plausible garbage, not just a rejected first byte)."""

from __future__ import annotations

import os
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srs.format.flv import AudioCodec, VideoCodec
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.protocol.rtc.rtp import RtpPacket
from srs.remux.rtc_out import AUDIO_SSRC, VIDEO_SSRC, RtpWire, split_frames
from unit.remux.rtc_media import clip_messages

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Tag headers random bodies go behind: AVC/HEVC (legacy 12 and E-RTMP hvc1) frames and sequence
# headers, AAC raw frames and sequence headers, MP3, Opus (SRS id 13 and E-RTMP), Speex.
VIDEO_HEADS = [
    b"\x17\x01\x00\x00\x00",
    b"\x27\x01\x00\x00\x00",
    b"\x17\x00\x00\x00\x00",
    b"\x1c\x01\x00\x00\x00",
    b"\x2c\x01\x00\x00\x00",
    b"\x91hvc1\x00\x00\x00",
    b"\xa1hvc1\x00\x00\x00",
    b"\xa3hvc1",
    b"\x90hvc1",
    b"",
]
AUDIO_HEADS = [b"\xaf\x01", b"\xaf\x00", b"\x2f", b"\xd2", b"\x91Opus", b"\xb2", b""]


@cache
def _seeds() -> tuple[tuple[MediaMessage, ...], tuple[MediaMessage, ...]]:
    """(H.264 clip messages, HEVC clip messages): sequence headers first, then a few frames."""
    out = []
    for name in ("bbb.flv", "hevc.flv"):
        msgs = clip_messages(name)
        heads = [m for m in msgs if m.sequence_header]
        frames = [m for m in msgs if not m.sequence_header][:12]
        out.append(tuple(heads + frames))
    return out[0], out[1]


def _codec(kind: int, head: bytes) -> int:
    if kind == VIDEO:
        return VideoCodec.HEVC if b"hvc1" in head or head[:1] in (b"\x1c", b"\x2c") else VideoCodec.AVC
    return {
        b"\xaf": AudioCodec.AAC,
        b"\x2f": AudioCodec.MP3,
        b"\xd2": AudioCodec.OPUS,
        b"\x91": AudioCodec.OPUS,
    }.get(head[:1], AudioCodec.SPEEX)


@st.composite
def messages(draw: st.DrawFn) -> MediaMessage:
    kind = draw(st.sampled_from([AUDIO, VIDEO]))
    head = draw(st.sampled_from(VIDEO_HEADS if kind == VIDEO else AUDIO_HEADS))
    body = head + draw(st.binary(max_size=300))
    rtp = draw(st.none() | st.tuples(*[st.binary(max_size=40)] * draw(st.integers(0, 4))))
    return MediaMessage(
        kind,
        draw(st.integers(0, 2**40)),
        body,
        keyframe=draw(st.booleans()),
        sequence_header=draw(st.booleans()),
        codec=draw(st.sampled_from([_codec(kind, head), 0, 7, 12, 10, 2, 13, 99])),
        rtp=rtp,
    )


@FUZZ
@given(codec=st.sampled_from(["h264", "h265"]), msgs=st.lists(messages(), max_size=12), seeded=st.booleans())
def test_encode_never_raises(codec: str, msgs: list[MediaMessage], seeded: bool) -> None:
    w = RtpWire(codec, keep_sei=seeded, keep_bframe=not seeded)
    h264_seed, hevc_seed = _seeds()
    prefix = list(h264_seed if codec == "h264" else hevc_seed) if seeded else []
    for m in prefix + msgs:
        out = w.encode(m)
        assert isinstance(out, bytes)
        for raw in split_frames(out):
            p = RtpPacket.parse(raw)
            assert p.ssrc in (VIDEO_SSRC, AUDIO_SSRC)
            assert w.retransmit(p.ssrc, p.sequence_number) == raw
        assert sum(2 + len(r) for r in split_frames(out)) == len(out)
