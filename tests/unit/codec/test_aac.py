"""AAC: AudioSpecificConfig and ADTS."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srs.codec import aac
from srs.format import flv
from srs.util.errors import ParseError
from unit.codec.cases import ADTS_CASES, ADTS_ERRORS, ASC_BUILD_CASES, ASC_CASES, ASC_ERRORS
from unit.codec.samples import audio_sh, clip_tags, hevc_flv


def _ids(cases: list[Any]) -> list[str]:
    return [c[0] for c in cases]


@pytest.mark.parametrize(("name", "asc", "expected"), ASC_CASES, ids=_ids(ASC_CASES))
def test_asc_decode(name: str, asc: bytes, expected: dict[str, Any]) -> None:
    cfg = aac.parse_asc(asc)
    assert {k: getattr(cfg, k) for k in expected} == expected


@pytest.mark.parametrize(("name", "asc"), ASC_ERRORS, ids=_ids(ASC_ERRORS))
def test_asc_errors(name: str, asc: bytes) -> None:
    with pytest.raises(ParseError):
        aac.parse_asc(asc)


@pytest.mark.parametrize(("args", "asc"), ASC_BUILD_CASES, ids=[str(c[0]) for c in ASC_BUILD_CASES])
def test_build_asc(args: tuple[int, int, int], asc: bytes) -> None:
    assert aac.build_asc(*args) == asc
    cfg = aac.parse_asc(asc)
    assert (cfg.object_type, cfg.sample_rate, cfg.channel_config) == args


@pytest.mark.parametrize("args", [(0, 44100, 2), (96, 44100, 2), (2, 0, 2), (2, 1 << 24, 2), (2, 44100, 16)])
def test_build_asc_argument_errors(args: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        aac.build_asc(*args)


def test_real_asc_of_the_clips() -> None:
    for clip in ("avatar.flv", "bbb.flv"):
        body = audio_sh(clip_tags(clip)).body
        cfg = aac.parse_asc(body[flv.parse_audio(body).data_offset :])
        assert (cfg.object_type, cfg.sample_rate, cfg.channels, cfg.profile) == (2, 44100, 2, "LC")
    _, tags = flv.parse_file(hevc_flv())
    body = audio_sh(tuple(tags)).body
    cfg = aac.parse_asc(body[2:])
    assert (cfg.object_type, cfg.sample_rate, cfg.channels, cfg.sbr) == (2, 48000, 2, False)


@pytest.mark.parametrize(
    ("object_type", "name"),
    [(1, "Main"), (2, "LC"), (3, "SSR"), (5, "HE"), (29, "HEv2"), (4, "Other"), (0, "Other")],
)
def test_profile_names(object_type: int, name: str) -> None:
    assert aac.profile_name(object_type) == name


# --- ADTS


@pytest.mark.parametrize(("name", "data", "expected"), ADTS_CASES, ids=_ids(ADTS_CASES))
def test_adts_decode_and_encode(name: str, data: bytes, expected: aac.AdtsHeader) -> None:
    header = aac.parse_adts(data)
    assert header == expected
    assert bytes(header) == data
    assert header.header_size == len(data)
    assert header.payload_size == header.frame_length - len(data)


@pytest.mark.parametrize(("name", "data"), ADTS_ERRORS, ids=_ids(ADTS_ERRORS))
def test_adts_errors(name: str, data: bytes) -> None:
    with pytest.raises(ParseError):
        aac.parse_adts(data)


def test_adts_field_overflow_is_refused() -> None:
    with pytest.raises(ValueError):
        bytes(aac.AdtsHeader(1, 4, 2, 0x2000))


def test_build_adts_and_back() -> None:
    cfg = aac.parse_asc(bytes.fromhex("1210"))
    header = aac.build_adts(cfg, 364)
    assert header == bytes.fromhex("fff150802e7ffc")
    parsed = aac.parse_adts(header)
    assert (parsed.object_type, parsed.sample_rate, parsed.channel_config, parsed.payload_size) == (
        2,
        44100,
        2,
        364,
    )
    assert aac.asc_from_adts(parsed) == bytes.fromhex("1210")
    assert aac.asc_from_adts(header) == bytes.fromhex("1210")


def test_build_adts_he_aac_signals_lc_at_the_core_rate() -> None:
    # SRS compat (srs_aac_rtmp2ts): HE/HEv2 are carried as LC in ADTS, at the core sampling rate.
    he = aac.parse_asc(next(c[1] for c in ASC_CASES if c[0] == "he-explicit"))
    parsed = aac.parse_adts(aac.build_adts(he, 100))
    assert (parsed.object_type, parsed.sample_rate) == (2, 24000)


def test_build_adts_errors() -> None:
    explicit = aac.parse_asc(next(c[1] for c in ASC_CASES if c[0] == "explicit-frequency"))
    with pytest.raises(ValueError):
        aac.build_adts(explicit, 10)
    lc = aac.parse_asc(bytes.fromhex("1210"))
    with pytest.raises(ValueError):
        aac.build_adts(lc, 0x1FFF)
    with pytest.raises(ValueError):
        aac.build_adts(aac.parse_asc(bytes.fromhex("1260")), 10)  # channel configuration 12


def test_explicit_rate_in_the_table_still_builds_adts() -> None:
    cfg = aac.AacConfig(2, 15, 48000, 2)
    assert aac.parse_adts(aac.build_adts(cfg, 1)).sampling_index == 3


def test_split_adts() -> None:
    cfg = aac.parse_asc(bytes.fromhex("1190"))
    frames = [b"\x21" * 10, b"\x22" * 300, b""]
    stream = b"".join(aac.build_adts(cfg, len(f)) + f for f in frames)
    out = aac.split_adts(stream)
    assert [payload for _, payload in out] == frames
    assert {h.sample_rate for h, _ in out} == {48000}
    with pytest.raises(ParseError):
        aac.split_adts(stream[:20])  # the second frame is cut


@settings(max_examples=300)
@given(
    st.sampled_from([1, 2, 3, 4]),
    st.integers(0, 12),
    st.integers(1, 7),
    st.integers(0, 0x1FFF - 7),
)
def test_adts_round_trip(object_type: int, index: int, channels: int, payload: int) -> None:
    cfg = aac.parse_asc(aac.build_asc(object_type, aac.SAMPLE_RATES[index], channels))
    header = aac.parse_adts(aac.build_adts(cfg, payload))
    assert (header.object_type, header.sampling_index, header.channel_config) == (
        object_type,
        index,
        channels,
    )
    assert header.payload_size == payload
    assert aac.parse_asc(aac.asc_from_adts(header)) == cfg
