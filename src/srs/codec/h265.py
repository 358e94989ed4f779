"""H.265 / HEVC elementary stream: NAL unit types, hvcC, SPS/PPS, slice types (ITU-T H.265, ISO/IEC 14496-15 8.3.3).

Like :mod:`srs.codec.h264` this reads only what the server shows or needs: the decoder configuration
record RTMP carries as the sequence header, profile/tier/level, resolution (conformance window applied),
key frames (IRAP pictures) and B slices. NAL framing helpers are shared with H.264 (:mod:`srs.codec.nalu`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from srs.codec.nalu import ebsp_to_rbsp, rbsp_to_ebsp, split_annexb, split_avcc, to_annexb, to_avcc
from srs.util.buffer import BitReader
from srs.util.errors import ParseError

__all__ = [
    "H265Pps",
    "H265Sps",
    "HevcConfig",
    "HvccArray",
    "NaluType",
    "ProfileTierLevel",
    "build_hevc_config",
    "ebsp_to_rbsp",
    "is_bframe",
    "is_keyframe_nalu",
    "level_name",
    "nalu_type",
    "parse_hevc_config",
    "parse_pps",
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
    """``nal_unit_type`` (H.265 Table 7-1)."""

    TRAIL_N = 0
    TRAIL_R = 1
    TSA_N = 2
    TSA_R = 3
    STSA_N = 4
    STSA_R = 5
    RADL_N = 6
    RADL_R = 7
    RASL_N = 8
    RASL_R = 9
    BLA_W_LP = 16
    BLA_W_RADL = 17
    BLA_N_LP = 18
    IDR_W_RADL = 19
    IDR_N_LP = 20
    CRA = 21
    RSV_IRAP_22 = 22
    RSV_IRAP_23 = 23
    VPS = 32
    SPS = 33
    PPS = 34
    AUD = 35
    EOS = 36
    EOB = 37
    FD = 38
    PREFIX_SEI = 39
    SUFFIX_SEI = 40


def nalu_type(nalu: bytes) -> int:
    """``nal_unit_type`` of an HEVC NAL unit: bits 1..6 of its first header byte (H.265 7.3.1.2)."""
    if not nalu:
        raise ParseError("empty NAL unit")
    return (nalu[0] >> 1) & 0x3F


def is_keyframe_nalu(nal_type: int) -> bool:
    """IRAP pictures (BLA, IDR, CRA and the reserved IRAP types 22/23) are random access points (H.265 3.73)."""
    return 16 <= nal_type <= 23


# --- names, as SRS prints them in the API (srs_hevc_profile2str / srs_hevc_level2str)

_PROFILE_NAMES = {1: "Main", 2: "Main10", 3: "Main Still Picture", 4: "Rext"}
# general_level_idc is 30 times the level number (H.265 A.4).
_LEVEL_NAMES = {
    30: "1",
    60: "2",
    63: "2.1",
    90: "3",
    93: "3.1",
    120: "4",
    123: "4.1",
    150: "5",
    153: "5.1",
    156: "5.2",
    180: "6",
    183: "6.1",
    186: "6.2",
}


def profile_name(profile_idc: int) -> str:
    """SRS's name for ``general_profile_idc``: Main, Main10, Main Still Picture, Rext or Other."""
    return _PROFILE_NAMES.get(profile_idc, "Other")


def level_name(level_idc: int) -> str:
    """SRS's name for ``general_level_idc`` (e.g. 93 -> "3.1"), else "Other"."""
    return _LEVEL_NAMES.get(level_idc, "Other")


# --- profile_tier_level (H.265 7.3.3)


@dataclass(frozen=True, slots=True)
class ProfileTierLevel:
    """The general part of ``profile_tier_level()``; the same fields open an hvcC."""

    profile_space: int
    tier_flag: int
    profile_idc: int
    compatibility_flags: int  # general_profile_compatibility_flag[0..31], flag 0 in the MSB
    constraint_flags: int  # the 48 bits from general_progressive_source_flag on
    level_idc: int


def _parse_ptl(br: BitReader, max_sub_layers_minus1: int) -> ProfileTierLevel:
    profile_space = br.u(2)
    tier = br.u(1)
    profile_idc = br.u(5)
    compat = br.u(32)
    constraints = br.u(48)
    level = br.u(8)
    sub_profile = []
    sub_level = []
    for _ in range(max_sub_layers_minus1):
        sub_profile.append(br.flag())
        sub_level.append(br.flag())
    if max_sub_layers_minus1 > 0:
        br.skip(2 * (8 - max_sub_layers_minus1))  # reserved_zero_2bits
    for i in range(max_sub_layers_minus1):
        if sub_profile[i]:
            br.skip(88)  # sub_layer profile space .. inbld flag
        if sub_level[i]:
            br.skip(8)  # sub_layer_level_idc
    return ProfileTierLevel(profile_space, tier, profile_idc, compat, constraints, level)


# --- Sequence and picture parameter sets (H.265 7.3.2.2, 7.3.2.3)


@dataclass(frozen=True, slots=True)
class H265Sps:
    """The parts of an HEVC SPS the server uses; ``width``/``height`` have the conformance window applied."""

    vps_id: int
    max_sub_layers: int
    temporal_id_nesting: bool
    ptl: ProfileTierLevel
    sps_id: int
    chroma_format_idc: int
    separate_colour_plane: bool
    pic_width: int  # pic_width_in_luma_samples
    pic_height: int
    conformance_window: tuple[int, int, int, int]  # conf_win_{left,right,top,bottom}_offset
    width: int
    height: int
    bit_depth_luma: int
    bit_depth_chroma: int
    log2_max_poc_lsb: int
    log2_ctb_size: int | None = None  # CtbLog2SizeY; None if the SPS ended before it
    pic_size_in_ctbs: int | None = None  # PicSizeInCtbsY

    @property
    def profile_idc(self) -> int:
        return self.ptl.profile_idc

    @property
    def level_idc(self) -> int:
        return self.ptl.level_idc

    @property
    def profile(self) -> str:
        return profile_name(self.ptl.profile_idc)

    @property
    def level(self) -> str:
        return level_name(self.ptl.level_idc)


def _rbsp_of(nalu: bytes, expected: NaluType, what: str) -> bytes:
    if len(nalu) < 3:
        raise ParseError(f"{what} too short: {len(nalu)} bytes")
    if nalu[0] & 0x80:
        raise ParseError(f"{what} forbidden_zero_bit is set")
    if (nalu[0] >> 1) & 0x3F != expected:
        raise ParseError(f"not a {what}: nal_unit_type {(nalu[0] >> 1) & 0x3F}")
    return ebsp_to_rbsp(nalu[2:])


def parse_sps(nalu: bytes) -> H265Sps:
    """Parse an HEVC SPS NAL unit (2-byte header included, emulation prevention bytes allowed)."""
    br = BitReader(_rbsp_of(nalu, NaluType.SPS, "SPS"))
    vps_id = br.u(4)
    max_sub_layers_minus1 = br.u(3)
    if max_sub_layers_minus1 > 6:
        raise ParseError(f"sps_max_sub_layers_minus1 {max_sub_layers_minus1} out of range")
    nesting = br.flag()
    ptl = _parse_ptl(br, max_sub_layers_minus1)
    sps_id = br.ue()
    if sps_id > 15:
        raise ParseError(f"sps_seq_parameter_set_id {sps_id} out of range")
    chroma = br.ue()
    if chroma > 3:
        raise ParseError(f"chroma_format_idc {chroma} out of range")
    separate = br.flag() if chroma == 3 else False
    pic_width = br.ue()
    pic_height = br.ue()
    window = (0, 0, 0, 0)
    if br.flag():  # conformance_window_flag
        window = (br.ue(), br.ue(), br.ue(), br.ue())
    # Table 6-1: SubWidthC/SubHeightC; ChromaArrayType 0 (monochrome or separate planes) counts in luma samples.
    chroma_array_type = 0 if separate else chroma
    sub_w = 2 if chroma_array_type in (1, 2) else 1
    sub_h = 2 if chroma_array_type == 1 else 1
    width = pic_width - sub_w * (window[0] + window[1])
    height = pic_height - sub_h * (window[2] + window[3])
    if width <= 0 or height <= 0:
        raise ParseError(f"SPS conformance window leaves no picture ({width}x{height})")
    bit_depth_luma = br.ue() + 8
    bit_depth_chroma = br.ue() + 8
    if bit_depth_luma > 16 or bit_depth_chroma > 16:
        raise ParseError("SPS bit depth out of range")
    log2_max_poc_lsb = br.ue() + 4
    if log2_max_poc_lsb > 16:
        raise ParseError("log2_max_pic_order_cnt_lsb_minus4 out of range")
    log2_ctb: int | None = None
    ctbs: int | None = None
    try:
        ordering_all = br.flag()  # sps_sub_layer_ordering_info_present_flag
        for _ in range(0 if not ordering_all else max_sub_layers_minus1, max_sub_layers_minus1 + 1):
            br.ue()  # sps_max_dec_pic_buffering_minus1
            br.ue()  # sps_max_num_reorder_pics
            br.ue()  # sps_max_latency_increase_plus1
        log2_min_cb = br.ue() + 3
        log2_ctb = log2_min_cb + br.ue()
        if log2_ctb > 6:  # CtbLog2SizeY is 4..6 (H.265 7.4.3.2.1)
            raise ParseError("CTB size out of range")
        ctb = 1 << log2_ctb
        ctbs = ((pic_width + ctb - 1) >> log2_ctb) * ((pic_height + ctb - 1) >> log2_ctb)
    except ParseError:
        # Only slice parsing of non-first slice segments needs these; keep the SPS usable without them.
        log2_ctb = ctbs = None
    return H265Sps(
        vps_id=vps_id,
        max_sub_layers=max_sub_layers_minus1 + 1,
        temporal_id_nesting=nesting,
        ptl=ptl,
        sps_id=sps_id,
        chroma_format_idc=chroma,
        separate_colour_plane=separate,
        pic_width=pic_width,
        pic_height=pic_height,
        conformance_window=window,
        width=width,
        height=height,
        bit_depth_luma=bit_depth_luma,
        bit_depth_chroma=bit_depth_chroma,
        log2_max_poc_lsb=log2_max_poc_lsb,
        log2_ctb_size=log2_ctb,
        pic_size_in_ctbs=ctbs,
    )


@dataclass(frozen=True, slots=True)
class H265Pps:
    """The start of an HEVC PPS: what a slice segment header needs to reach ``slice_type``."""

    pps_id: int
    sps_id: int
    dependent_slice_segments_enabled: bool
    output_flag_present: bool
    num_extra_slice_header_bits: int


def parse_pps(nalu: bytes) -> H265Pps:
    """Parse the first fields of an HEVC PPS NAL unit (H.265 7.3.2.3.1)."""
    br = BitReader(_rbsp_of(nalu, NaluType.PPS, "PPS"))
    pps_id = br.ue()
    if pps_id > 63:
        raise ParseError(f"pps_pic_parameter_set_id {pps_id} out of range")
    sps_id = br.ue()
    if sps_id > 15:
        raise ParseError(f"pps_seq_parameter_set_id {sps_id} out of range")
    dependent = br.flag()
    output_flag = br.flag()
    extra_bits = br.u(3)
    return H265Pps(pps_id, sps_id, dependent, output_flag, extra_bits)


# --- slices (H.265 7.3.6.1 slice_segment_header)


def slice_type(nalu: bytes, sps: H265Sps, pps: H265Pps) -> int | None:
    """``slice_type`` (0 = B, 1 = P, 2 = I; H.265 Table 7-7) of a VCL NAL unit, else None.

    None as well for a dependent slice segment, which inherits the type of its independent segment.
    """
    nt = nalu_type(nalu)
    if nt > NaluType.RSV_IRAP_23 or 10 <= nt <= 15:
        return None  # not a VCL NAL unit (or a reserved non-IRAP VCL type)
    if len(nalu) < 3:
        raise ParseError("truncated slice segment header")
    br = BitReader(ebsp_to_rbsp(nalu[2:40]))
    first = br.flag()  # first_slice_segment_in_pic_flag
    if 16 <= nt <= 23:
        br.skip(1)  # no_output_of_prior_pics_flag
    br.ue()  # slice_pic_parameter_set_id
    if not first:
        if pps.dependent_slice_segments_enabled and br.flag():
            return None
        if sps.pic_size_in_ctbs is None:
            raise ParseError("SPS lacks the CTB size needed for slice_segment_address")
        br.skip(
            (sps.pic_size_in_ctbs - 1).bit_length()
        )  # slice_segment_address u(v), Ceil(Log2(PicSizeInCtbsY))
    br.skip(pps.num_extra_slice_header_bits)  # slice_reserved_flag[i]
    st = br.ue()
    if st > 2:
        raise ParseError(f"slice_type {st} out of range")
    return st


def is_bframe(nalu: bytes, sps: H265Sps, pps: H265Pps) -> bool:
    """True if the NAL unit is a B slice (SRS ``parse_hevc_bframe`` looks at the non-IRAP slices only)."""
    nt = nalu_type(nalu)
    if nt > NaluType.RASL_R:
        return False
    return slice_type(nalu, sps, pps) == 0


# --- HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1)


@dataclass(frozen=True, slots=True)
class HvccArray:
    """One ``NAL_unit_type`` array of an hvcC."""

    nal_type: int
    nalus: tuple[bytes, ...]
    complete: bool = True  # array_completeness


@dataclass(frozen=True, slots=True)
class HevcConfig:
    """An ``HEVCDecoderConfigurationRecord``; ``bytes(cfg)`` re-serializes it (reserved bits written as 1)."""

    ptl: ProfileTierLevel
    min_spatial_segmentation_idc: int
    parallelism_type: int
    chroma_format: int
    bit_depth_luma: int
    bit_depth_chroma: int
    avg_frame_rate: int  # frames per 256 seconds, 0 = unspecified
    constant_frame_rate: int
    num_temporal_layers: int
    temporal_id_nested: bool
    length_size: int  # lengthSizeMinusOne + 1
    arrays: tuple[HvccArray, ...]
    version: int = 1

    def nalus_of(self, nal_type: int) -> tuple[bytes, ...]:
        return tuple(n for a in self.arrays if a.nal_type == nal_type for n in a.nalus)

    @property
    def vps(self) -> tuple[bytes, ...]:
        return self.nalus_of(NaluType.VPS)

    @property
    def sps(self) -> tuple[bytes, ...]:
        return self.nalus_of(NaluType.SPS)

    @property
    def pps(self) -> tuple[bytes, ...]:
        return self.nalus_of(NaluType.PPS)

    def __bytes__(self) -> bytes:
        p = self.ptl
        out = bytearray((self.version, (p.profile_space << 6) | (p.tier_flag << 5) | p.profile_idc))
        out += p.compatibility_flags.to_bytes(4, "big") + p.constraint_flags.to_bytes(6, "big")
        out += bytes(
            (
                p.level_idc,
                0xF0 | (self.min_spatial_segmentation_idc >> 8),
                self.min_spatial_segmentation_idc & 0xFF,
                0xFC | self.parallelism_type,
                0xFC | self.chroma_format,
                0xF8 | (self.bit_depth_luma - 8),
                0xF8 | (self.bit_depth_chroma - 8),
            )
        )
        out += self.avg_frame_rate.to_bytes(2, "big")
        out.append(
            (self.constant_frame_rate << 6)
            | (self.num_temporal_layers << 3)
            | (int(self.temporal_id_nested) << 2)
            | (self.length_size - 1)
        )
        out.append(len(self.arrays))
        for a in self.arrays:
            out.append((int(a.complete) << 7) | a.nal_type)
            out += len(a.nalus).to_bytes(2, "big")
            for n in a.nalus:
                out += len(n).to_bytes(2, "big") + n
        return bytes(out)


_HVCC_MIN = 23  # configurationVersion .. numOfArrays


def parse_hevc_config(record: bytes) -> HevcConfig:
    """Parse an ``HEVCDecoderConfigurationRecord`` (hvcC) with its arrays of VPS/SPS/PPS/SEI."""
    n = len(record)
    if n < _HVCC_MIN:
        raise ParseError(f"hvcC too short: {n} bytes")
    if record[0] != 1:
        # SRS compat: SrsFormat::hevc_demux_hvcc accepts configurationVersion 1 only.
        raise ParseError(f"hvcC configurationVersion {record[0]} is not 1")
    ptl = ProfileTierLevel(
        record[1] >> 6,
        (record[1] >> 5) & 1,
        record[1] & 0x1F,
        int.from_bytes(record[2:6], "big"),
        int.from_bytes(record[6:12], "big"),
        record[12],
    )
    b = record[21]
    length_size = (b & 0x03) + 1
    if length_size == 3:
        raise ParseError("hvcC lengthSizeMinusOne must not be 2")
    pos = 23
    arrays = []
    for _ in range(record[22]):
        if pos + 3 > n:
            raise ParseError("hvcC truncated in array header")
        head = record[pos]
        count = (record[pos + 1] << 8) | record[pos + 2]
        pos += 3
        units = []
        for _ in range(count):
            if pos + 2 > n:
                raise ParseError("hvcC truncated in NAL unit length")
            size = (record[pos] << 8) | record[pos + 1]
            pos += 2
            if pos + size > n:
                raise ParseError(f"hvcC NAL unit of {size} bytes exceeds the record")
            units.append(record[pos : pos + size])
            pos += size
        arrays.append(HvccArray(head & 0x3F, tuple(units), bool(head & 0x80)))
    return HevcConfig(
        ptl=ptl,
        min_spatial_segmentation_idc=((record[13] & 0x0F) << 8) | record[14],
        parallelism_type=record[15] & 0x03,
        chroma_format=record[16] & 0x03,
        bit_depth_luma=(record[17] & 0x07) + 8,
        bit_depth_chroma=(record[18] & 0x07) + 8,
        avg_frame_rate=(record[19] << 8) | record[20],
        constant_frame_rate=b >> 6,
        num_temporal_layers=(b >> 3) & 0x07,
        temporal_id_nested=bool(b & 0x04),
        length_size=length_size,
        arrays=tuple(arrays),
        version=record[0],
    )


def _as_tuple(v: bytes | Sequence[bytes]) -> tuple[bytes, ...]:
    return (bytes(v),) if isinstance(v, bytes | bytearray) else tuple(bytes(x) for x in v)


def build_hevc_config(
    vps: bytes | Sequence[bytes],
    sps: bytes | Sequence[bytes],
    pps: bytes | Sequence[bytes],
    length_size: int = 4,
) -> bytes:
    """Build an hvcC from VPS, SPS and PPS NAL units; profile/tier/level, chroma and bit depths come from the SPS."""
    vps_t, sps_t, pps_t = _as_tuple(vps), _as_tuple(sps), _as_tuple(pps)
    if not sps_t:
        raise ValueError("need at least one SPS")
    if length_size not in (1, 2, 4):
        raise ValueError(f"invalid NAL length size {length_size}")
    info = parse_sps(sps_t[0])
    cfg = HevcConfig(
        ptl=info.ptl,
        min_spatial_segmentation_idc=0,
        parallelism_type=0,
        chroma_format=info.chroma_format_idc,
        bit_depth_luma=info.bit_depth_luma,
        bit_depth_chroma=info.bit_depth_chroma,
        avg_frame_rate=0,
        constant_frame_rate=0,
        num_temporal_layers=info.max_sub_layers,
        temporal_id_nested=info.temporal_id_nesting,
        length_size=length_size,
        arrays=tuple(
            HvccArray(t, units)
            for t, units in ((NaluType.VPS, vps_t), (NaluType.SPS, sps_t), (NaluType.PPS, pps_t))
            if units
        ),
    )
    return bytes(cfg)
