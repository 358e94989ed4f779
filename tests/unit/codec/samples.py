"""Real media for the codec/FLV tests: the shared clips, and short clips encoded on the fly with PyAV.

PyAV bundles a recent FFmpeg whose FLV muxer writes Enhanced RTMP (``hvc1``, ``vp09``, ``Opus``...), so the
E-RTMP samples are produced here, in memory, in well under a second. Also a tiny bit writer to build SPS
NAL units by hand for the corner cases real encoders do not produce.
"""

from __future__ import annotations

import fractions
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from srs.codec import h264, h265
from srs.format import flv
from support.media import clip

# ffprobe -show_streams of the shared clips (Debian ffprobe 5.1), hard-coded.
AVATAR = {"width": 768, "height": 320, "profile": "High", "profile_idc": 100, "level_idc": 32, "fps": 25.0}
BBB = {"width": 640, "height": 360, "profile": "Baseline", "profile_idc": 66, "level_idc": 30, "fps": 25.0}
AVATAR_TAGS = {"audio": 487, "video": 284, "script": 1}
BBB_TAGS = {"audio": 433, "video": 252, "script": 1}
AVATAR_BFRAME_TAGS = 117  # video tags of avatar.flv that contain a B slice (has_b_frames=2 per ffprobe)


@cache
def clip_bytes(name: str) -> bytes:
    return clip(name).read_bytes()


@cache
def clip_tags(name: str) -> tuple[flv.FlvTag, ...]:
    return tuple(flv.parse_file(clip_bytes(name))[1])


def first_tag(tags: tuple[flv.FlvTag, ...], pred: Callable[[flv.FlvTag], bool]) -> flv.FlvTag:
    for t in tags:
        if pred(t):
            return t
    raise LookupError("no such tag")


def video_sh(tags: tuple[flv.FlvTag, ...]) -> flv.FlvTag:
    return first_tag(tags, lambda t: t.tag_type == flv.TagType.VIDEO and flv.is_video_sequence_header(t.body))


def audio_sh(tags: tuple[flv.FlvTag, ...]) -> flv.FlvTag:
    return first_tag(tags, lambda t: t.tag_type == flv.TagType.AUDIO and flv.is_audio_sequence_header(t.body))


@dataclass(frozen=True)
class AvcSample:
    record: bytes
    config: h264.AvcConfig
    frames: tuple[bytes, ...]  # AVCC payloads of the coded frames, in file order


@cache
def avc_sample(name: str) -> AvcSample:
    tags = clip_tags(name)
    sh = video_sh(tags)
    record = sh.body[5:]
    frames = tuple(
        t.body[5:]
        for t in tags
        if t.tag_type == flv.TagType.VIDEO
        and flv.parse_video(t.body).packet_type == flv.VideoPacketType.CODED_FRAMES
    )
    return AvcSample(record, h264.parse_avc_config(record), frames)


# --- PyAV clips (Enhanced RTMP)


@cache
def pyav_flv(vcodec: str, acodec: str | None, frames: int = 12) -> bytes:
    """A small FLV (160x120, 25 fps, B-frames where the codec has them) encoded in memory."""
    import av
    from av.video.frame import PictureType

    buf = io.BytesIO()
    out = av.open(buf, "w", format="flv")
    vs: Any = out.add_stream(vcodec, rate=25)
    vs.width, vs.height, vs.pix_fmt = 160, 120, "yuv420p"
    if vcodec == "libx265":
        vs.options = {"x265-params": "log-level=error"}
    as_: Any = out.add_stream(acodec, rate=48000) if acodec else None
    src = av.open("testsrc2=size=160x120:rate=25", format="lavfi")
    for n, frame in enumerate(src.decode(video=0)):
        if n >= frames:
            break
        frame.pts = n
        frame.time_base = fractions.Fraction(1, 25)
        # lavfi marks every frame I; left like that the encoder would code intra-only.
        frame.pict_type = PictureType.NONE
        for p in vs.encode(frame):
            out.mux(p)
    for p in vs.encode(None):
        out.mux(p)
    src.close()
    if as_ is not None:
        asrc = av.open("sine=frequency=440:sample_rate=48000:duration=0.3", format="lavfi")
        for aframe in asrc.decode(audio=0):
            aframe.pts = None
            for p in as_.encode(aframe):
                out.mux(p)
        for p in as_.encode(None):
            out.mux(p)
        asrc.close()
    out.close()
    return buf.getvalue()


def hevc_flv() -> bytes:
    """HEVC (E-RTMP 'hvc1') + AAC (legacy)."""
    return pyav_flv("libx265", "aac")


def vp9_opus_flv() -> bytes:
    """VP9 (E-RTMP 'vp09') + Opus (E-RTMP 'Opus')."""
    return pyav_flv("libvpx-vp9", "libopus")


def mp3_flv() -> bytes:
    """H.264 + MP3 (both legacy)."""
    return pyav_flv("libx264", "libmp3lame")


@dataclass(frozen=True)
class HevcSample:
    record: bytes
    config: h265.HevcConfig
    sps: h265.H265Sps
    pps: h265.H265Pps
    frames: tuple[tuple[bytes, ...], ...]  # NAL units of each coded frame
    bodies: tuple[bytes, ...]  # every video tag body


@cache
def hevc_sample() -> HevcSample:
    _, tags = flv.parse_file(hevc_flv())
    bodies = tuple(t.body for t in tags if t.tag_type == flv.TagType.VIDEO)
    sh = next(b for b in bodies if flv.is_video_sequence_header(b))
    record = sh[flv.parse_video(sh).data_offset :]
    cfg = h265.parse_hevc_config(record)
    frames = []
    for b in bodies:
        info = flv.parse_video(b)
        if info.packet_type in (flv.VideoPacketType.CODED_FRAMES, flv.VideoPacketType.CODED_FRAMES_X):
            frames.append(tuple(h265.split_avcc(b[info.data_offset :], cfg.length_size)))
    return HevcSample(
        record, cfg, h265.parse_sps(cfg.sps[0]), h265.parse_pps(cfg.pps[0]), tuple(frames), bodies
    )


# --- building parameter sets by hand


class BitWriter:
    """MSB-first bit writer with Exp-Golomb codes, for hand-made SPS/PPS."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, v: int) -> BitWriter:
        self.bits.extend((v >> (n - 1 - i)) & 1 for i in range(n))
        return self

    def flag(self, v: bool | int) -> BitWriter:
        return self.u(1, int(bool(v)))

    def ue(self, v: int) -> BitWriter:
        code = v + 1
        n = code.bit_length()
        return self.u(n - 1, 0).u(n, code)

    def se(self, v: int) -> BitWriter:
        return self.ue(2 * v - 1 if v > 0 else -2 * v)

    def rbsp(self) -> bytes:
        """With rbsp_trailing_bits (a stop bit, then zero bits to the byte boundary)."""
        bits = [*self.bits, 1]
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def h264_sps(
    *,
    profile_idc: int = 100,
    constraint_flags: int = 0,
    level_idc: int = 31,
    chroma_format_idc: int = 1,
    separate_colour_plane: bool = False,
    bit_depth: int = 8,
    scaling_lists: tuple[tuple[int, ...] | None, ...] = (),
    poc_type: int = 0,
    width_mbs: int = 80,
    height_map_units: int = 45,
    frame_mbs_only: bool = True,
    crop: tuple[int, int, int, int] | None = None,
    fps: tuple[int, int] | None = None,  # (num_units_in_tick, time_scale)
) -> bytes:
    """An H.264 SPS NAL unit (7.3.2.1.1), emulation prevention applied."""
    w = BitWriter().ue(0)  # seq_parameter_set_id
    if profile_idc in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        w.ue(chroma_format_idc)
        if chroma_format_idc == 3:
            w.flag(separate_colour_plane)
        w.ue(bit_depth - 8).ue(bit_depth - 8).flag(0)
        w.flag(bool(scaling_lists))
        if scaling_lists:
            for i in range(8 if chroma_format_idc != 3 else 12):
                deltas = scaling_lists[i] if i < len(scaling_lists) else None
                w.flag(deltas is not None)
                for d in deltas or ():
                    w.se(d)
    w.ue(0)  # log2_max_frame_num_minus4
    w.ue(poc_type)
    if poc_type == 0:
        w.ue(2)
    elif poc_type == 1:
        w.flag(0).se(-1).se(2).ue(2).se(3).se(-4)
    w.ue(4)  # max_num_ref_frames
    w.flag(0)  # gaps_in_frame_num_value_allowed_flag
    w.ue(width_mbs - 1).ue(height_map_units - 1)
    w.flag(frame_mbs_only)
    if not frame_mbs_only:
        w.flag(1)  # mb_adaptive_frame_field_flag
    w.flag(1)  # direct_8x8_inference_flag
    w.flag(crop is not None)
    for c in crop or ():
        w.ue(c)
    w.flag(fps is not None)  # vui_parameters_present_flag
    if fps is not None:
        w.flag(1).u(8, 255).u(16, 1).u(16, 1)  # aspect_ratio: Extended_SAR 1:1
        w.flag(0)  # overscan
        w.flag(1).u(3, 5).flag(0).flag(1).u(24, 0x010101)  # video signal type + colour description
        w.flag(1).ue(0).ue(0)  # chroma_loc
        w.flag(1).u(32, fps[0]).u(32, fps[1]).flag(1)  # timing info, fixed_frame_rate_flag
        w.flag(0).flag(0).flag(0).flag(0)  # nal/vcl hrd, pic_struct, bitstream_restriction
    body = bytes((profile_idc, constraint_flags, level_idc)) + w.rbsp()
    return b"\x67" + h264.rbsp_to_ebsp(body)


def h265_sps(
    *,
    profile_idc: int = 1,
    tier: int = 0,
    level_idc: int = 93,
    compat: int = 0x60000000,
    max_sub_layers_minus1: int = 0,
    sub_layer_flags: tuple[tuple[bool, bool], ...] = (),
    chroma_format_idc: int = 1,
    separate_colour_plane: bool = False,
    width: int = 1280,
    height: int = 720,
    window: tuple[int, int, int, int] | None = None,
    bit_depth: int = 8,
) -> bytes:
    """An HEVC SPS NAL unit (H.265 7.3.2.2.1) up to the CTB size, emulation prevention applied."""
    w = BitWriter().u(4, 0).u(3, max_sub_layers_minus1).flag(1)
    # profile_tier_level(1, max_sub_layers_minus1)
    w.u(2, 0).u(1, tier).u(5, profile_idc).u(32, compat).u(48, 0x900000000000).u(8, level_idc)
    flags = list(sub_layer_flags) + [(False, False)] * (max_sub_layers_minus1 - len(sub_layer_flags))
    for p, lv in flags:
        w.flag(p).flag(lv)
    if max_sub_layers_minus1 > 0:
        w.u(2 * (8 - max_sub_layers_minus1), 0)
    for p, lv in flags:
        if p:
            w.u(88, 0x0160000000900000000000)
        if lv:
            w.u(8, level_idc)
    w.ue(0)  # sps_seq_parameter_set_id
    w.ue(chroma_format_idc)
    if chroma_format_idc == 3:
        w.flag(separate_colour_plane)
    w.ue(width).ue(height)
    w.flag(window is not None)
    for c in window or ():
        w.ue(c)
    w.ue(bit_depth - 8).ue(bit_depth - 8).ue(4)  # bit depths, log2_max_pic_order_cnt_lsb_minus4
    w.flag(1)  # sps_sub_layer_ordering_info_present_flag
    for _ in range(max_sub_layers_minus1 + 1):
        w.ue(4).ue(2).ue(0)
    w.ue(0).ue(3)  # log2_min_luma_coding_block_size_minus3 = 0 (8), diff = 3 -> CTB 64
    return b"\x42\x01" + h265.rbsp_to_ebsp(w.rbsp())
