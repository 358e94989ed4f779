"""RtpWire: media messages -> framed RTP for WebRTC players (header fields, filtering, carried
payloads, retransmission cache) and the shared clips end to end (reassembled, decoded by PyAV)."""

from __future__ import annotations

import io
import logging
from functools import cache
from types import ModuleType

import av
import pytest
from av.video.frame import PictureType

from srs.codec import h264, h265
from srs.codec.nalu import to_annexb, to_avcc
from srs.format.flv import AudioCodec, VideoCodec, audio_body, video_body
from srs.media.message import AUDIO, DATA, VIDEO, MediaMessage
from srs.protocol.rtc import payload_h264, payload_h265
from srs.protocol.rtc.payload import Frame, FrameAssembler
from srs.protocol.rtc.rtp import RtpPacket
from srs.remux.rtc_out import (
    AUDIO_PT,
    AUDIO_SSRC,
    CACHE_PACKETS,
    VIDEO_PT,
    VIDEO_SSRC,
    RtpWire,
    split_frames,
)
from srs.remux.rtmp import media_from_rtmp
from support.flv import iter_tags
from support.media import SHARED
from unit.codec.samples import BitWriter, h264_sps, hevc_flv, hevc_sample
from unit.remux.rtc_media import aac_bodies, clip_messages, decode_opus

SPS = h264_sps()
PPS = b"\x68\xce\x3c\x80"
SEI = b"\x06\x05\x03abc\x80"
AUD = b"\x09\xf0"


def _slice(nal_header: int, slice_type: int, size: int = 20) -> bytes:
    head = bytes((nal_header,)) + BitWriter().ue(0).ue(slice_type).rbsp()
    return head + b"\x55" * max(0, size - len(head))


IDR = _slice(0x65, 7)  # I slice of an IDR picture
P = _slice(0x41, 5)
B = _slice(0x01, 6)


def avc(nalus: list[bytes], ts: int = 0, *, key: bool = False, length_size: int = 4) -> MediaMessage:
    body = video_body(VideoCodec.AVC, 1 if key else 2, 1, 0, to_avcc(nalus, length_size))
    return MediaMessage(VIDEO, ts, body, keyframe=key, codec=VideoCodec.AVC)


def avc_sh(length_size: int = 4) -> MediaMessage:
    body = video_body(VideoCodec.AVC, 1, 0, 0, h264.build_avc_config(SPS, PPS, length_size))
    return MediaMessage(VIDEO, 0, body, keyframe=True, sequence_header=True, codec=VideoCodec.AVC)


def packets(data: bytes) -> list[RtpPacket]:
    return [RtpPacket.parse(p) for p in split_frames(data)]


def h264_wire(**kw: bool) -> RtpWire:
    w = RtpWire("h264", **kw)
    assert w.encode(avc_sh()) == b""
    return w


# --- header fields


def test_key_and_preamble() -> None:
    w = RtpWire("h265", keep_bframe=True, keep_sei=False, opus_bitrate=64000)
    assert w.key == ("rtp", "h265", True, False, 64000, False) and w.preamble == b""
    assert RtpWire().key == ("rtp", "h264", False, True, 48000, False)
    with pytest.raises(ValueError):
        RtpWire("av1")


def test_keyframe_packets() -> None:
    w = h264_wire()
    out = w.encode(avc([AUD, IDR], 1000, key=True))
    pkts = packets(out)
    assert [(p.payload_type, p.ssrc, p.sequence_number, p.timestamp, p.marker) for p in pkts] == [
        (VIDEO_PT, VIDEO_SSRC, 0, 90000, False),  # STAP-A with SPS+PPS
        (VIDEO_PT, VIDEO_SSRC, 1, 90000, True),  # the IDR, marker on the last packet
    ]
    assert pkts[0].payload[0] & 0x1F == payload_h264.STAP_A and pkts[1].payload == IDR
    assert out[:2] == len(bytes(pkts[0])).to_bytes(2, "big")  # RFC 4571 framing
    assert b"".join(len(bytes(p)).to_bytes(2, "big") + bytes(p) for p in pkts) == out


@pytest.mark.parametrize(
    ("nalus", "kw", "expected"),
    [
        ([AUD, SEI, P], {}, [SEI, P]),  # AUD always dropped, SEI kept by default (SRS keep_avc_nalu_sei)
        ([AUD, SEI, P], {"keep_sei": False}, [P]),
        ([SEI, SEI], {"keep_sei": False}, []),  # nothing left: no packets
        ([B], {}, []),  # B-frames dropped (SRS keep_bframe off)
        ([SEI, B], {}, []),  # the whole frame, SEI included
        ([B], {"keep_bframe": True}, [B]),
        ([AUD], {}, []),
        ([b"", P], {}, [P]),  # an empty NAL unit is skipped
        ([_slice(0x21, 1)], {}, []),  # data partition A, B slice
        ([b"\x23\x80"], {}, [b"\x23\x80"]),  # partition C has no slice type: kept
    ],
)
def test_nalu_filtering(nalus: list[bytes], kw: dict[str, bool], expected: list[bytes]) -> None:
    pkts = packets(h264_wire(**kw).encode(avc(nalus)))
    assert [p.payload for p in pkts] == expected
    assert [p.marker for p in pkts] == [i == len(expected) - 1 for i in range(len(expected))]


def test_large_nalu_is_fragmented_with_one_marker() -> None:
    big = _slice(0x41, 0, 3000)
    pkts = packets(h264_wire().encode(avc([big], 40)))
    assert len(pkts) == 3 and all(p.payload[0] & 0x1F == payload_h264.FU_A for p in pkts)
    assert [p.marker for p in pkts] == [False, False, True] and {p.timestamp for p in pkts} == {3600}
    assert max(len(p.payload) for p in pkts) <= payload_h264.MAX_PAYLOAD


@pytest.mark.parametrize(
    ("ms", "rtp_ts"),
    [(0, 0), (1, 90), (47_721_859, 14), (2**32, (2**32 * 90) % 2**32)],
)
def test_video_timestamp_is_dts_times_90_wrapped(ms: int, rtp_ts: int) -> None:
    assert {p.timestamp for p in packets(h264_wire().encode(avc([P], ms)))} == {rtp_ts}


def test_sequence_numbers_per_kind_continue_and_wrap() -> None:
    w = h264_wire()
    w.video.seq = 65534
    seqs = [p.sequence_number for p in packets(w.encode(avc([SEI, P, P], 0)))]
    seqs += [p.sequence_number for p in packets(w.encode(avc([P], 40)))]
    assert seqs == [65534, 65535, 0, 1]
    audio = packets(w.encode(MediaMessage(AUDIO, 0, b"\xd2\xfc\xaa", codec=AudioCodec.OPUS)))
    assert [p.sequence_number for p in audio] == [0]  # its own counter


def test_length_size_from_the_sequence_header() -> None:
    w = RtpWire()
    w.encode(avc_sh(length_size=2))
    assert [p.payload for p in packets(w.encode(avc([SEI, P], length_size=2)))] == [SEI, P]


@pytest.mark.parametrize(
    "msg",
    [
        MediaMessage(DATA, 0, b"\x02\x00\x0aonMetaData"),
        avc_sh(),
        MediaMessage(VIDEO, 0, video_body(VideoCodec.AVC, 1, 2, 0, b""), codec=VideoCodec.AVC),  # EOS
        MediaMessage(VIDEO, 0, video_body(VideoCodec.HEVC, 2, 1, 0, to_avcc([b"\x02\x01xx"]), enhanced=True)),
        MediaMessage(VIDEO, 0, video_body(VideoCodec.VP8, 2, 1, 0, b"vp8", enhanced=True)),
        MediaMessage(VIDEO, 0, b"\x22h263"),  # Sorenson H.263
        MediaMessage(AUDIO, 0, b"\xb2speex", codec=AudioCodec.SPEEX),
        MediaMessage(VIDEO, 0, P, rtp=(P,), codec=VideoCodec.HEVC),  # carried, other codec
    ],
)
def test_messages_without_packets(msg: MediaMessage) -> None:
    assert h264_wire().encode(msg) == b""


def test_h264_on_an_h265_wire_yields_nothing() -> None:
    w = RtpWire("h265")
    assert w.encode(avc_sh()) == b"" and w.encode(avc([IDR], key=True)) == b""
    assert w.video.seq == 0


# --- H.265


def test_h265_keyframe_sei_aud_and_bframes() -> None:
    sample = hevc_sample()
    sh = MediaMessage(VIDEO, 0, next(b for b in sample.bodies if b[0] & 0x0F == 0), codec=VideoCodec.HEVC)
    aud, sei = b"\x46\x01\x50", b"\x4e\x01\x05\x02ab\x80"
    irap = sample.frames[0][0]
    key = MediaMessage(
        VIDEO, 0, video_body(VideoCodec.HEVC, 1, 1, 0, to_avcc([aud, sei, irap]), enhanced=True)
    )
    for keep_sei in (True, False):
        w = RtpWire("h265", keep_sei=keep_sei)
        assert w.encode(sh) == b""
        nalus = _reassemble(payload_h265, packets(w.encode(key)))[0].nalus
        types = [h265.nalu_type(n) for n in nalus]
        assert types == [32, 33, 34, *([39] if keep_sei else []), h265.nalu_type(irap)]
    b_frame = next(f for f in sample.frames if any(h265.is_bframe(n, sample.sps, sample.pps) for n in f))
    b_msg = MediaMessage(
        VIDEO, 40, video_body(VideoCodec.HEVC, 2, 1, 0, to_avcc(list(b_frame)), enhanced=True)
    )
    assert w.encode(b_msg) == b""
    keep = RtpWire("h265", keep_bframe=True)
    keep.encode(sh)
    assert packets(keep.encode(b_msg))[-1].marker


# --- audio


def test_aac_is_transcoded_to_opus_packets() -> None:
    w = RtpWire()
    out = b"".join(
        w.encode(
            MediaMessage(AUDIO, ts, body, sequence_header=ts == 0 and body[1] == 0, codec=AudioCodec.AAC)
        )
        for ts, body in aac_bodies()
    )
    pkts = packets(out)
    assert len(pkts) > 40
    assert {(p.payload_type, p.ssrc, p.marker) for p in pkts} == {(AUDIO_PT, AUDIO_SSRC, False)}
    assert [p.sequence_number for p in pkts] == list(range(len(pkts)))
    assert [p.timestamp for p in pkts] == [960 * i for i in range(len(pkts))]
    assert w.video.seq == 0


def test_carried_video_payloads_go_as_they_are() -> None:
    w = RtpWire()
    msg = MediaMessage(
        VIDEO, 2000, b"\x17\x01\x00\x00\x00", rtp=(b"\x7c\x85a", b"", b"\x7c\x45b"), codec=VideoCodec.AVC
    )
    pkts = packets(w.encode(msg))
    assert [(p.payload, p.marker, p.timestamp) for p in pkts] == [
        (b"\x7c\x85a", False, 180000),
        (b"\x7c\x45b", True, 180000),
    ]
    tail = MediaMessage(VIDEO, 2040, b"", rtp=(b"\x41c", b""), codec=VideoCodec.AVC)
    assert [(p.payload, p.marker) for p in packets(w.encode(tail))] == [(b"\x41c", True)]
    assert w.encode(MediaMessage(VIDEO, 2080, b"", rtp=(), codec=VideoCodec.AVC)) == b""


OPUS_20MS = b"\xfc\x01\x02"  # TOC config 31 (CELT FB 20 ms), code 0: 960 samples
OPUS_40MS = b"\xfd\x01\x02"  # code 1: two 20 ms frames


def test_carried_opus_runs_a_48k_clock_and_is_not_transcoded() -> None:
    w = RtpWire()

    def ts_of(ms: int, *payloads: bytes) -> list[int]:
        msg = MediaMessage(AUDIO, ms, b"\xaf\x01\x21\x10", codec=AudioCodec.AAC, rtp=payloads)
        return [p.timestamp for p in packets(w.encode(msg))]

    assert ts_of(1000, OPUS_20MS, OPUS_40MS, OPUS_20MS) == [48000, 48960, 50880]
    assert ts_of(1030, OPUS_20MS) == [51840]  # the running clock, not 1030 * 48
    assert ts_of(1050) == []
    assert ts_of(1060, b"", b"\xff", OPUS_20MS) == [52800]  # invalid packets left out
    assert ts_of(9000, OPUS_20MS) == [9000 * 48]  # a jump over 1 s re-anchors
    assert ts_of(9000 - 900, OPUS_20MS) == [9000 * 48 + 960]  # under 1 s: the clock goes on
    assert w._transcoder is None  # the AAC made from the Opus is never transcoded back


def test_rtmp_opus_is_relayed() -> None:
    w = RtpWire()
    head = audio_body(AudioCodec.OPUS, 0, b"OpusHead\x01\x02", enhanced=True)
    frame = audio_body(AudioCodec.OPUS, 1, OPUS_20MS, enhanced=True)
    assert w.encode(MediaMessage(AUDIO, 0, head, sequence_header=True, codec=AudioCodec.OPUS)) == b""
    pkts = packets(w.encode(MediaMessage(AUDIO, 20, frame, codec=AudioCodec.OPUS)))
    assert [(p.payload, p.timestamp) for p in pkts] == [(OPUS_20MS, 960)]


# --- retransmission cache


def test_retransmit_hits_and_misses() -> None:
    w = h264_wire()
    out = w.encode(avc([IDR], key=True)) + w.encode(avc([P], 40))
    sent = list(split_frames(out))
    assert [w.retransmit(VIDEO_SSRC, s) for s in range(3)] == sent
    assert w.retransmit(VIDEO_SSRC, 3) is None  # not sent yet
    assert w.retransmit(AUDIO_SSRC, 0) is None
    assert w.retransmit(0x1234, 0) is None
    audio = w.encode(MediaMessage(AUDIO, 0, b"\xd2" + OPUS_20MS, codec=AudioCodec.OPUS))
    assert w.retransmit(AUDIO_SSRC, 0) == next(split_frames(audio))
    for i in range(CACHE_PACKETS):
        w.encode(avc([P], 80 + 40 * i))
    assert w.retransmit(VIDEO_SSRC, 2) is None  # evicted
    assert w.retransmit(VIDEO_SSRC, 3) is not None
    assert w.retransmit(VIDEO_SSRC, 2 + CACHE_PACKETS) is not None


def test_retransmit_across_the_sequence_wrap() -> None:
    w = h264_wire()
    w.video.seq = 65535
    sent = list(split_frames(w.encode(avc([SEI, P]))))
    assert [w.retransmit(VIDEO_SSRC, s) for s in (65535, 0)] == sent


# --- bad payloads


@pytest.mark.parametrize(
    "msg",
    [
        MediaMessage(
            VIDEO, 0, b"\x17\x01\x00\x00\x00\x00\x00\x00\x09\x65", codec=VideoCodec.AVC
        ),  # NALU overruns
        MediaMessage(VIDEO, 0, b"\x17\x00\x00\x00\x00\x01", codec=VideoCodec.AVC),  # bad avcC
        MediaMessage(VIDEO, 0, b"\xf7", codec=VideoCodec.AVC),
        MediaMessage(
            VIDEO, 0, b"\x27\x01\x00\x00\x00\x00\x00\x00\x02\x41\x8b", codec=VideoCodec.AVC
        ),  # bad slice
    ],
)
def test_bad_payloads_are_dropped_and_logged_once(
    msg: MediaMessage, caplog: pytest.LogCaptureFixture
) -> None:
    w = h264_wire()
    with caplog.at_level(logging.WARNING, logger="srs"):
        assert w.encode(msg) == w.encode(msg) == b""
    assert sum("RTP wire" in r.getMessage() for r in caplog.records) == 1
    assert packets(w.encode(avc([P])))[0].payload == P  # the wire goes on


def test_split_frames_leaves_a_cut_tail_out() -> None:
    assert list(split_frames(b"\x00\x02ab\x00\x01c\x00\x05xy")) == [b"ab", b"c"]
    assert list(split_frames(b"\x00")) == []


# --- the clips end to end


def _reassemble(mod: ModuleType, pkts: list[RtpPacket]) -> list[Frame]:
    asm: FrameAssembler = mod.assembler(wait_keyframe=False)
    frames: list[Frame] = []
    for p in pkts:
        if p.ssrc == VIDEO_SSRC:
            frames += asm.push(p.sequence_number, p.timestamp, p.marker, p.payload)
    return frames + asm.flush()


@cache
def _pyav_facts(path: str) -> tuple[int, float]:
    """(non-B video frames, audio seconds) of a clip, as FFmpeg sees them."""
    with av.open(path) as c:
        non_b = sum(f.pict_type != PictureType.B for f in c.decode(video=0))
    with av.open(path) as c:
        seconds = sum(f.samples / f.sample_rate for f in c.decode(audio=0))
    return non_b, seconds


def _decode(codec: str, frames: list[Frame]) -> list[av.VideoFrame]:
    dec = av.CodecContext.create(codec, "r")
    assert isinstance(dec, av.VideoCodecContext)
    out: list[av.VideoFrame] = []
    for f in frames:
        out += dec.decode(av.Packet(to_annexb(f.nalus)))
    return out + dec.decode(None)


@pytest.mark.parametrize(
    ("name", "codec", "mod", "params", "size"),
    [
        ("bbb.flv", "h264", payload_h264, [7, 8], (640, 360)),
        ("avatar.flv", "h264", payload_h264, [7, 8], (768, 320)),
        ("hevc.flv", "h265", payload_h265, [32, 33, 34], (640, 360)),
    ],
)
def test_clip_end_to_end(
    name: str, codec: str, mod: ModuleType, params: list[int], size: tuple[int, int]
) -> None:
    w = RtpWire(codec)
    pkts = [p for m in clip_messages(name) for p in packets(w.encode(m))]
    frames = _reassemble(mod, pkts)
    non_b, audio_s = _pyav_facts(str(SHARED / name))
    assert len(frames) == non_b
    nal_type = mod.nalu_type
    keys = [f for f in frames if f.keyframe]
    assert keys and frames[0].keyframe
    assert all([nal_type(n) for n in k.nalus[: len(params)]] == params for k in keys)
    decoded = _decode("h264" if codec == "h264" else "hevc", frames[:8])
    assert len(decoded) == 8 and (decoded[0].width, decoded[0].height) == size
    opus = [p.payload for p in pkts if p.ssrc == AUDIO_SSRC]
    samples, channels, peak = decode_opus(opus)
    assert abs(samples / 48000 - audio_s) < 0.1 and channels == 2 and peak > 500


def test_pyav_hevc_with_bframes_drops_them() -> None:
    data = hevc_flv()
    w = RtpWire("h265")
    pkts = []
    for tag in iter_tags(data):
        m = media_from_rtmp(tag.type, tag.timestamp_ms, tag.data)
        if m is not None:
            pkts += packets(w.encode(m))
    with av.open(io.BytesIO(data), "r") as c:
        non_b = sum(f.pict_type != PictureType.B for f in c.decode(video=0))
    frames = _reassemble(payload_h265, pkts)
    assert 0 < len(frames) == non_b < len(hevc_sample().frames)


def test_relay_only_keeps_just_a_webrtc_publishers_payloads() -> None:
    """rtmp_to_rtc off: RTMP/SRT media (no carried payloads) never reaches WebRTC players."""
    from srs.remux.rtc_out import split_frames

    wire = RtpWire(relay_only=True)
    rtmp_frame = MediaMessage(
        VIDEO, 0, video_body(VideoCodec.AVC, 1, 1, 0, b"\x00\x00\x00\x02\x65\x88"), codec=VideoCodec.AVC
    )
    carried = MediaMessage(VIDEO, 40, b"", keyframe=True, codec=VideoCodec.AVC, rtp=(b"\x65\x88",))
    assert wire.encode(rtmp_frame) == b""
    assert [p[12:] for p in split_frames(wire.encode(carried))] == [b"\x65\x88"]
