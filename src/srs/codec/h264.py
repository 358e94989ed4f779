"""H.264 / AVC elementary stream: NAL unit types, avcC, SPS, slice types (ITU-T H.264 / ISO/IEC 14496-10).

What the server needs from H.264 is small: the decoder configuration record that RTMP carries as the
sequence header (ISO/IEC 14496-15 5.3.3.1 ``AVCDecoderConfigurationRecord``), the resolution, profile and
level from the SPS (shown by the HTTP API, SRS ``SrsFormat::avc_demux_sps_rbsp``), and whether a slice is
a B slice (SRS drops B frames for WebRTC). Decoding pictures is never our job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from srs.codec.nalu import (
    START_CODE,
    ebsp_to_rbsp,
    rbsp_to_ebsp,
    split_annexb,
    split_avcc,
    to_annexb,
    to_avcc,
)
from srs.util.buffer import BitReader
from srs.util.errors import ParseError

__all__ = [
    "START_CODE",
    "AvcConfig",
    "H264Sps",
    "NaluType",
    "SliceType",
    "build_avc_config",
    "ebsp_to_rbsp",
    "has_bframe",
    "is_bframe",
    "level_name",
    "nalu_type",
    "parse_avc_config",
    "parse_sps",
    "profile_name",
    "rbsp_to_ebsp",
    "slice_type",
    "split_annexb",
    "split_avcc",
    "to_annexb",
    "to_avcc",
]


class NaluType(IntEnum):
    """``nal_unit_type`` (H.264 Table 7-1)."""

    UNSPECIFIED = 0
    NON_IDR = 1  # coded slice of a non-IDR picture
    PARTITION_A = 2
    PARTITION_B = 3
    PARTITION_C = 4
    IDR = 5
    SEI = 6
    SPS = 7
    PPS = 8
    AUD = 9  # access unit delimiter
    END_OF_SEQUENCE = 10
    END_OF_STREAM = 11
    FILLER = 12
    SPS_EXT = 13
    PREFIX = 14
    SUBSET_SPS = 15
    DPS = 16
    AUX_SLICE = 19
    SLICE_EXT = 20
    SLICE_EXT_DEPTH = 21


class SliceType(IntEnum):
    """``slice_type`` modulo 5 (H.264 Table 7-6; values 5..9 mean "all slices of the picture are this type")."""

    P = 0
    B = 1
    I = 2  # noqa: E741 - the spec's name
    SP = 3
    SI = 4


def nalu_type(nalu: bytes) -> int:
    """``nal_unit_type`` of a NAL unit: the low 5 bits of its header byte (H.264 7.3.1)."""
    if not nalu:
        raise ParseError("empty NAL unit")
    return nalu[0] & 0x1F


# --- profile and level strings, as SRS prints them in the API (srs_avc_profile2str / srs_avc_level2str)

# SRS compat: the values above 255 are FFmpeg's FF_PROFILE_H264_* constants that SRS copied; SRS itself only
# ever stores the 8-bit AVCProfileIndication, so the "(Constrained)"/"+Intra" names never reach the API.
_PROFILE_NAMES = {
    66: "Baseline",
    578: "Baseline(Constrained)",
    77: "Main",
    88: "Extended",
    100: "High",
    110: "High(10)",
    2158: "High(10+Intra)",
    122: "High(422)",
    2170: "High(422+Intra)",
    144: "High(444)",
    244: "High(444+Predictive)",
    2192: "High(444+Intra)",
}

# SRS compat: SRS knows only these levels; 1b, 4.2, 5.2, 6.x print as "Other".
_LEVEL_NAMES = {
    10: "1",
    11: "1.1",
    12: "1.2",
    13: "1.3",
    20: "2",
    21: "2.1",
    22: "2.2",
    30: "3",
    31: "3.1",
    32: "3.2",
    40: "4",
    41: "4.1",
    50: "5",
    51: "5.1",
}


def profile_name(profile_idc: int) -> str:
    """SRS's name for an H.264 profile (``AVCProfileIndication``/``profile_idc``), else ``"Other"``."""
    return _PROFILE_NAMES.get(profile_idc, "Other")


def level_name(level_idc: int) -> str:
    """SRS's name for an H.264 level (``level_idc``), else ``"Other"``."""
    return _LEVEL_NAMES.get(level_idc, "Other")


# --- AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)

# profile_idc values whose avcC carries chroma_format/bit depth/SPS-ext after the PPS list (5.3.3.1.1).
_AVCC_EXT_PROFILES = frozenset({100, 110, 122, 144})


@dataclass(frozen=True, slots=True)
class AvcConfig:
    """An ``AVCDecoderConfigurationRecord``; ``bytes(cfg)`` re-serializes it."""

    profile: int  # AVCProfileIndication
    compatibility: int  # profile_compatibility (the constraint_set flags byte)
    level: int  # AVCLevelIndication
    length_size: int  # lengthSizeMinusOne + 1: bytes of each NALU length in the coded frames
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    version: int = 1  # configurationVersion
    ext: bytes = b""  # high-profile extension after the PPS list, kept verbatim for a byte-exact round trip

    def __bytes__(self) -> bytes:
        if not 0 <= len(self.sps) <= 31:
            raise ValueError("an avcC holds at most 31 SPS")
        if len(self.pps) > 255:
            raise ValueError("an avcC holds at most 255 PPS")
        out = bytearray(
            (
                self.version,
                self.profile,
                self.compatibility,
                self.level,
                0xFC | (self.length_size - 1),
                0xE0 | len(self.sps),
            )
        )
        for nalu in self.sps:
            out += len(nalu).to_bytes(2, "big") + nalu
        out.append(len(self.pps))
        for nalu in self.pps:
            out += len(nalu).to_bytes(2, "big") + nalu
        out += self.ext
        return bytes(out)


def parse_avc_config(record: bytes) -> AvcConfig:
    """Parse an ``AVCDecoderConfigurationRecord`` (the body of an AVC sequence header after the 5-byte FLV video header)."""
    n = len(record)
    if n < 7:
        raise ParseError(f"avcC too short: {n} bytes")
    length_size = (record[4] & 0x03) + 1
    if length_size == 3:
        # ISO/IEC 14496-15 5.3.3.1.2: lengthSizeMinusOne is 0, 1 or 3 (SRS rejects 2 too).
        raise ParseError("avcC lengthSizeMinusOne must not be 2")
    pos = 5
    lists: list[tuple[bytes, ...]] = []
    for what, count_mask in (("SPS", 0x1F), ("PPS", 0xFF)):
        if pos >= n:
            raise ParseError(f"avcC truncated before the {what} count")
        count = record[pos] & count_mask
        pos += 1
        if count == 0:
            # SRS compat: SrsFormat::avc_demux_sps_pps refuses a record without SPS or PPS.
            raise ParseError(f"avcC has no {what}")
        units = []
        for _ in range(count):
            if pos + 2 > n:
                raise ParseError(f"avcC truncated in {what} length")
            size = (record[pos] << 8) | record[pos + 1]
            pos += 2
            if pos + size > n:
                raise ParseError(f"avcC {what} of {size} bytes exceeds the record")
            units.append(record[pos : pos + size])
            pos += size
        lists.append(tuple(units))
    return AvcConfig(
        profile=record[1],
        compatibility=record[2],
        level=record[3],
        length_size=length_size,
        sps=lists[0],
        pps=lists[1],
        version=record[0],
        ext=record[pos:],
    )


def build_avc_config(
    sps: bytes | Sequence[bytes], pps: bytes | Sequence[bytes], length_size: int = 4
) -> bytes:
    """Build an ``AVCDecoderConfigurationRecord`` from SPS and PPS NAL units (with their header byte).

    Profile, compatibility and level come from the first SPS (ISO/IEC 14496-15 5.3.3.1.2); high
    profiles get the chroma/bit-depth extension the standard requires (as FFmpeg writes it).
    """
    sps_list = (bytes(sps),) if isinstance(sps, bytes | bytearray) else tuple(bytes(s) for s in sps)
    pps_list = (bytes(pps),) if isinstance(pps, bytes | bytearray) else tuple(bytes(p) for p in pps)
    if not sps_list or len(sps_list[0]) < 4:
        raise ValueError("need an SPS NAL unit of at least 4 bytes")
    if length_size not in (1, 2, 4):
        raise ValueError(f"invalid NAL length size {length_size}")
    first = sps_list[0]
    ext = b""
    if first[1] in _AVCC_EXT_PROFILES:
        info = parse_sps(first)
        ext = bytes(
            (
                0xFC | info.chroma_format_idc,
                0xF8 | (info.bit_depth_luma - 8),
                0xF8 | (info.bit_depth_chroma - 8),
                0,
            )
        )
    cfg = AvcConfig(first[1], first[2], first[3], length_size, sps_list, pps_list, 1, ext)
    return bytes(cfg)


# --- Sequence parameter set (H.264 7.3.2.1.1)

# profile_idc values whose SPS carries chroma_format_idc, bit depths and scaling matrices (7.3.2.1.1).
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


@dataclass(frozen=True, slots=True)
class H264Sps:
    """The parts of an H.264 SPS the server uses; ``width``/``height`` have the cropping applied."""

    profile_idc: int
    constraint_flags: int  # constraint_set0_flag is bit 7 ... constraint_set5_flag bit 2
    level_idc: int
    sps_id: int
    chroma_format_idc: int
    separate_colour_plane: bool
    bit_depth_luma: int
    bit_depth_chroma: int
    log2_max_frame_num: int
    pic_order_cnt_type: int
    max_num_ref_frames: int
    frame_mbs_only: bool
    width: int
    height: int
    crop: tuple[int, int, int, int]  # frame_crop_{left,right,top,bottom}_offset
    vui_present: bool
    fps: float | None = None  # from VUI timing_info (time_scale / (2 * num_units_in_tick)), if present

    @property
    def profile(self) -> str:
        return profile_name(self.profile_idc)

    @property
    def level(self) -> str:
        return level_name(self.level_idc)

    @property
    def constraint_set3(self) -> bool:
        """With level_idc 11 and Baseline/Main/Extended this means level 1b (H.264 A.3.1)."""
        return bool(self.constraint_flags & 0x10)


def _skip_scaling_list(br: BitReader, size: int) -> None:
    # H.264 7.3.2.1.1.1 scaling_list(): delta_scale se(v) until nextScale becomes 0.
    last = 8
    nxt = 8
    for _ in range(size):
        if nxt != 0:
            delta = br.se()
            if not -128 <= delta <= 127:
                raise ParseError(f"SPS delta_scale {delta} out of range")
            nxt = (last + delta + 256) % 256
        last = last if nxt == 0 else nxt


def parse_sps(nalu: bytes) -> H264Sps:
    """Parse an H.264 SPS NAL unit (header byte included, emulation prevention bytes allowed)."""
    if len(nalu) < 4:
        raise ParseError(f"SPS too short: {len(nalu)} bytes")
    if nalu[0] & 0x80:
        raise ParseError("SPS forbidden_zero_bit is set")
    if nalu[0] & 0x1F != NaluType.SPS:
        raise ParseError(f"not an SPS: nal_unit_type {nalu[0] & 0x1F}")
    rbsp = ebsp_to_rbsp(nalu[1:])
    if len(rbsp) < 4:
        raise ParseError("SPS too short")
    profile_idc, constraint_flags, level_idc = rbsp[0], rbsp[1], rbsp[2]
    if profile_idc == 0 or level_idc == 0:
        # SRS compat: avc_demux_sps_rbsp rejects a zero profile_idc or level_idc.
        raise ParseError("SPS profile_idc/level_idc is zero")
    br = BitReader(rbsp[3:])
    sps_id = br.ue()
    if sps_id > 31:
        raise ParseError(f"seq_parameter_set_id {sps_id} out of range")
    chroma_format_idc = 1
    separate_colour_plane = False
    bit_depth_luma = bit_depth_chroma = 8
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = br.ue()
        if chroma_format_idc > 3:
            raise ParseError(f"chroma_format_idc {chroma_format_idc} out of range")
        if chroma_format_idc == 3:
            separate_colour_plane = br.flag()
        bit_depth_luma = br.ue() + 8
        bit_depth_chroma = br.ue() + 8
        if bit_depth_luma > 14 or bit_depth_chroma > 14:
            raise ParseError("SPS bit depth out of range")
        br.skip(1)  # qpprime_y_zero_transform_bypass_flag
        if br.flag():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if br.flag():  # seq_scaling_list_present_flag[i]
                    _skip_scaling_list(br, 16 if i < 6 else 64)
    log2_max_frame_num = br.ue() + 4
    if log2_max_frame_num > 16:
        raise ParseError("log2_max_frame_num_minus4 out of range")
    pic_order_cnt_type = br.ue()
    if pic_order_cnt_type == 0:
        if br.ue() > 12:  # log2_max_pic_order_cnt_lsb_minus4
            raise ParseError("log2_max_pic_order_cnt_lsb_minus4 out of range")
    elif pic_order_cnt_type == 1:
        br.skip(1)  # delta_pic_order_always_zero_flag
        br.se()  # offset_for_non_ref_pic
        br.se()  # offset_for_top_to_bottom_field
        cycle = br.ue()
        if cycle > 255:
            raise ParseError("num_ref_frames_in_pic_order_cnt_cycle out of range")
        for _ in range(cycle):
            br.se()  # offset_for_ref_frame[i]
    elif pic_order_cnt_type != 2:
        raise ParseError(f"pic_order_cnt_type {pic_order_cnt_type} out of range")
    max_num_ref_frames = br.ue()
    br.skip(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = br.ue() + 1
    height_map_units = br.ue() + 1
    frame_mbs_only = br.flag()
    if not frame_mbs_only:
        br.skip(1)  # mb_adaptive_frame_field_flag
    br.skip(1)  # direct_8x8_inference_flag
    crop = (0, 0, 0, 0)
    if br.flag():  # frame_cropping_flag
        crop = (br.ue(), br.ue(), br.ue(), br.ue())
    vui_present = br.flag()

    # 7.4.2.1.1: frame size from macroblocks, minus the cropping rectangle in chroma-dependent units.
    chroma_array_type = 0 if separate_colour_plane else chroma_format_idc
    if chroma_array_type == 0:
        crop_x, crop_y = 1, 2 - frame_mbs_only
    else:
        sub_w = 1 if chroma_array_type == 3 else 2
        sub_h = 2 if chroma_array_type == 1 else 1
        crop_x, crop_y = sub_w, sub_h * (2 - frame_mbs_only)
    width = width_mbs * 16 - crop_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_map_units * 16 - crop_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        raise ParseError(f"SPS cropping leaves no picture ({width}x{height})")
    fps = _parse_vui_fps(br) if vui_present else None
    return H264Sps(
        profile_idc=profile_idc,
        constraint_flags=constraint_flags,
        level_idc=level_idc,
        sps_id=sps_id,
        chroma_format_idc=chroma_format_idc,
        separate_colour_plane=separate_colour_plane,
        bit_depth_luma=bit_depth_luma,
        bit_depth_chroma=bit_depth_chroma,
        log2_max_frame_num=log2_max_frame_num,
        pic_order_cnt_type=pic_order_cnt_type,
        max_num_ref_frames=max_num_ref_frames,
        frame_mbs_only=frame_mbs_only,
        width=width,
        height=height,
        crop=crop,
        vui_present=vui_present,
        fps=fps,
    )


def _parse_vui_fps(br: BitReader) -> float | None:
    """Frame rate from ``vui_parameters()`` timing info (H.264 E.1.1, E.2.1); None if absent or broken.

    A damaged VUI must not cost us the resolution we already have, so errors here are swallowed.
    """
    try:
        # aspect_ratio_info_present_flag, then aspect_ratio_idc == Extended_SAR carries sar_width/height
        if br.flag() and br.u(8) == 255:
            br.skip(32)
        if br.flag():  # overscan_info_present_flag
            br.skip(1)
        if br.flag():  # video_signal_type_present_flag
            br.skip(4)  # video_format, video_full_range_flag
            if br.flag():  # colour_description_present_flag
                br.skip(24)
        if br.flag():  # chroma_loc_info_present_flag
            br.ue()
            br.ue()
        if not br.flag():  # timing_info_present_flag
            return None
        units = br.u(32)
        scale = br.u(32)
    except ParseError:
        return None
    if units == 0 or scale == 0:
        return None
    return scale / (2 * units)


# --- slices and B-frame detection (H.264 7.3.3)

_SLICE_HEADER_TYPES = frozenset({NaluType.NON_IDR, NaluType.PARTITION_A, NaluType.IDR})
_BFRAME_CANDIDATES = frozenset({1, 2, 3, 4})


def slice_type(nalu: bytes) -> int | None:
    """``slice_type`` (0..9) of a coded slice NAL unit, or None when the NAL unit has no slice header.

    Only types 1 (non-IDR slice), 2 (data partition A) and 5 (IDR) start with ``slice_header()``; data
    partitions B and C carry ``slice_id`` instead (7.3.2.9), so they yield None.
    """
    if not nalu:
        raise ParseError("empty NAL unit")
    if nalu[0] & 0x1F not in _SLICE_HEADER_TYPES:
        return None
    # first_mb_in_slice and slice_type are two ue(v) of at most 65 bits each: 17 escaped bytes suffice.
    br = BitReader(ebsp_to_rbsp(nalu[1:20]))
    br.ue()  # first_mb_in_slice
    st = br.ue()
    if st > 9:
        raise ParseError(f"slice_type {st} out of range")
    return st


def is_bframe(nalu: bytes) -> bool:
    """True if the NAL unit is a B slice.

    SRS compat: like ``SrsParsedVideoPacket::parse_avc_bframe`` only NAL types 1-4 (non-IDR slices and
    data partitions) are looked at; SEI, SPS, AUD... are never treated as slices. Partitions B/C have no
    slice_type (see :func:`slice_type`) and count as not-B.
    """
    if not nalu:
        raise ParseError("empty NAL unit")
    if nalu[0] & 0x1F not in _BFRAME_CANDIDATES:
        return False
    st = slice_type(nalu)
    return st is not None and st % 5 == SliceType.B


def has_bframe(nalus: Iterable[bytes]) -> bool:
    """True if any NAL unit of a frame is a B slice (see :func:`is_bframe`)."""
    return any(is_bframe(n) for n in nalus if n)
