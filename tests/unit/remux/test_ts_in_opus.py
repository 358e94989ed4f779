"""Opus in TS -> AAC in the Source: FFmpeg 5.1's own TS (audio only, H.264 + Opus), TS our muxer makes
of libopus packets (stereo, no channel descriptor, unsupported channel configs), broken access units and
lost PES. The AAC is decoded back with FFmpeg's decoder to check it is the sine that went in."""

from __future__ import annotations

import array
import itertools
import subprocess
from functools import cache

import av

from srs.codec import aac, h264
from srs.codec.nalu import to_annexb
from srs.format import flv, ts
from srs.format.flv import AudioCodec
from srs.format.ts import StreamType, TsMuxer, TsStream
from srs.format.ts_opus import OpusAccessUnit, descriptors, pack_access_units
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.remux.ts_in import TsIngest
from unit.remux.test_opus2aac import sine_opus as opus_packets
from unit.remux.test_ts_in import IDR, PPS, SPS, P, check_classification, feed_chunks, frames

AAC_MS = 1024 / 48  # one AAC frame at 48 kHz


@cache
def ffmpeg_ts(video: bool, seconds: int = 2) -> bytes:
    """What `ffmpeg -c:a libopus -f mpegts` writes (with `-c:v libx264 -g 25` when ``video``)."""
    args = ["ffmpeg", "-v", "error"]
    if video:
        args += ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25"]
    args += ["-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", str(seconds)]
    if video:
        args += ["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "libopus", "-f", "mpegts", "-"]
    return subprocess.run(args, check=True, capture_output=True).stdout


def opus_ts(
    es_info: bytes,
    packets: tuple[bytes, ...],
    *,
    per_pes: int = 5,
    video: bool = False,
    skip_pes: frozenset[int] = frozenset(),
    corrupt_pes: frozenset[int] = frozenset(),
) -> bytes:
    """Our muxer's TS: ``per_pes`` 20 ms Opus AUs per PES (FFmpeg puts 5), H.264 every 40 ms if ``video``."""
    streams = [TsStream(ts.AUDIO_PID, StreamType.PRIVATE_PES, es_info)]
    if video:
        streams.insert(0, TsStream(ts.VIDEO_PID, StreamType.H264))
    mux = TsMuxer(streams)
    out = bytearray(mux.tables())
    groups = [packets[i : i + per_pes] for i in range(0, len(packets), per_pes)]
    vt = 0  # the next video frame's time (ms)
    for n, group in enumerate(groups):
        t = n * per_pes * 20
        while video and vt < t + per_pes * 20:
            key = vt % 1000 == 0
            out += mux.frame(
                ts.VIDEO_PID, to_annexb([SPS, PPS, IDR] if key else [P]), vt * 90, vt * 90, key=key
            )
            vt += 40
        payload = pack_access_units([OpusAccessUnit(p) for p in group])
        if n in corrupt_pes:
            payload = payload[:3] + b"\x7f\x00" + payload[5:]  # the 2nd AU's header prefix is gone
        if n not in skip_pes:
            out += mux.frame(ts.AUDIO_PID, payload, t * 90)
    return bytes(out)


def audio_config(msgs: list[MediaMessage]) -> aac.AacConfig:
    sh = [m for m in msgs if m.kind == AUDIO and m.sequence_header]
    assert len(sh) == 1 and sh[0].payload[:2] == b"\xaf\x00"
    return aac.parse_asc(sh[0].payload[2:])


def decode(msgs: list[MediaMessage]) -> tuple[int, int, int]:
    """(samples, channels, peak s16) of the AAC messages, decoded with their sequence header."""
    dec = av.CodecContext.create("aac", "r")
    assert isinstance(dec, av.AudioCodecContext)
    dec.extradata = next(m.payload[2:] for m in msgs if m.kind == AUDIO and m.sequence_header)
    dec.open()
    to_s16 = av.AudioResampler(format="s16", layout="mono", rate=48000)
    total = peak = channels = 0
    for m in frames(msgs, AUDIO):
        for frame in dec.decode(av.Packet(m.payload[2:])):
            total += frame.samples
            channels = frame.layout.nb_channels
            frame.pts = None
            for r in to_s16.resample(frame):
                pcm = array.array("h", bytes(r.planes[0])[: r.samples * 2])
                peak = max(peak, max(abs(x) for x in pcm))
    return total, channels, peak


def check_aac_timeline(msgs: list[MediaMessage], start: int = 0) -> None:
    a = frames(msgs, AUDIO)
    assert all(m.codec == AudioCodec.AAC and m.payload[:2] == b"\xaf\x01" for m in a)
    assert a[0].timestamp >= start
    assert all(y.timestamp - x.timestamp in (21, 22) for x, y in itertools.pairwise(a))


def test_ffmpeg_audio_only_opus_publishes_aac() -> None:
    ing = TsIngest()
    out = feed_chunks(ing, ffmpeg_ts(video=False))
    check_classification(out)
    assert ing.audio_codec() == "opus" and ing.video_codec() is None
    assert out[0].kind == AUDIO and out[0].sequence_header and out[0].timestamp == 0
    cfg = audio_config(out)
    assert (cfg.object_type, cfg.sample_rate, cfg.channels) == (2, 48000, 1)  # channel_config_code 1
    assert not frames(out, VIDEO)
    check_aac_timeline(out)
    a = frames(out, AUDIO)
    assert a[0].timestamp == 0
    assert abs(len(a) - 2 * 48000 / 1024) <= 3  # 2 s of audio
    samples, channels, peak = decode(out)
    assert channels == 1 and peak > 1000 and abs(samples - 2 * 48000) <= 3 * 1024
    assert ing.stats.dropped == 0 and ing.stats.errors == 0


def test_ffmpeg_h264_and_opus_start_at_a_keyframe_with_both() -> None:
    ing = TsIngest()
    out = feed_chunks(ing, ffmpeg_ts(video=True))
    check_classification(out)
    assert (ing.video_codec(), ing.audio_codec()) == ("h264", "opus")
    assert [(m.kind, m.sequence_header) for m in out[:2]] == [(VIDEO, True), (AUDIO, True)]
    v, a = frames(out, VIDEO), frames(out, AUDIO)
    assert v[0].keyframe and v[0].timestamp == 0 and len(v) == 50
    assert sum(m.keyframe for m in v) == 2  # -g 25
    times = [m.timestamp for m in out]
    assert times == sorted(times)
    check_aac_timeline(out)
    assert a[0].timestamp < 100 and abs(a[-1].timestamp - v[-1].timestamp) < 200
    assert abs(len(a) - 2 * 48000 / 1024) <= 6
    assert decode(out)[2] > 1000


def test_stereo_from_our_muxer_timed_by_the_pes_pts() -> None:
    packets = opus_packets("stereo")
    ing = TsIngest()
    out = feed_chunks(ing, opus_ts(descriptors(2), packets))
    assert audio_config(out).channels == 2
    check_aac_timeline(out)
    samples, channels, peak = decode(out)
    assert channels == 2 and peak > 1000
    assert abs(samples - len(packets) * 960) <= 3 * 1024
    assert ing.stats.audio_frames == len(frames(out, AUDIO))


def test_without_a_channel_descriptor_the_toc_tells_stereo() -> None:
    out = feed_chunks(TsIngest(), opus_ts(b"\x05\x04Opus", opus_packets("stereo"), per_pes=1))
    assert audio_config(out).channels == 2
    check_aac_timeline(out)


def test_with_video_the_aac_follows_the_video_clock() -> None:
    ing = TsIngest()
    out = feed_chunks(ing, opus_ts(descriptors(1), opus_packets("mono"), video=True))
    check_classification(out)
    v = frames(out, VIDEO)
    assert v[0].keyframe and [m.timestamp for m in v] == [i * 40 for i in range(53)]  # 101 AUs: 21 PES
    assert [(m.kind, m.sequence_header) for m in out[:2]] == [(VIDEO, True), (AUDIO, True)]
    a = frames(out, AUDIO)
    assert a[0].timestamp <= 22  # the first AAC frame starting at or after the keyframe
    check_aac_timeline(out)
    assert abs(a[-1].timestamp - v[-1].timestamp) < 100


def test_unsupported_channel_configs_and_non_opus_private_pes_are_ignored() -> None:
    for es_info in (descriptors(0), descriptors(6), descriptors(0x80), b"\x05\x04AC-3", b""):
        ing = TsIngest()
        out = feed_chunks(ing, opus_ts(es_info, opus_packets("mono", 0.4), video=True))
        assert ing.audio_codec() is None
        assert not [m for m in out if m.kind == AUDIO]
        assert len(frames(out, VIDEO)) == 13 and out[0].payload[5:] == h264.build_avc_config(SPS, PPS)


def test_a_broken_access_unit_drops_the_rest_of_its_pes_and_a_lost_pes_is_a_hole() -> None:
    packets = opus_packets("mono")
    ing = TsIngest()
    out = feed_chunks(
        ing, opus_ts(descriptors(1), packets, corrupt_pes=frozenset({3}), skip_pes=frozenset({6}))
    )
    assert ing.stats.dropped == 1
    # The holes (4 AUs of PES 3, all of PES 6) are filled with silence: the AAC clock goes on.
    check_aac_timeline(out)
    a = frames(out, AUDIO)
    assert abs(a[-1].timestamp - 2000) < 100


def test_opus_packets_that_do_not_decode_are_counted() -> None:
    good = opus_packets("mono", 0.4)
    bad = tuple(b"\xf8" + bytes(range(7, 7 + 40)) if i % 3 == 1 else p for i, p in enumerate(good))
    ing = TsIngest()
    out = feed_chunks(ing, opus_ts(descriptors(1), bad))
    # FFmpeg's decoder takes most garbage CELT frames; whatever happens, the output stays AAC on a clock.
    assert frames(out, AUDIO)
    check_aac_timeline(out)
    bad = tuple(b"\xfb" if i % 3 == 1 else p for i, p in enumerate(good))  # code 3 without its count byte
    ing = TsIngest()
    out = feed_chunks(ing, opus_ts(descriptors(1), bad))
    assert ing.stats.dropped > 0 and frames(out, AUDIO)
    check_aac_timeline(out)
    assert flv.parse_audio(frames(out, AUDIO)[0].payload).codec == AudioCodec.AAC
