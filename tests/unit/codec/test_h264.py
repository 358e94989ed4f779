"""H.264: avcC, SPS, profile/level names, slice types and B-frame detection."""

from __future__ import annotations

from typing import Any

import pytest

from srs.codec import h264
from srs.codec.h264 import NaluType
from srs.util.errors import ParseError
from unit.codec.cases import (
    AVATAR_PPS,
    AVATAR_SPS,
    AVCC_CASES,
    AVCC_ERRORS,
    BBB_PPS,
    BBB_SPS,
    H264_SPS_CASES,
    H264_SPS_ERRORS,
)
from unit.codec.samples import AVATAR, AVATAR_BFRAME_TAGS, BBB, BitWriter, avc_sample, h264_sps


def _ids(cases: list[Any]) -> list[str]:
    return [c[0] for c in cases]


# --- avcC


@pytest.mark.parametrize(("name", "record", "expected"), AVCC_CASES, ids=_ids(AVCC_CASES))
def test_avcc_decode_and_round_trip(name: str, record: bytes, expected: h264.AvcConfig) -> None:
    cfg = h264.parse_avc_config(record)
    assert cfg == expected
    assert bytes(cfg) == record


@pytest.mark.parametrize(("name", "record"), AVCC_ERRORS, ids=_ids(AVCC_ERRORS))
def test_avcc_errors(name: str, record: bytes) -> None:
    with pytest.raises(ParseError):
        h264.parse_avc_config(record)


@pytest.mark.parametrize(("clip", "truth"), [("avatar.flv", AVATAR), ("bbb.flv", BBB)])
def test_real_sequence_headers(clip: str, truth: dict[str, Any]) -> None:
    sample = avc_sample(clip)
    cfg = sample.config
    assert (cfg.profile, cfg.level, cfg.length_size) == (truth["profile_idc"], truth["level_idc"], 4)
    assert len(cfg.sps) == len(cfg.pps) == 1
    assert bytes(cfg) == sample.record
    sps = h264.parse_sps(cfg.sps[0])
    assert (sps.width, sps.height) == (truth["width"], truth["height"])
    assert (sps.profile_idc, sps.level_idc, sps.fps) == (
        truth["profile_idc"],
        truth["level_idc"],
        truth["fps"],
    )
    assert sps.profile == truth["profile"]
    assert h264.profile_name(cfg.profile) == truth["profile"]


def test_build_avc_config_baseline_is_byte_exact() -> None:
    # FFmpeg writes the same record for a Baseline stream (no high-profile extension).
    assert h264.build_avc_config(BBB_SPS, BBB_PPS) == avc_sample("bbb.flv").record
    assert h264.build_avc_config([BBB_SPS], [BBB_PPS]) == avc_sample("bbb.flv").record


def test_build_avc_config_high_profile_adds_the_extension() -> None:
    record = h264.build_avc_config(AVATAR_SPS, AVATAR_PPS)
    # ISO/IEC 14496-15 5.3.3.1.1: chroma_format 1, 8-bit luma/chroma, no SPS extensions.
    assert record == avc_sample("avatar.flv").record + bytes.fromhex("fdf8f800")
    cfg = h264.parse_avc_config(record)
    assert cfg.ext == bytes.fromhex("fdf8f800")
    assert (cfg.sps, cfg.pps) == ((AVATAR_SPS,), (AVATAR_PPS,))


def test_build_avc_config_high10_and_length_size() -> None:
    sps = h264_sps(profile_idc=110, bit_depth=10)
    cfg = h264.parse_avc_config(h264.build_avc_config(sps, b"\x68\xee", length_size=2))
    assert (cfg.profile, cfg.length_size, cfg.ext) == (110, 2, bytes.fromhex("fdfafa00"))


def test_build_avc_config_argument_errors() -> None:
    with pytest.raises(ValueError):
        h264.build_avc_config(b"\x67", b"\x68")
    with pytest.raises(ValueError):
        h264.build_avc_config(BBB_SPS, BBB_PPS, length_size=3)


# --- SPS


@pytest.mark.parametrize(("name", "nalu", "expected"), H264_SPS_CASES, ids=_ids(H264_SPS_CASES))
def test_sps_decode(name: str, nalu: bytes, expected: dict[str, Any]) -> None:
    sps = h264.parse_sps(nalu)
    assert {k: getattr(sps, k) for k in expected} == expected


def test_sps_with_emulation_prevention_is_unescaped() -> None:
    nalu = h264_sps(fps=(1, 50))
    assert b"\x00\x00\x03" in nalu
    assert h264.parse_sps(nalu).fps == 25.0


@pytest.mark.parametrize(("name", "nalu"), H264_SPS_ERRORS, ids=_ids(H264_SPS_ERRORS))
def test_sps_errors(name: str, nalu: bytes) -> None:
    with pytest.raises(ParseError):
        h264.parse_sps(nalu)


def test_sps_broken_vui_keeps_the_resolution() -> None:
    nalu = h264_sps(fps=(1, 50))
    sps = h264.parse_sps(nalu[:-12])  # the timing info is cut off
    assert (sps.width, sps.height, sps.vui_present, sps.fps) == (1280, 720, True, None)


def test_sps_scaling_list_delta_out_of_range() -> None:
    with pytest.raises(ParseError, match="delta_scale"):
        h264.parse_sps(h264_sps(scaling_lists=((200,),)))


def test_constraint_set3_flag() -> None:
    assert h264.parse_sps(h264_sps(profile_idc=66, constraint_flags=0x10, level_idc=11)).constraint_set3


# --- names (SRS srs_avc_profile2str / srs_avc_level2str)


@pytest.mark.parametrize(
    ("profile_idc", "name"),
    [
        (66, "Baseline"),
        (77, "Main"),
        (88, "Extended"),
        (100, "High"),
        (110, "High(10)"),
        (122, "High(422)"),
        (144, "High(444)"),
        (244, "High(444+Predictive)"),
        (578, "Baseline(Constrained)"),
        (0, "Other"),
        (118, "Other"),
    ],
)
def test_profile_names(profile_idc: int, name: str) -> None:
    assert h264.profile_name(profile_idc) == name


@pytest.mark.parametrize(
    ("level_idc", "name"),
    [(10, "1"), (11, "1.1"), (13, "1.3"), (20, "2"), (30, "3"), (31, "3.1"), (32, "3.2"), (40, "4"), (41, "4.1"),
     (50, "5"), (51, "5.1"), (9, "Other"), (42, "Other"), (52, "Other"), (0, "Other")],
)  # fmt: skip
def test_level_names(level_idc: int, name: str) -> None:
    assert h264.level_name(level_idc) == name


# --- slices and B-frames


def _slice(nal_type: int, slice_type: int, first_mb: int = 0) -> bytes:
    return bytes((0x20 | nal_type,)) + BitWriter().ue(first_mb).ue(slice_type).ue(0).rbsp()


@pytest.mark.parametrize(
    ("nalu", "slice_type", "is_b"),
    [
        (_slice(1, 0), 0, False),
        (_slice(1, 1), 1, True),
        (_slice(1, 6), 6, True),  # 5..9: all slices of the picture have the same type
        (_slice(1, 7, first_mb=3000), 7, False),
        (_slice(5, 7), 7, False),
        (_slice(2, 1), 1, True),  # data partition A carries the slice header
        (_slice(3, 1), None, False),  # partitions B/C carry slice_id, not slice_type
        (_slice(4, 1), None, False),
        (b"\x06\x05\x01\xff", None, False),  # SEI whose payload would read as a B slice
        (b"\x09\xf0", None, False),
        (AVATAR_SPS, None, False),
    ],
)
def test_slice_type_and_bframe(nalu: bytes, slice_type: int | None, is_b: bool) -> None:
    assert h264.slice_type(nalu) == slice_type
    assert h264.is_bframe(nalu) is is_b


def test_sei_only_payload_is_never_a_bframe() -> None:
    # 0x06 0x21 ...: read as a slice header this would be first_mb 0, slice_type 1 (B).
    sei = [b"\x06\x21\x00\x80", b"\x06\x05\x10" + bytes(16) + b"\x80"]
    assert not h264.has_bframe(sei)
    assert h264.has_bframe([*sei, _slice(1, 1)])


def test_slice_type_errors() -> None:
    with pytest.raises(ParseError):
        h264.slice_type(b"")
    with pytest.raises(ParseError):
        h264.slice_type(b"\x41")  # no bits for first_mb_in_slice
    with pytest.raises(ParseError):
        h264.slice_type(_slice(1, 10))
    with pytest.raises(ParseError):
        h264.is_bframe(b"")


def test_bframes_of_avatar() -> None:
    sample = avc_sample("avatar.flv")
    frames = [h264.split_avcc(f, sample.config.length_size) for f in sample.frames]
    assert len(frames) == 282
    assert sum(h264.has_bframe(units) for units in frames) == AVATAR_BFRAME_TAGS
    types = {h264.nalu_type(u) for units in frames for u in units}
    assert types == {NaluType.NON_IDR, NaluType.IDR}
    # IDR frames are never B; every B frame is a non-IDR slice.
    assert not any(h264.has_bframe(units) for units in frames if units[0][0] & 0x1F == NaluType.IDR)


def test_bbb_baseline_has_no_bframes() -> None:
    sample = avc_sample("bbb.flv")
    frames = [h264.split_avcc(f) for f in sample.frames]
    assert not any(h264.has_bframe(units) for units in frames)
    # bbb's first frame starts with an SEI (x264 settings), which must not be taken for a slice.
    assert any(h264.nalu_type(u) == NaluType.SEI for units in frames for u in units)
