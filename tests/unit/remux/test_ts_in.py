"""TS in -> media messages: ffmpeg/PyAV-made TS of the shared clips against the clips themselves,
TsWire round trips, garbage and loss, the 33-bit wrap and discontinuities, audio-only and MP3."""

from __future__ import annotations

import random
import subprocess
from functools import cache
from pathlib import Path

import av
import pytest

from srs.codec import aac, h264
from srs.codec.nalu import to_annexb
from srs.format import flv, ts
from srs.format.ts import StreamType, TsMuxer, TsStream
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.remux.rtmp import media_from_rtmp
from srs.remux.ts import TsWire, stream_types
from srs.remux.ts_in import TsIngest
from support.media import SHARED, clip

SPS = bytes.fromhex("6764001facd9405005bb011000000300100000030320f1831960")
PPS = bytes.fromhex("68ebe3cb22c0")
IDR = b"\x65" + bytes(range(1, 41))
P = b"\x41" + bytes(range(1, 21))
ASC = aac.build_asc(2, 44100, 2)


@cache
def ts_of(name: str) -> bytes:
    """The clip remuxed to TS: ffmpeg for H.264, PyAV for hevc.flv (Debian's ffmpeg 5.1 cannot read it)."""
    src = SHARED / name if name == "hevc.flv" else clip(name)
    if name != "hevc.flv":
        return subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(src), "-c", "copy", "-f", "mpegts", "-"],
            check=True,
            capture_output=True,
        ).stdout
    out = Path(f"/tmp/srs-test-ts-in-{name}.{random.randrange(1 << 30)}.ts")
    with av.open(str(src)) as inp, av.open(str(out), "w", format="mpegts") as dst:
        streams = {
            s.index: dst.add_stream_from_template(s) for s in inp.streams if s.type in ("audio", "video")
        }
        for pkt in inp.demux():
            if pkt.dts is None or pkt.stream.index not in streams:
                continue
            pkt.stream = streams[pkt.stream.index]
            dst.mux(pkt)
    data = out.read_bytes()
    out.unlink()
    return data


def source_messages(name: str) -> list[MediaMessage]:
    path = SHARED / name if name == "hevc.flv" else clip(name)
    _, tags = flv.parse_file(Path(path).read_bytes())
    out = [media_from_rtmp(t.tag_type, t.timestamp, t.body) for t in tags if t.tag_type in (8, 9)]
    return [m for m in out if m is not None]


def feed_chunks(ing: TsIngest, data: bytes, seed: int = 1) -> list[MediaMessage]:
    r = random.Random(seed)
    out: list[MediaMessage] = []
    i = 0
    while i < len(data):
        n = r.randint(1, 4000)
        out += ing.feed(data[i : i + n])
        i += n
    return out + ing.flush()


def frames(msgs: list[MediaMessage], kind: int) -> list[MediaMessage]:
    return [m for m in msgs if m.kind == kind and not m.sequence_header]


def coded(msgs: list[MediaMessage]) -> list[MediaMessage]:
    return [m for m in frames(msgs, VIDEO) if flv.parse_video(m.payload).packet_type in (1, 3)]


def cts(m: MediaMessage) -> int:
    return flv.parse_video(m.payload).composition_time_ms


def check_classification(msgs: list[MediaMessage]) -> None:
    for m in msgs:
        c = media_from_rtmp(m.kind, m.timestamp, m.payload)
        assert c is not None
        assert (c.keyframe, c.sequence_header, c.codec) == (m.keyframe, m.sequence_header, m.codec)


@pytest.mark.parametrize("name", ["bbb.flv", "avatar.flv", "hevc.flv"])
def test_clip_through_ts_matches_the_clip(name: str) -> None:
    src = source_messages(name)
    ing = TsIngest()
    out = feed_chunks(ing, ts_of(name), seed=len(name))
    check_classification(out)
    times = [m.timestamp for m in out]
    assert times == sorted(times)  # interleaved in time order (the TS has audio ahead of video)
    assert ing.stats.errors == 0
    # Sequence headers first, video then audio, at 0; then a keyframe at 0.
    assert [(m.kind, m.sequence_header, m.timestamp) for m in out[:2]] == [(VIDEO, True, 0), (AUDIO, True, 0)]
    assert out[2].keyframe and out[2].timestamp == 0
    sv, ov = coded(src), frames(out, VIDEO)
    first = next(i for i, m in enumerate(sv) if m.keyframe)
    sv = sv[first:]
    base = sv[0].timestamp
    assert len(ov) == len(sv)
    assert [m.keyframe for m in ov] == [m.keyframe for m in sv]
    assert [m.timestamp for m in ov] == [m.timestamp - base for m in sv]
    assert [cts(m) for m in ov] == [cts(m) for m in sv]  # B-frames in avatar.flv
    if name == "avatar.flv":
        assert any(cts(m) for m in ov)
    sa = [m for m in frames(src, AUDIO) if m.timestamp >= base]
    oa = frames(out, AUDIO)
    # The priming frame PyAV's FLV has at 0 may be dropped (before the keyframe): compare the tail.
    assert abs(len(oa) - len(sa)) <= 1
    for o, s in zip(reversed(oa), reversed(sa), strict=False):
        assert abs(o.timestamp - (s.timestamp - base)) <= 1
        assert o.payload[2:] == s.payload[2:]
    assert {m.codec for m in ov} == {flv.VideoCodec.HEVC if name == "hevc.flv" else flv.VideoCodec.AVC}


def test_tswire_round_trip() -> None:
    src = source_messages("avatar.flv")
    wire = TsWire(*stream_types(src))
    data = wire.preamble + b"".join(wire.encode(m) for m in src)
    out = feed_chunks(TsIngest(), data, seed=7)
    check_classification(out)
    sv = coded(src)
    ov = frames(out, VIDEO)
    assert [(m.timestamp, m.keyframe, cts(m)) for m in ov] == [(m.timestamp, m.keyframe, cts(m)) for m in sv]
    # The NAL units come back (TsWire adds an AUD and parameter sets; we take them out again).
    assert [m.payload for m in ov[1:]] == [m.payload for m in sv[1:]]
    assert [m.payload for m in frames(out, AUDIO)] == [m.payload for m in frames(src, AUDIO)]


def test_garbage_and_packet_loss() -> None:
    data = ts_of("bbb.flv")
    r = random.Random(5)
    pkts = [data[i : i + 188] for i in range(0, len(data), 188)]
    mangled = bytearray()
    lost = 0
    for p in pkts:
        if r.random() < 0.05:
            lost += 1
            continue
        if r.random() < 0.01:
            mangled += bytes(r.randrange(256) for _ in range(r.randint(1, 300)))
        mangled += p
    ing = TsIngest()
    out = feed_chunks(ing, bytes(mangled), seed=3)
    check_classification(out)
    assert lost > 50 and ing.stats.dropped > 0 and ing.stats.errors > 0
    # A PES that lost a packet is dropped: bbb's keyframes span ~50 packets, so at 5% loss most are
    # lost and the video waits for an intact one; ffmpeg packs several AAC frames per PES.
    v = frames(out, VIDEO)
    a = frames(out, AUDIO)
    assert 150 < len(a) < 429 and len(v) < 250
    assert out[0].sequence_header
    for kind in (VIDEO, AUDIO):
        times = [m.timestamp for m in out if m.kind == kind]
        assert times == sorted(times)
    assert a[-1].timestamp > 9000  # the timeline goes on through the losses
    # With intact keyframes (loss of non-first packets of delta frames only), video goes on too.
    keep = bytearray()
    r = random.Random(6)
    for p in pkts:
        pid = (p[1] & 0x1F) << 8 | p[2]
        if pid == ts.VIDEO_PID and not p[1] & 0x40 and r.random() < 0.05 and len(keep) > 188 * 200:
            continue
        keep += p
    ing = TsIngest()
    v = frames(feed_chunks(ing, bytes(keep)), VIDEO)
    assert v[0].keyframe and v[0].timestamp == 0 and 150 < len(v) < 250 and ing.stats.dropped > 0
    times = [m.timestamp for m in v]
    assert times == sorted(times) and times[-1] > 9000


def _h264_program(
    times: list[tuple[int, bool]], *, audio: bool = True, start: int = 0
) -> tuple[TsMuxer, bytes]:
    streams = [TsStream(ts.VIDEO_PID, StreamType.H264)]
    if audio:
        streams.append(TsStream(ts.AUDIO_PID, StreamType.AAC))
    mux = TsMuxer(streams)
    out = bytearray(mux.tables())
    cfg = aac.parse_asc(ASC)
    for t, key in times:
        pts = (start + t * 90) % ts.MAX_PTS
        body = to_annexb([SPS, PPS, IDR] if key else [P])
        out += mux.frame(ts.VIDEO_PID, body, pts, pts, key=key)
        if audio:
            out += mux.frame(ts.AUDIO_PID, aac.build_adts(cfg, 10) + b"\x21" * 10, pts)
    return mux, bytes(out)


def test_33_bit_wrap_is_continuous() -> None:
    times = [(i * 40, i % 10 == 0) for i in range(50)]
    _, data = _h264_program(times, start=ts.MAX_PTS - 900 * 90)  # wraps after 900 ms
    out = feed_chunks(TsIngest(), data)
    assert [m.timestamp for m in frames(out, VIDEO)] == [t for t, _ in times]
    assert [m.timestamp for m in frames(out, AUDIO)] == [t for t, _ in times]


def test_a_jump_or_the_discontinuity_indicator_rebases_the_timeline() -> None:
    times = [(i * 40, i % 10 == 0) for i in range(20)] + [(60000 + i * 40, i % 10 == 0) for i in range(20)]
    _, data = _h264_program(times)
    ing = TsIngest()
    out = feed_chunks(ing, data)
    v = [m.timestamp for m in frames(out, VIDEO)]
    assert v == [i * 40 for i in range(20)] + [760 + i * 40 for i in range(20)]
    assert ing.stats.discontinuities == 1
    # A small step back with the discontinuity indicator set on the keyframe's first packet.
    times = [(i * 40, i % 10 == 0) for i in range(20)] + [(100 + i * 40, i % 10 == 0) for i in range(20)]
    _, data = _h264_program(times, audio=False)
    pkts = bytearray(data)
    key_at = 2 + 20  # PAT, PMT, then 20 frames of one packet each before the 2nd run
    for k in range(len(pkts) // 188):
        p = pkts[k * 188 : (k + 1) * 188]
        if ((p[1] & 0x1F) << 8 | p[2]) == ts.VIDEO_PID and p[1] & 0x40:
            key_at -= 1
            if key_at == 1:  # the first frame of the second run (PAT/PMT counted above)
                assert p[3] & 0x20 and p[5] & 0x40
                pkts[k * 188 + 5] |= 0x80
    ing = TsIngest()
    v = [m.timestamp for m in frames(feed_chunks(ing, bytes(pkts)), VIDEO)]
    assert ing.stats.discontinuities == 1
    assert v == [i * 40 for i in range(20)] + [760 + i * 40 for i in range(20)]


def test_audio_before_the_first_keyframe_is_dropped_and_video_waits_for_audio() -> None:
    times = [(i * 40, i == 5) for i in range(40)]
    _, data = _h264_program(times)
    ing = TsIngest()
    out = feed_chunks(ing, data)
    assert [(m.kind, m.sequence_header) for m in out[:3]] == [(VIDEO, True), (AUDIO, True), (VIDEO, False)]
    assert frames(out, AUDIO)[0].timestamp == 0 and frames(out, VIDEO)[0].timestamp == 0
    assert len(frames(out, VIDEO)) == 35 and len(frames(out, AUDIO)) == 35


def test_video_only_and_audio_only() -> None:
    _, data = _h264_program([(i * 40, i % 10 == 0) for i in range(30)], audio=False)
    out = feed_chunks(TsIngest(), data)
    assert not frames(out, AUDIO) and len(frames(out, VIDEO)) == 30 and out[0].sequence_header
    mux = TsMuxer([TsStream(ts.AUDIO_PID, StreamType.AAC)])
    cfg = aac.parse_asc(ASC)
    frame = aac.build_adts(cfg, 10) + b"\x21" * 10
    # Three ADTS frames per PES, every 3 * 1024 samples: each is timed by its sample count.
    data = mux.tables() + b"".join(
        mux.frame(ts.AUDIO_PID, frame * 3, i * 3 * 1024 * 90000 // 44100) for i in range(10)
    )
    out = feed_chunks(TsIngest(), data)
    assert out[0].sequence_header and out[0].payload == bytes((0xAF, 0)) + ASC
    a = frames(out, AUDIO)
    assert [m.timestamp for m in a] == [i * 1024 * 1000 // 44100 for i in range(30)]


def test_mp3() -> None:
    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, stereo: 417-byte frames of 1152 samples.
    head = bytes.fromhex("fffb9000")
    frame = head + bytes(413)
    mux = TsMuxer([TsStream(ts.AUDIO_PID, StreamType.MP3)])
    data = mux.tables() + b"".join(
        mux.frame(ts.AUDIO_PID, frame * 2, i * 2 * 1152 * 90000 // 44100) for i in range(5)
    )
    out = feed_chunks(TsIngest(), data)
    check_classification(out)
    assert len(out) == 10 and all(m.codec == flv.AudioCodec.MP3 for m in out)
    assert [m.timestamp for m in out] == [i * 1152 * 1000 // 44100 for i in range(10)]
    assert out[0].payload[1:] == frame


def test_frames_before_parameter_sets_and_unknown_streams_are_dropped() -> None:
    mux = TsMuxer([TsStream(ts.VIDEO_PID, StreamType.H264), TsStream(0x102, 0x06)])
    data = mux.tables() + mux.frame(ts.VIDEO_PID, to_annexb([P]), 0, 0)
    data += mux.frame(0x102, b"private", 0)
    data += mux.frame(ts.VIDEO_PID, to_annexb([SPS, PPS, IDR]), 3600, 3600, key=True)
    ing = TsIngest()
    out = feed_chunks(ing, data)
    assert [(m.sequence_header, m.keyframe) for m in out] == [(True, True), (False, True)]
    assert out[0].payload == bytes((0x17, 0, 0, 0, 0)) + h264.build_avc_config(SPS, PPS)
    assert ing.stats.dropped == 1


def test_audio_only_start_then_video_joins_at_a_keyframe() -> None:
    # Video announced, parameter sets known, but the first keyframe comes after keyframe_wait_ms of audio.
    mux = TsMuxer([TsStream(ts.VIDEO_PID, StreamType.H264), TsStream(ts.AUDIO_PID, StreamType.AAC)])
    cfg = aac.parse_asc(ASC)
    data = bytearray(mux.tables())
    for i in range(60):
        t = i * 40 * 90
        body = to_annexb([SPS, PPS, P] if i == 0 else [SPS, PPS, IDR] if i == 40 else [P])
        data += mux.frame(ts.VIDEO_PID, body, t, t, key=i == 40)
        data += mux.frame(ts.AUDIO_PID, aac.build_adts(cfg, 10) + b"\x21" * 10, t)
    ing = TsIngest(keyframe_wait_ms=1000)
    out = feed_chunks(ing, bytes(data))
    v = frames(out, VIDEO)
    assert v[0].keyframe and len(v) == 20 and v[0].timestamp == 1600
    assert frames(out, AUDIO)[0].timestamp == 0
    assert [m.kind for m in out if m.sequence_header] == [AUDIO, VIDEO]
    times = [m.timestamp for m in out]
    assert times == sorted(times)
