"""WebRTC publisher -> live Source (RtcIngest): the shared clips as RTP, through a network model, out as
media messages written to FLV and checked with ffprobe (H.264) and PyAV (Enhanced RTMP HEVC)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from srs.format.flv import AudioCodec, VideoCodec
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.protocol.rtc import payload_h264
from srs.protocol.rtc.rtp import RtpPacket
from srs.remux.rtc_in import RtcIngest, ntp_to_ms
from srs.remux.rtmp import media_from_rtmp
from support.flv import iter_tags
from support.pyav import pyav_probe
from support.tools import probe
from unit.protocol.rtc.payload_clips import access_units
from unit.remux.rtc_in_media import (
    Sent,
    audio_packets,
    impair,
    merge,
    opus_packets,
    run,
    video_packets,
    write_flv,
)

CLIP = access_units("bbb.flv")
FIRST_MS = CLIP.frames[0][0]  # the clip's first picture is at 80 ms: output time 0
KEY_INDEXES = [i for i, (_, nalus) in enumerate(CLIP.frames) if payload_h264.is_keyframe(nalus)]


def vids(msgs: list[MediaMessage]) -> list[MediaMessage]:
    return [m for m in msgs if m.kind == VIDEO and not m.sequence_header]


def auds(msgs: list[MediaMessage]) -> list[MediaMessage]:
    return [m for m in msgs if m.kind == AUDIO and not m.sequence_header]


@cache
def clean_run() -> tuple[MediaMessage, ...]:
    sent = merge(video_packets("bbb.flv", "h264"), audio_packets(opus_packets()))
    return tuple(run(RtcIngest("h264", True), sent))


def test_in_order_h264_opus_becomes_h264_aac_flv(tmp_path: Path) -> None:
    msgs = list(clean_run())
    # Sequence headers first (video then audio), then media from output time 0 on.
    assert [(m.kind, m.sequence_header, m.timestamp) for m in msgs[:2]] == [
        (VIDEO, True, 0),
        (AUDIO, True, 0),
    ]
    assert sum(m.sequence_header for m in msgs) == 2
    assert msgs[2].kind == VIDEO and msgs[2].keyframe and msgs[2].timestamp == 0
    # Every picture, at its media time, with the keyframe flag where the clip has one.
    v = vids(msgs)
    assert [m.timestamp for m in v] == [ms - FIRST_MS for ms, _ in CLIP.frames]
    assert [i for i, m in enumerate(v) if m.keyframe] == KEY_INDEXES
    # Classified exactly as an RTMP publisher's messages would be.
    for m in msgs:
        ref = media_from_rtmp(m.kind, m.timestamp, m.payload)
        assert ref is not None
        assert (m.keyframe, m.sequence_header, m.codec) == (ref.keyframe, ref.sequence_header, ref.codec)
    assert {m.codec for m in msgs} == {VideoCodec.AVC, AudioCodec.AAC}
    # rtp=: a frame's payloads as they came; the Opus packets in order, none missing after the start.
    for m, (_, nalus) in zip(v, CLIP.frames, strict=True):
        assert m.rtp == tuple(
            p.payload for p in payload_h264.packetize(nalus, parameter_sets=CLIP.parameter_sets)
        )
    carried = [p for m in auds(msgs) for p in m.rtp or ()]
    ops = opus_packets()
    first = ops.index(carried[0])
    assert carried == list(ops[first : first + len(carried)]) and len(ops) - first - len(carried) <= 2
    assert first <= FIRST_MS // 20 + 1  # only the audio before the first keyframe is gone
    a = auds(msgs)
    assert 0 <= a[0].timestamp <= 22
    assert all(b.timestamp - x.timestamp in (21, 22) for x, b in itertools.pairwise(a))
    # What a player makes of it.
    tags = list(iter_tags(write_flv(msgs, tmp_path / "out.flv").read_bytes()))
    assert (
        tags[0].is_sequence_header and tags[0].type == 9 and tags[1].is_sequence_header and tags[1].type == 8
    )
    info = probe(tmp_path / "out.flv")
    assert info.video is not None and info.audio is not None
    assert (info.video.codec_name, info.video.width, info.video.height) == ("h264", 640, 360)
    assert info.video.frames == len(CLIP.frames) and info.video.keyframes == len(KEY_INDEXES)
    assert (info.audio.codec_name, info.audio.sample_rate, info.audio.channels) == ("aac", 48000, 2)
    media_s = len(ops) * 0.02 - FIRST_MS / 1000
    assert abs(info.audio.duration - media_s) < 0.1
    assert info.video.monotonic() and info.audio.monotonic()


def test_reordering_delay_and_duplicates_lose_nothing() -> None:
    sent = merge(video_packets("bbb.flv", "h264"), audio_packets(opus_packets()))
    rough = impair(sent, reorder=0.05, delay_ms=40, duplicate=0.03, seed=7)
    assert [s.pkt.sequence_number for s in rough] != [s.pkt.sequence_number for s in sent]
    ing = RtcIngest("h264", True)
    msgs = run(ing, rough)
    ref = list(clean_run())
    for kind in (VIDEO, AUDIO):  # per track the same; how they interleave follows arrival
        assert [(m.timestamp, m.payload, m.rtp) for m in msgs if m.kind == kind] == [
            (m.timestamp, m.payload, m.rtp) for m in ref if m.kind == kind
        ]
    assert ing.stats.dropped == 0


def test_video_loss_drops_frames_until_a_keyframe_and_asks_for_one() -> None:
    lost_frame = KEY_INDEXES[1] + 10
    sent = merge(video_packets("bbb.flv", "h264"), audio_packets(opus_packets()))
    victim = next(s for s in sent if s.frame == lost_frame)
    ing = RtcIngest("h264", True)
    msgs = run(ing, impair(sent, drop=lambda s: s is victim))
    assert ing.take_keyframe_request() and not ing.take_keyframe_request()
    gone = set(range(lost_frame, KEY_INDEXES[2]))
    expect = [ms - FIRST_MS for i, (ms, _) in enumerate(CLIP.frames) if i not in gone]
    assert [m.timestamp for m in vids(msgs)] == expect
    assert [(m.timestamp, m.payload) for m in auds(msgs)] == [
        (m.timestamp, m.payload) for m in auds(list(clean_run()))
    ]
    clean = RtcIngest("h264", True)
    run(clean, sent)
    assert not clean.take_keyframe_request()


def test_audio_loss_keeps_the_audio_clock() -> None:
    sent = merge(video_packets("bbb.flv", "h264"), audio_packets(opus_packets()))
    lost = {s.pkt.sequence_number for s in sent if s.kind == "audio"}
    lost = set(sorted(lost)[100:103])
    msgs = run(
        RtcIngest("h264", True),
        impair(sent, drop=lambda s: s.kind == "audio" and s.pkt.sequence_number in lost),
    )
    a, ref = auds(msgs), auds(list(clean_run()))
    assert all(b.timestamp - x.timestamp in (21, 22) for x, b in itertools.pairwise(a))
    assert abs(len(a) - len(ref)) <= 1 and a[-1].timestamp == ref[-1].timestamp
    assert sum(len(m.rtp or ()) for m in a) == sum(len(m.rtp or ()) for m in ref) - 3


def _with_padding(sent: list[Sent], every: int) -> list[Sent]:
    """Insert an empty-payload packet (its own sequence number, a foreign timestamp) every ``every``."""
    out: list[Sent] = []
    seqs = {"audio": 0, "video": 0}
    for i, s in enumerate(sent):
        if i % every == every - 1:
            pad = RtpPacket(sequence_number=0, timestamp=s.pkt.timestamp + 1, ssrc=s.pkt.ssrc, payload=b"")
            out.append(replace(s, pkt=pad))
        out.append(s)
    for i, s in enumerate(out):  # renumber each track
        seqs[s.kind] += 1
        out[i] = replace(s, pkt=replace(s.pkt, sequence_number=(60000 + seqs[s.kind]) & 0xFFFF))
    return out


def test_empty_payloads_are_ignored() -> None:
    sent = _with_padding(merge(video_packets("bbb.flv", "h264"), audio_packets(opus_packets())), 7)
    ing = RtcIngest("h264", True)
    msgs = run(ing, sent)
    assert ing.stats.empty > 100 and ing.stats.dropped == 0
    ref = list(clean_run())
    assert [(m.kind, m.timestamp, m.payload, m.rtp) for m in msgs] == [
        (m.kind, m.timestamp, m.payload, m.rtp) for m in ref
    ]


def test_rtp_timestamp_and_sequence_wrap() -> None:
    sent = merge(
        video_packets("bbb.flv", "h264", ts0=(1 << 32) - 90 * 3000, seq0=65500),
        audio_packets(opus_packets(), ts0=(1 << 32) - 48 * 5000, seq0=65400),
    )
    msgs = run(RtcIngest("h264", True), sent)
    ref = list(clean_run())
    assert [(m.kind, m.timestamp, m.payload) for m in msgs] == [(m.kind, m.timestamp, m.payload) for m in ref]


def test_opus_kept_without_rtc_to_rtmp(tmp_path: Path) -> None:
    ops = opus_packets()
    msgs = run(
        RtcIngest("h264", True, rtc_to_rtmp=False),
        merge(video_packets("bbb.flv", "h264"), audio_packets(ops)),
    )
    assert msgs[0].sequence_header and msgs[0].kind == VIDEO and sum(m.sequence_header for m in msgs) == 1
    a = auds(msgs)
    first = FIRST_MS // 20
    assert [m.rtp for m in a] == [(p,) for p in ops[first:]]
    assert [m.payload for m in a] == [b"\xdf" + p for p in ops[first:]]
    assert [m.timestamp for m in a] == [i * 20 - FIRST_MS for i in range(first, len(ops))]
    for m in a:
        ref = media_from_rtmp(m.kind, m.timestamp, m.payload)
        assert ref is not None and (ref.codec, ref.sequence_header, m.codec) == (
            AudioCodec.OPUS,
            False,
            AudioCodec.OPUS,
        )


def test_hevc_becomes_enhanced_rtmp_flv(tmp_path: Path) -> None:
    hevc = access_units("hevc.flv")
    msgs = run(
        RtcIngest("h265", True), merge(video_packets("hevc.flv", "h265"), audio_packets(opus_packets()))
    )
    v = vids(msgs)
    assert msgs[0].sequence_header and msgs[0].payload[:5] == b"\x90hvc1" and msgs[1].sequence_header
    assert len(v) == len(hevc.frames) and v[0].keyframe and all(m.payload[1:5] == b"hvc1" for m in v)
    for m in msgs:
        ref = media_from_rtmp(m.kind, m.timestamp, m.payload)
        assert ref is not None and (m.keyframe, m.sequence_header, m.codec) == (
            ref.keyframe,
            ref.sequence_header,
            ref.codec,
        )
    info = pyav_probe(write_flv(msgs, tmp_path / "hevc.flv"))
    assert info.video is not None and info.audio is not None
    assert (info.video.codec_name, info.video.frames) == ("hevc", len(hevc.frames))
    assert (info.audio.codec_name, info.audio.sample_rate) == ("aac", 48000)


# --- timeline: RTCP sender reports align the tracks --------------------------------------------

V0, A0 = 900_000, 4_000  # first RTP timestamps


def ntp(ms: int) -> int:
    frac = -((-(ms % 1000) << 32) // 1000)  # ceil: ntp_to_ms gives ms back exactly
    return ((ms // 1000) << 32) | frac


def _sr_run(
    audio_at: int, reports: list[tuple[str, int, int]], v0: int = V0, a0: int = A0
) -> list[MediaMessage]:
    """A keyframe (RTP v0, arriving at 0) and a P frame; 20 Opus packets (RTP a0, from ``audio_at``)."""
    keyframe_at_v0 = (v0 - FIRST_MS * 90) & 0xFFFFFFFF
    sent = [s for s in video_packets("bbb.flv", "h264", ts0=keyframe_at_v0) if s.frame < 2]
    sent = [replace(s, arrival_ms=0 if s.frame == 0 else 40) for s in sent]
    sent += audio_packets([b"\xfc\x01\x02"] * 20, ts0=a0, start_ms=audio_at)
    ing = RtcIngest("h264", True, rtc_to_rtmp=False)
    for kind, ntp_ms, rtp_ts in reports:
        ing.on_sender_report(kind, ntp(ntp_ms), rtp_ts & 0xFFFFFFFF)
    return run(ing, merge(sent))


W = (1 << 32) - 1800  # 20 ms of video before the wrap
SR_CASES = [
    # (id, audio arrival ms, sender reports, video RTP start, output time of the first audio)
    ("no-sr-arrival", 30, [], V0, 30),
    ("one-sr-arrival", 30, [("video", 5000, V0)], V0, 30),
    ("sr-audio-later", 30, [("video", 5000, V0), ("audio", 5100, A0)], V0, 100),
    ("sr-audio-earlier", 30, [("video", 5000, V0), ("audio", 4900, A0)], V0, 0),
    ("sr-not-at-first", 0, [("video", 5000, V0 + 9000), ("audio", 5100, A0 + 4800)], V0, 100),
    ("sr-across-wrap", 0, [("video", 5000, W + 9000), ("audio", 5100, A0 + 4800)], W, 100),
]


@pytest.mark.parametrize(
    ("audio_at", "reports", "v0", "first_audio"), [c[1:] for c in SR_CASES], ids=[c[0] for c in SR_CASES]
)
def test_sender_reports_align_audio_and_video(
    audio_at: int, reports: list[tuple[str, int, int]], v0: int, first_audio: int
) -> None:
    msgs = _sr_run(audio_at, reports, v0)
    v, a = vids(msgs), auds(msgs)
    assert [m.timestamp for m in v] == [0, 40]
    assert a[0].timestamp == first_audio
    assert [y.timestamp - x.timestamp for x, y in itertools.pairwise(a)] == [20] * (len(a) - 1)


@pytest.mark.parametrize(("jitter_ms", "moved"), [(200, False), (-300, False), (2000, True)])
def test_sender_report_jitter_after_the_start_does_not_move_audio(jitter_ms: int, moved: bool) -> None:
    """Once the output runs, reports that disagree by less than 500 ms (a sender pairing its send time
    with an older RTP time) leave the audio steady; a bigger disagreement is a real jump."""
    sent = merge(video_packets("bbb.flv", "h264", ts0=V0), audio_packets(opus_packets()[:100], ts0=A0))
    ing = RtcIngest("h264", True, rtc_to_rtmp=False)
    ing.on_sender_report("video", ntp(5000), V0)
    ing.on_sender_report("audio", ntp(5000), A0)
    out: list[MediaMessage] = []
    reported = False
    for x in sent:
        if x.arrival_ms >= 1000 and not reported:  # in the middle of the audio (2 s)
            reported = True
            ing.on_sender_report("video", ntp(6000), V0 + 90_000)
            ing.on_sender_report("audio", ntp(6000 + jitter_ms), A0 + 48_000)
        now = 100_000 + x.arrival_ms
        out += ing.poll(now) + ing.on_rtp(x.kind, x.pkt, now)
    out += ing.flush()
    steps = [y.timestamp - x.timestamp for x, y in itertools.pairwise(auds(out))]
    assert (set(steps) != {20}) is moved, steps


def test_ntp_to_ms() -> None:
    assert ntp_to_ms(ntp(1_234_567)) == 1_234_567
    assert ntp_to_ms((5 << 32) | (1 << 31)) == 5500


# --- start: both tracks from the first tag ------------------------------------------------------


def test_audio_only_and_video_only() -> None:
    msgs = run(RtcIngest(None, True), audio_packets(opus_packets()[:50]))
    assert msgs[0].sequence_header and msgs[0].kind == AUDIO and all(m.kind == AUDIO for m in msgs)
    assert auds(msgs)[0].timestamp >= 0
    msgs = run(RtcIngest("h264", False), video_packets("bbb.flv", "h264"))
    assert (
        msgs[0].sequence_header and len(vids(msgs)) == len(CLIP.frames) and all(m.kind == VIDEO for m in msgs)
    )


def test_missing_audio_delays_the_start_then_video_goes_alone() -> None:
    ing = RtcIngest("h264", True, start_timeout_ms=3000)
    sent = video_packets("bbb.flv", "h264")
    out: list[MediaMessage] = []
    for s in sent:
        got = ing.on_rtp(s.kind, s.pkt, 100_000 + s.arrival_ms)
        assert not got or s.arrival_ms >= 3000
        out += got
    v = vids(out)
    assert out[0].sequence_header and v[0].keyframe and v[0].timestamp == 0
    later = [i for i in KEY_INDEXES if CLIP.frames[i][0] <= 3000][-1]  # the start is the last keyframe
    assert len(v) == len(CLIP.frames) - later


def test_parameter_set_change_sends_a_new_sequence_header() -> None:
    sps, pps = CLIP.parameter_sets
    sps2 = sps[:3] + bytes([sps[3] + 1]) + sps[4:]  # another level
    frames = [CLIP.frames[0][1], CLIP.frames[1][1], (sps2, pps, *CLIP.frames[0][1]), CLIP.frames[1][1]]
    ing = RtcIngest("h264", False)
    out: list[MediaMessage] = []
    seq = itertools.count(7)
    for i, nalus in enumerate(frames):
        for p in payload_h264.packetize(nalus, parameter_sets=(sps, pps) if i < 2 else ()):
            pkt = RtpPacket(sequence_number=next(seq), timestamp=i * 3600, marker=p.marker, payload=p.payload)
            out += ing.on_rtp("video", pkt, i * 200)  # each frame released before the next
    assert [(m.sequence_header, m.timestamp) for m in out] == [
        (True, 0),
        (False, 0),
        (False, 40),
        (True, 80),
        (False, 80),
        (False, 120),
    ]
    assert out[3].payload[5 + 8 :].startswith(sps2)


def test_bad_payloads_and_tracks_never_raise() -> None:
    ing = RtcIngest("h264", True)
    out: list[MediaMessage] = []
    video_junk = [b"\x00", b"\x1f\x00", b"\x18\x00\x05", b"\x7c\x85", b"\xff" * 20, b"\x03"]
    opus_junk = [b"\x03", b"\xfb\x00", b"\x0b" + b"\xff" * 300, b"\xff" * 20, b"\x01\x00\x00\x00"]
    for kind, junk in (("video", video_junk), ("audio", opus_junk), ("data", [b"\x01"])):
        for i, j in enumerate(junk):
            pkt = RtpPacket(sequence_number=i, timestamp=i * 960, marker=True, payload=j)
            out += ing.on_rtp(kind, pkt, i * 20) + ing.poll(i * 20 + 10)
    out += ing.poll(10_000) + ing.flush()
    assert out == []  # nothing decodable, nothing out
    assert ing.stats.dropped >= len(opus_junk) and ing.take_keyframe_request()
    assert RtcIngest(None, False).flush() == []
    av1 = RtcIngest("av1", False)  # not bridged: the video track is ignored
    assert av1.on_rtp("video", RtpPacket(payload=b"\x90\x00"), 0) == [] and av1.stats.dropped == 1


def test_vp8_frames_are_carried_for_webrtc_players() -> None:
    """VP8 is relayed WebRTC -> WebRTC: Enhanced RTMP vp08 frames carrying the original payloads."""
    from srs.format.flv_video import VideoCodec
    from srs.remux.rtc_out import RtpWire, split_frames

    key = bytes([0x10, 0x00, 0x9D, 0x01, 0x2A]) + b"K" * 20
    inter = bytes([0x10, 0x01]) + b"I" * 8
    ing = RtcIngest("vp8", False)
    out = []
    for i, payload in enumerate([key, inter, inter]):
        pkt = RtpPacket(
            payload_type=96, sequence_number=100 + i, timestamp=3000 * i, marker=True, payload=payload
        )
        out += ing.on_rtp("video", pkt, i * 40)
    out += ing.poll(1000)
    assert [(m.codec, m.keyframe, m.rtp) for m in out] == [
        (VideoCodec.VP8, True, (key,)),
        (VideoCodec.VP8, False, (inter,)),
        (VideoCodec.VP8, False, (inter,)),
    ]
    wire = RtpWire("vp8")
    packets = [p for m in out for p in split_frames(wire.encode(m))]
    assert [p[12:] for p in packets] == [key, inter, inter]
