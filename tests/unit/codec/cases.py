"""Case tables (name, bytes, expected value) for the codec parsers.

Each table drives the decode test, the encode/round-trip test where the structure is symmetric, and seeds
the fuzzers (``tests/fuzz/test_fuzz_codec.py``).
"""

from __future__ import annotations

from typing import Any

from srs.codec import aac, h264, mp3
from unit.codec.samples import BitWriter, h264_sps, h265_sps

# Parameter sets of a 160x120 libx265 clip (PyAV 18 / x265 4.2), used verbatim.
HEVC_VPS = bytes.fromhex("40010c01ffff01600000030090000003000003001e959809")
HEVC_SPS = bytes.fromhex("42010101600000030090000003000003001ea014207965959a4932b9a02000000300200000030321")
HEVC_PPS = bytes.fromhex("4401c172b46240")
# avatar.flv (High 3.2, 768x320) and bbb.flv (Constrained Baseline 3.0, 640x360 with bottom crop).
AVATAR_SPS = bytes.fromhex("67640020acd940c029b011000003000100000300320f183196")
AVATAR_PPS = bytes.fromhex("68ebecb22c")
BBB_SPS = bytes.fromhex("6742c01ed890280bfe5c0440000003004000000c83c58b8980")
BBB_PPS = bytes.fromhex("68c888cb20")

# --- H.264 SPS: (name, nalu, expected attributes)
H264_SPS_CASES: list[tuple[str, bytes, dict[str, Any]]] = [
    (
        "avatar-high-3.2",
        AVATAR_SPS,
        {
            "width": 768,
            "height": 320,
            "profile_idc": 100,
            "level_idc": 32,
            "fps": 25.0,
            "frame_mbs_only": True,
        },
    ),
    (
        "bbb-constrained-baseline-crop",
        BBB_SPS,
        {"width": 640, "height": 360, "profile_idc": 66, "constraint_flags": 0xC0, "crop": (0, 0, 0, 4)},
    ),
    (
        "high-1080p-crop",
        h264_sps(width_mbs=120, height_map_units=68, crop=(0, 0, 0, 4), level_idc=40),
        {"width": 1920, "height": 1080, "level_idc": 40, "vui_present": False, "fps": None},
    ),
    (
        # 7.4.2.1.1: a field-coded frame crops in units of SubHeightC * 2 (SRS computes 1084 here).
        "high-1080i-interlaced",
        h264_sps(width_mbs=120, height_map_units=34, frame_mbs_only=False, crop=(0, 0, 0, 2)),
        {"width": 1920, "height": 1080, "frame_mbs_only": False},
    ),
    (
        "high10",
        h264_sps(profile_idc=110, bit_depth=10),
        {"profile_idc": 110, "bit_depth_luma": 10, "bit_depth_chroma": 10, "width": 1280, "height": 720},
    ),
    (
        "high444-crop-in-luma-units",
        h264_sps(profile_idc=244, chroma_format_idc=3, crop=(0, 4, 0, 2)),
        {"chroma_format_idc": 3, "width": 1276, "height": 718},
    ),
    (
        "high422-crop",
        h264_sps(profile_idc=122, chroma_format_idc=2, crop=(1, 1, 1, 1)),
        {"chroma_format_idc": 2, "width": 1276, "height": 718},
    ),
    (
        "monochrome",
        h264_sps(chroma_format_idc=0, crop=(1, 1, 1, 1)),
        {"chroma_format_idc": 0, "width": 1278, "height": 718},
    ),
    (
        "scaling-lists",
        h264_sps(scaling_lists=((-8,), None, (0,) * 16, None, None, None, (1, -1, 0) + (0,) * 61)),
        {"width": 1280, "height": 720},
    ),
    ("poc-type-1", h264_sps(profile_idc=77, poc_type=1), {"pic_order_cnt_type": 1, "width": 1280}),
    ("baseline-poc-type-2", h264_sps(profile_idc=66, poc_type=2, level_idc=30), {"profile_idc": 66}),
    # num_units_in_tick = 1 puts 00 00 00 01 in the RBSP: the NAL unit carries emulation prevention.
    ("vui-fps-with-emulation-prevention", h264_sps(fps=(1, 50)), {"fps": 25.0}),
    ("vui-ntsc", h264_sps(fps=(1001, 60000)), {"fps": 60000 / 2002}),
]

H264_SPS_ERRORS: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("pps-not-sps", AVATAR_PPS + b"\x00\x00"),
    ("forbidden-bit", b"\xe7" + AVATAR_SPS[1:]),
    ("zero-profile", b"\x67\x00\x00\x1f\xff"),
    ("truncated", AVATAR_SPS[:6]),
    ("only-escapes", b"\x67\x00\x00\x03"),
    ("bad-chroma", b"\x67\x64\x00\x1f" + BitWriter().ue(0).ue(7).rbsp()),
    ("bad-poc-type", b"\x67\x42\x00\x1f" + BitWriter().ue(0).ue(0).ue(3).rbsp()),
    ("crop-eats-picture", h264_sps(width_mbs=1, height_map_units=1, crop=(8, 0, 0, 0))),
]

# --- avcC: (name, record, expected config); bytes(parse(record)) must give the record back.
AVCC_CASES: list[tuple[str, bytes, h264.AvcConfig]] = [
    (
        "avatar",
        bytes.fromhex("01640020ffe10019") + AVATAR_SPS + bytes.fromhex("010005") + AVATAR_PPS,
        h264.AvcConfig(100, 0, 32, 4, (AVATAR_SPS,), (AVATAR_PPS,)),
    ),
    (
        "bbb",
        bytes.fromhex("0142c01effe10019") + BBB_SPS + bytes.fromhex("010005") + BBB_PPS,
        h264.AvcConfig(66, 0xC0, 30, 4, (BBB_SPS,), (BBB_PPS,)),
    ),
    (
        "two-sps-two-pps-length-2",
        bytes.fromhex("014d401ffde2")
        + b"\x00\x04gM@\x1f"
        + b"\x00\x05gM@\x1f\x01"
        + b"\x02"
        + b"\x00\x02h\x01"
        + b"\x00\x02h\x02",
        h264.AvcConfig(77, 0x40, 31, 2, (b"gM@\x1f", b"gM@\x1f\x01"), (b"h\x01", b"h\x02")),
    ),
    (
        "high-with-ext",
        bytes.fromhex("01640028ffe10004")
        + b"gd\x00\x28"
        + bytes.fromhex("01000268ee")
        + bytes.fromhex("fdf8f800"),
        h264.AvcConfig(100, 0, 40, 4, (b"gd\x00\x28",), (b"h\xee",), 1, bytes.fromhex("fdf8f800")),
    ),
    (
        "length-1",
        bytes.fromhex("01420015fce10003") + b"gB\x00" + bytes.fromhex("01000168"),
        h264.AvcConfig(66, 0, 21, 1, (b"gB\x00",), (b"h",)),
    ),
]

AVCC_ERRORS: list[tuple[str, bytes]] = [
    ("short", bytes.fromhex("0164001f")),
    ("length-size-3", bytes.fromhex("01640020fee10000") + b"\x01\x00\x00"),
    ("no-sps", bytes.fromhex("01640020ffe0010001ff")),
    ("no-pps", bytes.fromhex("01640020ffe100016700")),
    ("sps-overrun", bytes.fromhex("01640020ffe1001967")),
    ("pps-count-missing", bytes.fromhex("01640020ffe1000167")),
    ("pps-overrun", bytes.fromhex("01640020ffe100016701000568")),
]

# --- HEVC SPS
H265_SPS_CASES: list[tuple[str, bytes, dict[str, Any]]] = [
    (
        "x265-160x120",
        HEVC_SPS,
        {
            "width": 160,
            "height": 120,
            "profile_idc": 1,
            "level_idc": 30,
            "log2_ctb_size": 6,
            "pic_size_in_ctbs": 6,
        },
    ),
    (
        "main-720p-l3.1",
        h265_sps(),
        {"width": 1280, "height": 720, "level_idc": 93, "profile": "Main", "level": "3.1"},
    ),
    (
        "main10-1080p-window",
        h265_sps(profile_idc=2, level_idc=123, width=1920, height=1088, window=(0, 0, 0, 4), bit_depth=10),
        {"width": 1920, "height": 1080, "profile": "Main10", "level": "4.1", "bit_depth_luma": 10},
    ),
    (
        "rext-444-window-in-luma-units",
        h265_sps(profile_idc=4, chroma_format_idc=3, width=1280, height=720, window=(1, 1, 2, 2)),
        {"width": 1278, "height": 716, "profile": "Rext", "chroma_format_idc": 3},
    ),
    (
        "422-window",
        h265_sps(chroma_format_idc=2, window=(1, 1, 1, 1)),
        {"width": 1276, "height": 718},
    ),
    (
        "high-tier-sub-layers",
        h265_sps(
            tier=1, level_idc=153, max_sub_layers_minus1=2, sub_layer_flags=((True, True), (False, True))
        ),
        {"max_sub_layers": 3, "width": 1280, "level": "5.1", "temporal_id_nesting": True},
    ),
    (
        "still-picture",
        h265_sps(profile_idc=3, level_idc=186),
        {"profile": "Main Still Picture", "level": "6.2"},
    ),
]

H265_SPS_ERRORS: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("vps-not-sps", HEVC_VPS),
    ("forbidden-bit", b"\xc2" + HEVC_SPS[1:]),
    ("truncated-ptl", HEVC_SPS[:10]),
    ("truncated-size", HEVC_SPS[:17]),
    ("window-eats-picture", h265_sps(width=16, height=16, window=(8, 0, 0, 0))),
]

# --- hvcC: static case made from the x265 parameter sets
HVCC_RECORD = (
    bytes.fromhex("0101600000009000000000001ef000fcfdf8f800000f03")
    + b"\xa0\x00\x01"
    + len(HEVC_VPS).to_bytes(2, "big")
    + HEVC_VPS
    + b"\xa1\x00\x01"
    + len(HEVC_SPS).to_bytes(2, "big")
    + HEVC_SPS
    + b"\xa2\x00\x01"
    + len(HEVC_PPS).to_bytes(2, "big")
    + HEVC_PPS
)
HVCC_CASES: list[tuple[str, bytes, dict[str, Any]]] = [
    (
        "x265-vps-sps-pps",
        HVCC_RECORD,
        {
            "length_size": 4,
            "chroma_format": 1,
            "num_temporal_layers": 1,
            "temporal_id_nested": True,
            "vps": (HEVC_VPS,),
            "sps": (HEVC_SPS,),
            "pps": (HEVC_PPS,),
        },
    ),
]

HVCC_ERRORS: list[tuple[str, bytes]] = [
    ("short", HVCC_RECORD[:22]),
    ("version-0", b"\x00" + HVCC_RECORD[1:]),
    ("length-size-3", HVCC_RECORD[:21] + b"\x0e" + HVCC_RECORD[22:]),
    ("array-truncated", HVCC_RECORD[:25]),
    ("nalu-truncated", HVCC_RECORD[:40]),
]

# --- AudioSpecificConfig: (name, asc, expected attributes)
ASC_CASES: list[tuple[str, bytes, dict[str, Any]]] = [
    (
        "lc-44100-stereo",
        bytes.fromhex("1210"),
        {"object_type": 2, "sample_rate": 44100, "channel_config": 2, "sbr": False, "profile": "LC"},
    ),
    (
        "lc-48000-with-sync-extension-no-sbr",  # FFmpeg's aac encoder
        bytes.fromhex("119056e500"),
        {"object_type": 2, "sample_rate": 48000, "channels": 2, "sbr": False, "profile": "LC"},
    ),
    (
        "main-mono",
        bytes.fromhex("0988"),
        {"object_type": 1, "sample_rate": 48000, "channels": 1, "profile": "Main"},
    ),
    ("ssr", bytes.fromhex("1a90"), {"object_type": 3, "sample_rate": 32000, "profile": "SSR"}),
    (
        "he-explicit",
        BitWriter().u(5, 5).u(4, 6).u(4, 2).u(4, 3).u(5, 2).u(3, 0).rbsp(),
        {
            "object_type": 5,
            "sample_rate": 24000,
            "extension_sample_rate": 48000,
            "core_object_type": 2,
            "sbr": True,
            "ps": False,
            "profile": "HE",
            "adts_profile": 1,
        },
    ),
    (
        "hev2-explicit",
        BitWriter().u(5, 29).u(4, 6).u(4, 1).u(4, 3).u(5, 2).u(3, 0).rbsp(),
        {"object_type": 29, "sbr": True, "ps": True, "profile": "HEv2", "channels": 1},
    ),
    (
        "he-implicit-sync-extension",
        BitWriter().u(5, 2).u(4, 6).u(4, 2).u(3, 0).u(11, 0x2B7).u(5, 5).u(1, 1).u(4, 3).rbsp(),
        {"object_type": 2, "sbr": True, "ps": False, "extension_sample_rate": 48000, "profile": "HE"},
    ),
    (
        "hev2-implicit-sync-extension",
        BitWriter()
        .u(5, 2)
        .u(4, 6)
        .u(4, 1)
        .u(3, 0)
        .u(11, 0x2B7)
        .u(5, 5)
        .u(1, 1)
        .u(4, 3)
        .u(11, 0x548)
        .u(1, 1)
        .rbsp(),
        {"sbr": True, "ps": True, "profile": "HEv2"},
    ),
    (
        "explicit-frequency",
        BitWriter().u(5, 2).u(4, 15).u(24, 22000).u(4, 1).u(3, 0).rbsp(),
        {"sampling_index": 15, "sample_rate": 22000, "channels": 1},
    ),
    (
        "escaped-object-type-usac",
        BitWriter().u(5, 31).u(6, 10).u(4, 3).u(4, 2).rbsp(),
        {"object_type": 42, "sample_rate": 48000, "profile": "Other"},
    ),
    ("7.1-channels", bytes.fromhex("1238"), {"channel_config": 7, "channels": 8}),
    ("pce-channel-config-0", bytes.fromhex("1200"), {"channel_config": 0, "channels": 0}),
]

ASC_ERRORS: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("one-byte", b"\x12"),
    ("object-type-0", bytes.fromhex("0210")),
    ("reserved-frequency-13", bytes.fromhex("1690")),
    ("explicit-frequency-truncated", BitWriter().u(5, 2).u(4, 15).u(7, 0).rbsp()[:2]),
    ("explicit-frequency-zero", BitWriter().u(5, 2).u(4, 15).u(24, 0).u(4, 1).rbsp()),
]

# (object_type, sample_rate, channels) -> the ASC build_asc writes; parse_asc must read them back.
ASC_BUILD_CASES: list[tuple[tuple[int, int, int], bytes]] = [
    ((2, 44100, 2), bytes.fromhex("1210")),
    ((2, 48000, 2), bytes.fromhex("1190")),
    ((1, 8000, 1), bytes.fromhex("0d88")),
    ((2, 22000, 1), BitWriter().u(5, 2).u(4, 15).u(24, 22000).u(4, 1).u(3, 0).rbsp()[:-1]),
    ((42, 48000, 2), bytes.fromhex("f94640")),
]

# --- ADTS: (name, header bytes, expected header); bytes(parse(b)) == b
ADTS_CASES: list[tuple[str, bytes, aac.AdtsHeader]] = [
    ("lc-44100-stereo", bytes.fromhex("fff15080 2e7ffc"), aac.AdtsHeader(1, 4, 2, 371)),
    (
        "lc-48000-mono-crc",
        bytes.fromhex("fff04c40 20 1ffc 1234"),
        aac.AdtsHeader(1, 3, 1, 256, protection_absent=False, crc=0x1234),
    ),
    (
        "mpeg2-main-22050-cbr",
        bytes.fromhex("fff918800f0040"),
        aac.AdtsHeader(0, 6, 2, 120, mpeg2=True, buffer_fullness=0x10, raw_data_blocks=0),
    ),
    (
        "flags-and-blocks",
        bytes.fromhex("fff15387efffff"),
        aac.AdtsHeader(
            1,
            4,
            6,
            0x1F7F,
            private_bit=1,
            original_copy=0,
            home=0,
            copyright_id_bit=0,
            copyright_id_start=1,
            buffer_fullness=0x7FF,
            raw_data_blocks=3,
        ),
    ),
]

ADTS_ERRORS: list[tuple[str, bytes]] = [
    ("short", bytes.fromhex("fff150")),
    ("no-sync", bytes.fromhex("ff0150802e7ffc")),
    ("layer-1", bytes.fromhex("fff35080 2e7ffc")),
    ("reserved-frequency", bytes.fromhex("fff17480 2e7ffc")),
    ("length-below-header", bytes.fromhex("fff15080 00dffc")),
    ("crc-truncated", bytes.fromhex("fff05080 2e7ffc")),
]

# --- MP3 frame headers: (name, 4 bytes, expected attributes); bytes(parse(b)) == b
MP3_CASES: list[tuple[str, bytes, dict[str, Any]]] = [
    (
        "mpeg1-l3-128k-44100-stereo",
        bytes.fromhex("fffb9000"),
        {
            "version": mp3.MpegVersion.V1,
            "layer": 3,
            "bitrate_kbps": 128,
            "sample_rate": 44100,
            "channels": 2,
            "frame_length": 417,
            "samples_per_frame": 1152,
            "crc_protected": False,
        },
    ),
    (
        "mpeg1-l3-padding",
        bytes.fromhex("fffb9244"),
        {"frame_length": 418, "padding": True, "channel_mode": mp3.ChannelMode.JOINT_STEREO},
    ),
    (
        "mpeg2-l3-64k-22050-mono",
        bytes.fromhex("fff380c0"),
        {
            "version": mp3.MpegVersion.V2,
            "bitrate_kbps": 64,
            "sample_rate": 22050,
            "channels": 1,
            "frame_length": 208,
            "samples_per_frame": 576,
        },
    ),
    (
        "mpeg2.5-l3-8k-8000",
        bytes.fromhex("ffe318c4"),
        {"version": mp3.MpegVersion.V2_5, "bitrate_kbps": 8, "sample_rate": 8000, "frame_length": 72},
    ),
    (
        "mpeg1-l2-192k-48000",
        bytes.fromhex("fffda400"),
        {
            "layer": 2,
            "bitrate_kbps": 192,
            "sample_rate": 48000,
            "frame_length": 576,
            "samples_per_frame": 1152,
        },
    ),
    (
        "mpeg1-l1-384k-32000-crc",
        bytes.fromhex("fffec80f"),
        {
            "layer": 1,
            "bitrate_kbps": 384,
            "sample_rate": 32000,
            "frame_length": 576,
            "samples_per_frame": 384,
            "crc_protected": True,
            "copyright": 1,
            "original": 1,
            "emphasis": 3,
        },
    ),
    ("free-format", bytes.fromhex("fffb0000"), {"bitrate_kbps": 0, "frame_length": 0}),
]

MP3_ERRORS: list[tuple[str, bytes]] = [
    ("short", bytes.fromhex("fffb90")),
    ("no-sync", bytes.fromhex("fefb9000")),
    ("reserved-version", bytes.fromhex("ffeb9000")),
    ("reserved-layer", bytes.fromhex("fff99000")),
    ("bad-bitrate", bytes.fromhex("fffbf000")),
    ("reserved-frequency", bytes.fromhex("fffb9c00")),
]

# --- NAL framing: (name, AVCC payload, Annex B stream, NAL units)
NALU_CASES: list[tuple[str, bytes, bytes, list[bytes]]] = [
    ("one", b"\x00\x00\x00\x02\x65\x88", b"\x00\x00\x00\x01\x65\x88", [b"\x65\x88"]),
    (
        "sei-idr",
        b"\x00\x00\x00\x03\x06\x05\x01" + b"\x00\x00\x00\x02\x65\x88",
        b"\x00\x00\x00\x01\x06\x05\x01\x00\x00\x00\x01\x65\x88",
        [b"\x06\x05\x01", b"\x65\x88"],
    ),
    (
        "escaped-payload",
        b"\x00\x00\x00\x06\x41\x00\x00\x03\x01\x9a",
        b"\x00\x00\x00\x01\x41\x00\x00\x03\x01\x9a",
        [b"\x41\x00\x00\x03\x01\x9a"],
    ),
]

# (name, escaped NAL payload, RBSP)
EBSP_CASES: list[tuple[str, bytes, bytes]] = [
    ("none", b"\x64\x00\x1f", b"\x64\x00\x1f"),
    ("one", b"\x00\x00\x03\x01", b"\x00\x00\x01"),
    ("two-in-a-row", b"\x00\x00\x03\x00\x00\x03\x00", b"\x00\x00\x00\x00\x00"),
    ("cabac-zero-word-at-end", b"\x80\x00\x00\x03", b"\x80\x00\x00"),
    (
        "all-four-values",
        bytes.fromhex("00000300000300010000030200000303"),
        bytes.fromhex("000000000001000002000003"),
    ),
]
