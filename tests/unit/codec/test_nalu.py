"""NAL unit framing: AVCC <-> Annex B, emulation prevention."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srs.codec import h264, h265, nalu
from srs.util.errors import ParseError
from unit.codec.cases import EBSP_CASES, NALU_CASES


@pytest.mark.parametrize(("name", "avcc", "annexb", "units"), NALU_CASES, ids=[c[0] for c in NALU_CASES])
def test_split_and_join(name: str, avcc: bytes, annexb: bytes, units: list[bytes]) -> None:
    assert nalu.split_avcc(avcc) == units
    assert nalu.split_annexb(annexb) == units
    assert nalu.to_avcc(units) == avcc
    assert nalu.to_annexb(units) == annexb


def test_h264_and_h265_share_the_framing() -> None:
    assert h264.split_avcc is h265.split_avcc is nalu.split_avcc
    assert h264.to_annexb is h265.to_annexb is nalu.to_annexb


@pytest.mark.parametrize("length_size", [1, 2, 3, 4])
def test_avcc_length_sizes(length_size: int) -> None:
    units = [b"\x65" * 5, b"", b"\x41\x9a"]
    data = nalu.to_avcc(units, length_size)
    assert len(data) == 7 + 3 * length_size
    assert data[:length_size] == (5).to_bytes(length_size, "big")
    assert nalu.split_avcc(data, length_size) == units  # empty units survive: lossless


def test_annexb_start_code_variants() -> None:
    # 3- and 4-byte start codes, leading zero_bytes, trailing_zero_8bits, back-to-back start codes
    stream = b"\x00\x00\x00\x00\x01\x09\xf0\x00\x00\x01\x67\x42\x00\x00\x00\x00\x00\x01\x00\x00\x01\x65\x88"
    assert nalu.split_annexb(stream) == [b"\x09\xf0", b"\x67\x42", b"\x65\x88"]


@pytest.mark.parametrize(
    ("data", "length_size"),
    [
        (b"\x00\x00\x00\x05\x65", 4),
        (b"\x00\x00", 4),
        (b"\x00\x09\x65", 2),
        (b"\x05", 1),
        (b"\x01\x02", 5),
        (b"", 0),
    ],
)
def test_split_avcc_errors(data: bytes, length_size: int) -> None:
    with pytest.raises(ParseError):
        nalu.split_avcc(data, length_size)


@pytest.mark.parametrize("data", [b"", b"\x65\x88", b"\x01\x00\x00\x01\x65", b"\x00\x00\x02\x65"])
def test_split_annexb_requires_a_leading_start_code(data: bytes) -> None:
    with pytest.raises(ParseError):
        nalu.split_annexb(data)


def test_to_avcc_refuses_oversized_units() -> None:
    with pytest.raises(ValueError):
        nalu.to_avcc([bytes(256)], 1)


@pytest.mark.parametrize(("name", "ebsp", "rbsp"), EBSP_CASES, ids=[c[0] for c in EBSP_CASES])
def test_emulation_prevention(name: str, ebsp: bytes, rbsp: bytes) -> None:
    assert nalu.ebsp_to_rbsp(ebsp) == rbsp
    assert nalu.rbsp_to_ebsp(rbsp) == ebsp


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_rbsp_round_trip(rbsp: bytes) -> None:
    ebsp = nalu.rbsp_to_ebsp(rbsp)
    assert nalu.ebsp_to_rbsp(ebsp) == rbsp
    # The escaped form never contains a start code (H.264 7.4.1).
    for prefix in (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02"):
        assert prefix not in ebsp


@settings(max_examples=300)
@given(st.lists(st.binary(min_size=1, max_size=40).filter(lambda b: b[-1] != 0), max_size=6))
def test_annexb_round_trip_of_escaped_units(units: list[bytes]) -> None:
    escaped = [nalu.rbsp_to_ebsp(u) for u in units]
    assert nalu.split_annexb(b"\x00\x00\x01" + nalu.to_annexb(escaped)) == escaped
    assert nalu.split_avcc(nalu.to_avcc(escaped)) == escaped
