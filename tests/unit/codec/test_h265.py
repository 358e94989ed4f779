"""HEVC: hvcC, SPS/PPS, names, key frames, B slices; the sample is encoded with PyAV (libx265) at test time."""

from __future__ import annotations

from typing import Any

import pytest

from srs.codec import h265
from srs.codec.h265 import NaluType
from srs.util.errors import ParseError
from unit.codec.cases import (
    H265_SPS_CASES,
    H265_SPS_ERRORS,
    HEVC_PPS,
    HEVC_SPS,
    HEVC_VPS,
    HVCC_CASES,
    HVCC_ERRORS,
    HVCC_RECORD,
)
from unit.codec.samples import BitWriter, h265_sps, hevc_sample


def _ids(cases: list[Any]) -> list[str]:
    return [c[0] for c in cases]


# --- hvcC


@pytest.mark.parametrize(("name", "record", "expected"), HVCC_CASES, ids=_ids(HVCC_CASES))
def test_hvcc_decode_and_round_trip(name: str, record: bytes, expected: dict[str, Any]) -> None:
    cfg = h265.parse_hevc_config(record)
    assert {k: getattr(cfg, k) for k in expected} == expected
    assert bytes(cfg) == record


@pytest.mark.parametrize(("name", "record"), HVCC_ERRORS, ids=_ids(HVCC_ERRORS))
def test_hvcc_errors(name: str, record: bytes) -> None:
    with pytest.raises(ParseError):
        h265.parse_hevc_config(record)


def test_build_hevc_config() -> None:
    assert h265.build_hevc_config(HEVC_VPS, HEVC_SPS, HEVC_PPS) == HVCC_RECORD
    assert h265.build_hevc_config([HEVC_VPS], [HEVC_SPS], [HEVC_PPS]) == HVCC_RECORD
    cfg = h265.parse_hevc_config(
        h265.build_hevc_config(HEVC_VPS, h265_sps(profile_idc=2, bit_depth=10), [], 2)
    )
    assert (cfg.ptl.profile_idc, cfg.bit_depth_luma, cfg.length_size, cfg.pps) == (2, 10, 2, ())
    with pytest.raises(ValueError):
        h265.build_hevc_config(HEVC_VPS, [], HEVC_PPS)
    with pytest.raises(ValueError):
        h265.build_hevc_config(HEVC_VPS, HEVC_SPS, HEVC_PPS, length_size=3)


def test_pyav_hevc_sequence_header() -> None:
    sample = hevc_sample()
    cfg = sample.config
    assert bytes(cfg) == sample.record
    assert cfg.vps == (HEVC_VPS,)
    assert cfg.sps == (HEVC_SPS,)
    assert cfg.pps == (HEVC_PPS,)
    assert [a.nal_type for a in cfg.arrays] == [NaluType.VPS, NaluType.SPS, NaluType.PPS, NaluType.PREFIX_SEI]
    assert (cfg.ptl.profile_idc, cfg.ptl.level_idc, cfg.ptl.tier_flag) == (1, 30, 0)
    assert (sample.sps.width, sample.sps.height) == (160, 120)
    assert (sample.sps.profile, sample.sps.level) == ("Main", "1")
    # Building from the parameter sets gives the same decoder configuration (x265's SEI array aside).
    rebuilt = h265.parse_hevc_config(h265.build_hevc_config(cfg.vps, cfg.sps, cfg.pps))
    assert (rebuilt.ptl, rebuilt.vps, rebuilt.sps, rebuilt.pps) == (cfg.ptl, cfg.vps, cfg.sps, cfg.pps)


# --- SPS / PPS


@pytest.mark.parametrize(("name", "nalu", "expected"), H265_SPS_CASES, ids=_ids(H265_SPS_CASES))
def test_sps_decode(name: str, nalu: bytes, expected: dict[str, Any]) -> None:
    sps = h265.parse_sps(nalu)
    assert {k: getattr(sps, k) for k in expected} == expected


@pytest.mark.parametrize(("name", "nalu"), H265_SPS_ERRORS, ids=_ids(H265_SPS_ERRORS))
def test_sps_errors(name: str, nalu: bytes) -> None:
    with pytest.raises(ParseError):
        h265.parse_sps(nalu)


def test_sps_without_ctb_size_is_still_usable() -> None:
    nalu = h265_sps()
    sps = h265.parse_sps(nalu[:-1])  # cut inside the CTB fields
    assert (sps.width, sps.height, sps.log2_ctb_size, sps.pic_size_in_ctbs) == (1280, 720, None, None)


def test_pps() -> None:
    pps = h265.parse_pps(HEVC_PPS)
    assert pps == h265.H265Pps(0, 0, False, False, 0)
    custom = b"\x44\x01" + BitWriter().ue(5).ue(1).flag(1).flag(1).u(3, 2).rbsp()
    assert h265.parse_pps(custom) == h265.H265Pps(5, 1, True, True, 2)
    for bad in (b"", HEVC_SPS, b"\x44\x01" + BitWriter().ue(64).rbsp(), b"\x44\x01\x80"):
        with pytest.raises(ParseError):
            h265.parse_pps(bad)


# --- names (SRS srs_hevc_profile2str / srs_hevc_level2str)


@pytest.mark.parametrize(
    ("idc", "name"),
    [(1, "Main"), (2, "Main10"), (3, "Main Still Picture"), (4, "Rext"), (0, "Other"), (9, "Other")],
)
def test_profile_names(idc: int, name: str) -> None:
    assert h265.profile_name(idc) == name


@pytest.mark.parametrize(
    ("idc", "name"),
    [(30, "1"), (60, "2"), (63, "2.1"), (90, "3"), (93, "3.1"), (120, "4"), (123, "4.1"), (150, "5"),
     (153, "5.1"), (156, "5.2"), (180, "6"), (183, "6.1"), (186, "6.2"), (0, "Other"), (31, "Other")],
)  # fmt: skip
def test_level_names(idc: int, name: str) -> None:
    assert h265.level_name(idc) == name


# --- key frames and slices


@pytest.mark.parametrize(("nal_type", "key"), [(0, False), (1, False), (9, False), (15, False), (16, True),
                                               (19, True), (20, True), (21, True), (23, True), (24, False),
                                               (32, False), (39, False)])  # fmt: skip
def test_is_keyframe_nalu(nal_type: int, key: bool) -> None:
    assert h265.is_keyframe_nalu(nal_type) is key


def test_nalu_type() -> None:
    assert h265.nalu_type(HEVC_VPS) == NaluType.VPS
    assert h265.nalu_type(b"\x26\x01") == NaluType.IDR_W_RADL
    with pytest.raises(ParseError):
        h265.nalu_type(b"")


def test_pyav_hevc_frames_key_and_b_slices() -> None:
    sample = hevc_sample()
    sps, pps = sample.sps, sample.pps
    first = sample.frames[0]
    assert [h265.nalu_type(n) for n in first] == [NaluType.IDR_N_LP]
    assert h265.is_keyframe_nalu(h265.nalu_type(first[0]))
    assert h265.slice_type(first[0], sps, pps) == 2  # I
    types = [h265.slice_type(n, sps, pps) for units in sample.frames for n in units]
    assert set(types) == {0, 1, 2}  # B, P, I: x265 with its default GOP uses B slices
    bframes = [any(h265.is_bframe(n, sps, pps) for n in units) for units in sample.frames]
    assert sum(bframes) == types.count(0) > 0
    assert not any(h265.is_keyframe_nalu(h265.nalu_type(n)) for units in sample.frames[1:] for n in units)


def _slice(nal_type: int, first: bool, slice_type: int, *, address_bits: int = 0, extra: int = 0) -> bytes:
    w = BitWriter().flag(first)
    if 16 <= nal_type <= 23:
        w.flag(0)  # no_output_of_prior_pics_flag
    w.ue(0)
    if not first:
        w.u(address_bits, 1)
    w.u(extra, 0).ue(slice_type)
    return bytes((nal_type << 1, 1)) + w.rbsp()


def test_slice_type_non_first_segment_reads_the_address() -> None:
    sps = h265.parse_sps(h265_sps())  # 1280x720 in 64x64 CTBs: 240 CTBs -> 8-bit slice_segment_address
    pps = h265.H265Pps(0, 0, False, False, 2)
    assert h265.slice_type(_slice(1, False, 0, address_bits=8, extra=2), sps, pps) == 0
    assert h265.is_bframe(_slice(1, False, 0, address_bits=8, extra=2), sps, pps)
    assert h265.slice_type(_slice(19, True, 2, extra=2), sps, pps) == 2
    assert not h265.is_bframe(_slice(19, True, 0, extra=2), sps, pps)  # IRAP slices are not looked at
    dependent = h265.H265Pps(0, 0, True, False, 0)
    assert h265.slice_type(bytes((2, 1)) + BitWriter().flag(0).ue(0).flag(1).rbsp(), sps, dependent) is None
    assert h265.slice_type(HEVC_VPS, sps, pps) is None
    assert h265.slice_type(b"\x14\x01", sps, pps) is None  # reserved VCL type 10


def test_slice_type_errors() -> None:
    sps = h265.parse_sps(h265_sps())
    pps = h265.H265Pps(0, 0, False, False, 0)
    with pytest.raises(ParseError):
        h265.slice_type(b"\x02", sps, pps)
    with pytest.raises(ParseError):
        h265.slice_type(_slice(1, True, 3), sps, pps)
    no_ctb = h265.parse_sps(h265_sps()[:-1])
    with pytest.raises(ParseError):
        h265.slice_type(_slice(1, False, 0, address_bits=8), no_ctb, pps)
