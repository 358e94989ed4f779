"""Fuzz the codec parsers: random bytes and mutated real samples; only SrsError subclasses may escape.

Seeds are the case tables of ``tests/unit/codec/cases.py`` plus parameter sets and frames of the real clips.
Where a parse succeeds, the result must also be self-consistent (re-serializing gives what was parsed).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srs.codec import aac, h264, h265, mp3, nalu
from srs.util.errors import SrsError
from unit.codec import cases
from unit.codec.samples import avc_sample, hevc_sample

# SRS_FUZZ_EXAMPLES raises the budget for a longer local run; the suite default stays quick.
FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def mutations(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """A seed with some bytes replaced, then cut or extended; or plain random bytes."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(0, 4))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(data)))
        tail = draw(st.binary(max_size=8)) if draw(st.booleans()) else b""
        return bytes(data[:cut]) + tail if draw(st.booleans()) else bytes(data) + tail

    return st.one_of(st.binary(max_size=96), mutate())


def ours(fn: Callable[[bytes], Any], data: bytes) -> Any:
    """Call a parser; our errors are a fine answer, anything else fails the test."""
    try:
        return fn(data)
    except SrsError:
        return None


AVC = avc_sample("avatar.flv")
HEVC = hevc_sample()

SPS264_SEEDS = [c[1] for c in cases.H264_SPS_CASES] + [c[1] for c in cases.H264_SPS_ERRORS if c[1]]
AVCC_SEEDS = [c[1] for c in cases.AVCC_CASES] + [c[1] for c in cases.AVCC_ERRORS] + [AVC.record]
SLICE264_SEEDS = [u for f in AVC.frames[:20] for u in h264.split_avcc(f)][:40]
SPS265_SEEDS = [c[1] for c in cases.H265_SPS_CASES] + [cases.HEVC_VPS, cases.HEVC_PPS]
HVCC_SEEDS = [c[1] for c in cases.HVCC_CASES] + [c[1] for c in cases.HVCC_ERRORS] + [HEVC.record]
SLICE265_SEEDS = [u for f in HEVC.frames for u in f]
ASC_SEEDS = [c[1] for c in cases.ASC_CASES] + [c[1] for c in cases.ASC_ERRORS if c[1]]
ADTS_SEEDS = [c[1] for c in cases.ADTS_CASES] + [c[1] for c in cases.ADTS_ERRORS]
MP3_SEEDS = [c[1] for c in cases.MP3_CASES] + [c[1] + bytes(420) for c in cases.MP3_CASES]
NAL_SEEDS = [c[1] for c in cases.NALU_CASES] + [c[2] for c in cases.NALU_CASES] + list(AVC.frames[:5])


@FUZZ
@given(mutations(SPS264_SEEDS))
def test_h264_sps(data: bytes) -> None:
    sps = ours(h264.parse_sps, data)
    if sps is not None:
        assert sps.width > 0 and sps.height > 0
        assert 8 <= sps.bit_depth_luma <= 14


@FUZZ
@given(mutations(AVCC_SEEDS))
def test_avcc(data: bytes) -> None:
    cfg = ours(h264.parse_avc_config, data)
    if cfg is not None:
        assert h264.parse_avc_config(bytes(cfg)) == cfg
        assert cfg.sps and cfg.pps and cfg.length_size in (1, 2, 4)


@FUZZ
@given(mutations(SLICE264_SEEDS))
def test_h264_slices(data: bytes) -> None:
    st_ = ours(h264.slice_type, data)
    assert st_ is None or 0 <= st_ <= 9
    ours(h264.is_bframe, data)
    ours(lambda d: h264.has_bframe([d, d[1:]]), data)


@FUZZ
@given(mutations(SPS265_SEEDS))
def test_h265_parameter_sets(data: bytes) -> None:
    sps = ours(h265.parse_sps, data)
    if sps is not None:
        assert sps.width > 0 and sps.height > 0
    ours(h265.parse_pps, data)


@FUZZ
@given(mutations(HVCC_SEEDS))
def test_hvcc(data: bytes) -> None:
    cfg = ours(h265.parse_hevc_config, data)
    if cfg is not None:
        assert h265.parse_hevc_config(bytes(cfg)) == cfg


@FUZZ
@given(mutations(SLICE265_SEEDS))
def test_h265_slices(data: bytes) -> None:
    st_ = ours(lambda d: h265.slice_type(d, HEVC.sps, HEVC.pps), data)
    assert st_ is None or 0 <= st_ <= 2
    ours(lambda d: h265.is_bframe(d, HEVC.sps, HEVC.pps), data)


@FUZZ
@given(mutations(ASC_SEEDS))
def test_asc(data: bytes) -> None:
    cfg = ours(aac.parse_asc, data)
    if cfg is not None:
        assert cfg.sample_rate > 0
        assert cfg.profile in ("Main", "LC", "SSR", "HE", "HEv2", "Other")


@FUZZ
@given(mutations(ADTS_SEEDS))
def test_adts(data: bytes) -> None:
    header = ours(aac.parse_adts, data)
    if header is not None:
        assert bytes(header) == data[: header.header_size]
        assert aac.parse_asc(aac.asc_from_adts(header)).sample_rate == header.sample_rate
    ours(aac.split_adts, data)


@FUZZ
@given(mutations(MP3_SEEDS))
def test_mp3(data: bytes) -> None:
    header = ours(mp3.parse_header, data)
    if header is not None:
        assert bytes(header) == data[:4]
        assert header.frame_length >= 0
    ours(mp3.split_frames, data)


@FUZZ
@given(mutations(NAL_SEEDS), st.sampled_from([1, 2, 3, 4]))
def test_nal_framing(data: bytes, length_size: int) -> None:
    units = ours(lambda d: nalu.split_avcc(d, length_size), data)
    if units is not None:
        assert nalu.to_avcc(units, length_size) == data
    units = ours(nalu.split_annexb, data)
    if units is not None:
        assert all(u and u[-1] != 0 for u in units)
    if b"\x00\x00" not in data:
        assert nalu.ebsp_to_rbsp(data) == nalu.rbsp_to_ebsp(data) == data
