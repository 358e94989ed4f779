"""Stream codec info for the API (``stream.video`` / ``stream.audio``): one case table of tag bodies."""

from __future__ import annotations

from typing import Any

import pytest

from srs.codec import aac, h264, h265
from srs.control import api_codec
from srs.format.flv_audio import AudioCodec, audio_body
from srs.format.flv_video import VideoCodec, video_body
from unit.codec.cases import AVATAR_PPS, AVATAR_SPS, BBB_PPS, BBB_SPS, HEVC_PPS, HEVC_SPS, HEVC_VPS

AVC_AVATAR = h264.build_avc_config(AVATAR_SPS, AVATAR_PPS)
AVC_BBB = h264.build_avc_config(BBB_SPS, BBB_PPS)
# an avcC whose SPS is a truncated bitstream (the record itself is well formed)
AVC_BAD_SPS = (
    bytes((1, 100, 0, 32, 0xFF, 0xE1, 0, 4))
    + b"\x67\x64\x00\x20"
    + b"\x01"
    + len(AVATAR_PPS).to_bytes(2, "big")
    + AVATAR_PPS
)
HVCC = h265.build_hevc_config(HEVC_VPS, HEVC_SPS, HEVC_PPS)
MP3_44K = b"\xff\xfb\x90\x64" + bytes(200)  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, joint stereo
MP3_48K_MONO = b"\xff\xfb\x94\xc4" + bytes(200)  # 48 kHz, mono


def vsh(codec: VideoCodec, record: bytes, *, enhanced: bool = False) -> bytes:
    return video_body(codec, 1, 0, 0, record, enhanced=enhanced)


def ash(codec: AudioCodec, data: bytes, **kw: Any) -> bytes:
    return audio_body(codec, 0, data, **kw)


VIDEO_CASES: list[tuple[str, bytes, dict[str, Any] | None]] = [
    (
        "avatar-h264-high-3.2",
        vsh(VideoCodec.AVC, AVC_AVATAR),
        {"codec": "H264", "profile": "High", "level": "3.2", "width": 768, "height": 320},
    ),
    (
        "bbb-h264-baseline-3.0-cropped",
        vsh(VideoCodec.AVC, AVC_BBB),
        {"codec": "H264", "profile": "Baseline", "level": "3", "width": 640, "height": 360},
    ),
    (
        "hevc-legacy-id-12",
        vsh(VideoCodec.HEVC, HVCC),
        {"codec": "HEVC", "profile": "Main", "level": "1", "width": 160, "height": 120},
    ),
    (
        "hevc-enhanced-hvc1",
        vsh(VideoCodec.HEVC, HVCC, enhanced=True),
        {"codec": "HEVC", "profile": "Main", "level": "1", "width": 160, "height": 120},
    ),
    (
        "av1-enhanced-other",
        vsh(VideoCodec.AV1, bytes.fromhex("81000c00"), enhanced=True),
        {"codec": "AV1", "profile": "Other", "level": "Other", "width": 0, "height": 0},
    ),
    ("avc-record-truncated", vsh(VideoCodec.AVC, AVC_AVATAR[:9]), None),
    ("avc-sps-garbage", vsh(VideoCodec.AVC, AVC_BAD_SPS), None),
    ("hevc-without-sps", vsh(VideoCodec.HEVC, HVCC[:23] + b"\x00"), None),
    ("empty", b"", None),
    ("unknown-codec-id", b"\x1f\x00\x00\x00\x00", None),
]

AUDIO_CASES: list[tuple[str, bytes, dict[str, Any] | None]] = [
    (
        "aac-lc-44100-stereo",
        ash(AudioCodec.AAC, aac.build_asc(2, 44100, 2)),
        {"codec": "AAC", "sample_rate": 44100, "channel": 2, "profile": "LC"},
    ),
    (
        # SRS would say 44100 (the FLV SoundRate flag); we report the AudioSpecificConfig's rate.
        "aac-lc-48000-mono",
        ash(AudioCodec.AAC, aac.build_asc(2, 48000, 1)),
        {"codec": "AAC", "sample_rate": 48000, "channel": 1, "profile": "LC"},
    ),
    (
        "aac-main-22050",
        ash(AudioCodec.AAC, aac.build_asc(1, 22050, 2)),
        {"codec": "AAC", "sample_rate": 22050, "channel": 2, "profile": "Main"},
    ),
    (
        "aac-enhanced-mp4a",
        ash(AudioCodec.AAC, aac.build_asc(2, 44100, 2), enhanced=True),
        {"codec": "AAC", "sample_rate": 44100, "channel": 2, "profile": "LC"},
    ),
    (
        "opus-enhanced-opushead",
        ash(AudioCodec.OPUS, b"OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00", enhanced=True),
        {"codec": "Opus", "sample_rate": 48000, "channel": 2, "profile": "Other"},
    ),
    ("aac-asc-reserved-object-type", ash(AudioCodec.AAC, b"\x00\x10"), None),
    ("aac-asc-truncated", ash(AudioCodec.AAC, b"\x12"), None),
    ("empty", b"", None),
]

FRAME_CASES: list[tuple[str, bytes, dict[str, Any] | None]] = [
    (
        "mp3-44100-stereo",
        audio_body(AudioCodec.MP3, 1, MP3_44K),
        {"codec": "MP3", "sample_rate": 44100, "channel": 2, "profile": "Other"},
    ),
    (
        # the frame header wins over the FLV flags (44 kHz stereo here)
        "mp3-48000-mono-header",
        audio_body(AudioCodec.MP3, 1, MP3_48K_MONO),
        {"codec": "MP3", "sample_rate": 48000, "channel": 1, "profile": "Other"},
    ),
    (
        # not an MP3 frame header: SRS's FLV flags (SoundRate 2 = 22 kHz, mono)
        "mp3-garbage-flags",
        audio_body(AudioCodec.MP3, 1, b"\x00" * 8, sound_rate=2, sound_type=0),
        {"codec": "MP3", "sample_rate": 22050, "channel": 1, "profile": "Other"},
    ),
    (
        "g711-alaw-flags",
        audio_body(AudioCodec.G711_ALAW, 1, b"\x55" * 8, sound_rate=1, sound_type=0),
        {"codec": "Other", "sample_rate": 11025, "channel": 1, "profile": "Other"},
    ),
    ("aac-sequence-header-is-not-a-frame", ash(AudioCodec.AAC, aac.build_asc(2, 44100, 2)), None),
    ("unknown-sound-format", b"\x90", None),
]


@pytest.mark.parametrize(("name", "body", "want"), VIDEO_CASES, ids=[c[0] for c in VIDEO_CASES])
def test_video_info(name: str, body: bytes, want: dict[str, Any] | None) -> None:
    assert api_codec.video_info(body) == want


@pytest.mark.parametrize(("name", "body", "want"), AUDIO_CASES, ids=[c[0] for c in AUDIO_CASES])
def test_audio_info(name: str, body: bytes, want: dict[str, Any] | None) -> None:
    assert api_codec.audio_info(body) == want


@pytest.mark.parametrize(("name", "body", "want"), FRAME_CASES, ids=[c[0] for c in FRAME_CASES])
def test_audio_info_from_frame(name: str, body: bytes, want: dict[str, Any] | None) -> None:
    assert api_codec.audio_info_from_frame(body) == want
