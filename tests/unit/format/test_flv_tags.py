"""FLV/RTMP tag bodies: legacy and Enhanced RTMP video/audio headers, predicates and builders."""

from __future__ import annotations

import pytest

from srs.codec import aac, h265
from srs.format import flv
from srs.format.flv import AudioCodec, FrameType, TagType, VideoCodec, VideoPacketType
from srs.util.errors import ErrorCode, ParseError
from unit.codec.flv_cases import (
    AUDIO_CASES,
    AUDIO_ERRORS,
    HVCC,
    NALU,
    VIDEO_CASES,
    VIDEO_ERRORS,
    AudioCase,
    VideoCase,
)
from unit.codec.samples import clip_tags, hevc_flv, mp3_flv, vp9_opus_flv


@pytest.mark.parametrize("case", VIDEO_CASES, ids=[c.name for c in VIDEO_CASES])
def test_parse_video(case: VideoCase) -> None:
    info = flv.parse_video(case.body)
    assert info == case.info
    assert flv.is_video_keyframe(case.body) is info.is_keyframe
    assert flv.is_video_sequence_header(case.body) is info.is_sequence_header


@pytest.mark.parametrize(
    "case", [c for c in VIDEO_CASES if c.build], ids=[c.name for c in VIDEO_CASES if c.build]
)
def test_video_body_builds_the_same_bytes(case: VideoCase) -> None:
    assert case.build is not None
    assert flv.video_body(**case.build) == case.body


@pytest.mark.parametrize(("name", "body"), VIDEO_ERRORS, ids=[c[0] for c in VIDEO_ERRORS])
def test_parse_video_errors(name: str, body: bytes) -> None:
    with pytest.raises(ParseError) as info:
        flv.parse_video(body)
    assert info.value.code == ErrorCode.FLV_INVALID_VIDEO_TAG
    assert flv.is_video_sequence_header(body) is False  # predicates never raise


@pytest.mark.parametrize("case", AUDIO_CASES, ids=[c.name for c in AUDIO_CASES])
def test_parse_audio(case: AudioCase) -> None:
    info = flv.parse_audio(case.body)
    assert info == case.info
    assert flv.is_audio_sequence_header(case.body) is info.is_sequence_header


@pytest.mark.parametrize(
    "case", [c for c in AUDIO_CASES if c.build], ids=[c.name for c in AUDIO_CASES if c.build]
)
def test_audio_body_builds_the_same_bytes(case: AudioCase) -> None:
    assert case.build is not None
    assert flv.audio_body(**case.build) == case.body


@pytest.mark.parametrize(("name", "body"), AUDIO_ERRORS, ids=[c[0] for c in AUDIO_ERRORS])
def test_parse_audio_errors(name: str, body: bytes) -> None:
    with pytest.raises(ParseError):
        flv.parse_audio(body)
    assert flv.is_audio_sequence_header(body) is False


def test_predicates_on_short_and_odd_bodies() -> None:
    for body in (b"", b"\x17", b"\x17\x00", b"\x90", b"\x90hvc", b"\x97", b"\x96\x00"):
        assert not flv.is_video_sequence_header(body)
    assert flv.is_video_keyframe(b"\x17")
    assert not flv.is_video_keyframe(b"")
    assert not flv.is_video_keyframe(b"\x97\x05")  # a broken ModEx is not a key frame
    assert not flv.is_video_sequence_header(b"\x90xxxx")  # unknown FourCC
    for body in (b"", b"\xaf", b"\x2f\x00", b"\x90", b"\x90Opu", b"\x95\x10Opus"):
        assert not flv.is_audio_sequence_header(body)


def test_builder_argument_errors() -> None:
    with pytest.raises(ValueError):
        flv.video_body(VideoCodec.AVC, 0, 1, 0, b"")
    with pytest.raises(ValueError):
        flv.video_body(VideoCodec.AVC, 1, 1, 1 << 23, b"")
    with pytest.raises(ValueError):
        flv.video_body(VideoCodec.AVC, 1, 3, 0, b"")
    with pytest.raises(ValueError):
        flv.video_body(VideoCodec.VP9, 1, 1, 0, b"")  # VP9 has no legacy codec id
    with pytest.raises(ValueError):
        flv.video_body(VideoCodec.VP6, 1, 1, 0, b"", enhanced=True)  # nor VP6 a FourCC
    with pytest.raises(ValueError):
        flv.video_body(VideoCodec.HEVC, 1, 6, 0, b"", enhanced=True)
    with pytest.raises(ValueError):
        flv.audio_body(AudioCodec.AC3, 1, b"")
    with pytest.raises(ValueError):
        flv.audio_body(AudioCodec.SPEEX, 1, b"", enhanced=True)
    with pytest.raises(ValueError):
        flv.audio_body(AudioCodec.AAC, 2, b"")
    with pytest.raises(ValueError):
        flv.audio_body(AudioCodec.AAC, 3, b"", enhanced=True)
    with pytest.raises(ValueError):
        flv.audio_body(AudioCodec.MP3, 1, b"", sound_rate=4)


def test_legacy_hevc_12_round_trip_with_a_real_hvcc() -> None:
    # HEVC with the legacy codec id 12 (SRS compat), made from the hvcC PyAV's FFmpeg wrote.
    bodies = [t.body for t in flv.parse_file(hevc_flv())[1] if t.tag_type == TagType.VIDEO]
    ex_sh = next(b for b in bodies if flv.is_video_sequence_header(b))
    record = ex_sh[flv.parse_video(ex_sh).data_offset :]
    legacy = flv.video_body(VideoCodec.HEVC, FrameType.KEY, VideoPacketType.SEQUENCE_HEADER, 0, record)
    assert legacy[:5] == b"\x1c\x00\x00\x00\x00"
    assert flv.is_video_sequence_header(legacy)
    info = flv.parse_video(legacy)
    assert (info.codec, info.enhanced, info.is_sequence_header) == (VideoCodec.HEVC, False, True)
    assert h265.parse_hevc_config(legacy[info.data_offset :]).sps == h265.parse_hevc_config(record).sps
    frame = flv.video_body(VideoCodec.HEVC, FrameType.INTER, VideoPacketType.CODED_FRAMES, 40, NALU)
    assert flv.parse_video(frame)[:5] == (
        VideoCodec.HEVC,
        FrameType.INTER,
        VideoPacketType.CODED_FRAMES,
        40,
        5,
    )
    assert not flv.is_video_keyframe(frame)
    assert flv.parse_video(flv.video_body(VideoCodec.HEVC, 1, 0, 0, HVCC)).is_sequence_header


def test_pyav_hevc_aac_file() -> None:
    tags = flv.parse_file(hevc_flv())[1]
    video = [flv.parse_video(t.body) for t in tags if t.tag_type == TagType.VIDEO]
    assert all(v.enhanced and v.fourcc == "hvc1" and v.codec == VideoCodec.HEVC for v in video)
    kinds = [v.packet_type for v in video]
    assert kinds[0] == VideoPacketType.SEQUENCE_HEADER
    assert kinds[1] == VideoPacketType.METADATA  # colorInfo, flagged as a command frame by FFmpeg
    assert video[1].frame_type == FrameType.COMMAND and not video[1].is_keyframe
    assert set(kinds[2:]) <= {VideoPacketType.CODED_FRAMES, VideoPacketType.CODED_FRAMES_X}
    assert VideoPacketType.CODED_FRAMES_X in kinds  # FFmpeg drops the zero composition time
    assert [v.is_keyframe for v in video].count(True) == 2  # sequence header + IDR
    assert [v.is_sequence_header for v in video].count(True) == 1
    assert all(v.composition_time_ms == 0 for v in video if v.packet_type == VideoPacketType.CODED_FRAMES_X)
    assert any(v.composition_time_ms > 0 for v in video)
    audio = [flv.parse_audio(t.body) for t in tags if t.tag_type == TagType.AUDIO]
    assert audio[0].is_sequence_header and not any(a.is_sequence_header for a in audio[1:])
    assert {a.codec for a in audio} == {AudioCodec.AAC}


def test_pyav_vp9_opus_file() -> None:
    tags = flv.parse_file(vp9_opus_flv())[1]
    video = [flv.parse_video(t.body) for t in tags if t.tag_type == TagType.VIDEO]
    assert {v.fourcc for v in video} == {"vp09"}
    assert sum(v.is_sequence_header for v in video) == 1
    assert all(v.composition_time_ms == 0 for v in video)  # VP9 has no composition time
    audio = [(t.body, flv.parse_audio(t.body)) for t in tags if t.tag_type == TagType.AUDIO]
    assert {a.fourcc for _, a in audio} == {"Opus"}
    sh = [body for body, a in audio if a.is_sequence_header]
    assert len(sh) == 1
    assert sh[0][5:13] == b"OpusHead"
    assert flv.is_audio_sequence_header(sh[0])
    assert {a.packet_type for _, a in audio} >= {
        flv.AudioPacketType.CODED_FRAMES,
        flv.AudioPacketType.SEQUENCE_HEADER,
    }


def test_pyav_mp3_file() -> None:
    tags = flv.parse_file(mp3_flv())[1]
    audio = [flv.parse_audio(t.body) for t in tags if t.tag_type == TagType.AUDIO]
    assert {(a.codec, a.enhanced, a.data_offset, a.is_sequence_header) for a in audio} == {
        (AudioCodec.MP3, False, 1, False)
    }
    video = [flv.parse_video(t.body) for t in tags if t.tag_type == TagType.VIDEO]
    assert video[-1].packet_type == VideoPacketType.END_OF_SEQUENCE


@pytest.mark.parametrize("clip", ["avatar.flv", "bbb.flv"])
def test_predicates_agree_with_the_parsers_on_real_files(clip: str) -> None:
    keyframes = 0
    for tag in clip_tags(clip):
        if tag.tag_type == TagType.VIDEO:
            info = flv.parse_video(tag.body)
            assert info.codec == VideoCodec.AVC and info.data_offset == 5
            assert flv.is_video_keyframe(tag.body) is info.is_keyframe
            assert flv.is_video_sequence_header(tag.body) is info.is_sequence_header
            keyframes += info.is_keyframe and info.packet_type == VideoPacketType.CODED_FRAMES
        elif tag.tag_type == TagType.AUDIO:
            info_a = flv.parse_audio(tag.body)
            assert flv.is_audio_sequence_header(tag.body) is info_a.is_sequence_header
            assert (info_a.codec, info_a.sample_rate, info_a.channels) == (AudioCodec.AAC, 44100, 2)
            if info_a.is_sequence_header:
                assert aac.parse_asc(tag.body[info_a.data_offset :]).sample_rate == 44100
    assert keyframes == {"avatar.flv": 7, "bbb.flv": 4}[clip]
