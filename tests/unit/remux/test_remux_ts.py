"""Media messages -> TS: Annex B with parameter sets before keyframes, ADTS, timestamps."""

from __future__ import annotations

from srs.codec import aac, h264
from srs.codec.nalu import split_annexb, to_avcc
from srs.format import ts
from srs.format.ts import TsDemuxer
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.remux.ts import TsRemuxer, stream_types

SPS = bytes.fromhex("6764001facd9405005bb011000000300100000030320f1831960")
PPS = bytes.fromhex("68ebe3cb22c0")
IDR = b"\x65" + bytes(range(1, 41))
P = b"\x41" + bytes(range(1, 21))


def video(ts_ms: int, body: bytes, *, key: bool = False, seq: bool = False, cts: int = 0) -> MediaMessage:
    head = bytes(((0x10 if key or seq else 0x20) | 7, 0 if seq else 1)) + cts.to_bytes(3, "big", signed=True)
    return MediaMessage(VIDEO, ts_ms, head + body, keyframe=key, sequence_header=seq, codec=7)


def audio(ts_ms: int, body: bytes, *, seq: bool = False) -> MediaMessage:
    return MediaMessage(AUDIO, ts_ms, bytes((0xAF, 0 if seq else 1)) + body, sequence_header=seq, codec=10)


def test_h264_and_aac_to_ts() -> None:
    avcc = bytes(h264.build_avc_config(sps=SPS, pps=PPS))
    asc = aac.build_asc(2, 44100, 2)
    msgs = [
        video(0, avcc, seq=True),
        audio(0, asc, seq=True),
        video(0, to_avcc([IDR]), key=True, cts=80),
        audio(23, b"\x21" * 100),
        video(40, to_avcc([P])),
    ]
    assert stream_types(msgs) == (ts.StreamType.H264, ts.StreamType.AAC)
    r = TsRemuxer(*stream_types(msgs))
    out = r.tables() + b"".join(r.encode(m) for m in msgs)
    d = TsDemuxer()
    frames = d.feed(out) + d.flush()
    assert d.errors == 0
    v = [f for f in frames if f.pid == ts.VIDEO_PID]
    a = [f for f in frames if f.pid == ts.AUDIO_PID]
    assert [(f.pts, f.dts) for f in v] == [(80 * 90, 0), (40 * 90, 40 * 90)]
    assert split_annexb(v[0].payload) == [b"\x09\xf0", SPS, PPS, IDR]  # AUD, parameter sets, IDR
    assert split_annexb(v[1].payload) == [b"\x09\xf0", P]
    assert v[0].random_access and not v[1].random_access
    header = aac.parse_adts(a[0].payload)
    assert a[0].pts == 23 * 90 and header.frame_length == 107 and a[0].payload[7:] == b"\x21" * 100


def test_frames_before_their_sequence_header_and_other_codecs_are_left_out() -> None:
    r = TsRemuxer(ts.StreamType.H264, ts.StreamType.AAC)
    assert r.encode(audio(0, b"\x21" * 10)) == b""  # no ASC yet: no ADTS possible
    vp6 = MediaMessage(VIDEO, 0, b"\x14" + bytes(10), codec=4)
    assert r.encode(vp6) == b""
    assert r.encode(MediaMessage(VIDEO, 0, b"\x17\x01")) == b""  # truncated: dropped, no error


def test_stream_types_settle_when_both_kinds_came_or_a_second_passed() -> None:
    from srs.remux.ts import settle_stream_types

    avcc = bytes(h264.build_avc_config(sps=SPS, pps=PPS))
    vsh = video(0, avcc, seq=True)
    mp3 = MediaMessage(AUDIO, 30, b"\x2f\xff\xfb\x90\x64" + bytes(10), codec=2)
    assert settle_stream_types([vsh]) is None  # nothing coded yet
    assert settle_stream_types([vsh, video(0, to_avcc([IDR]), key=True)]) is None  # MP3 may still come
    assert settle_stream_types([vsh, video(0, to_avcc([IDR]), key=True), mp3]) == (
        ts.StreamType.H264,
        ts.StreamType.MP3,
    )
    alone = [vsh, video(0, to_avcc([IDR]), key=True), video(1000, to_avcc([P]))]
    assert settle_stream_types(alone) == (ts.StreamType.H264, None)  # a second of video only
