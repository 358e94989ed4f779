"""Access units of the shared clips, as the RTMP->RTC bridge will see them: (parameter sets, frames)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from srs.codec import nalu
from srs.codec.h264 import parse_avc_config
from srs.codec.h265 import parse_hevc_config
from srs.format.flv_video import parse_video
from srs.media.message import VIDEO
from srs.remux.rtmp import media_from_rtmp
from support.media import clip
from support.rtmp_client import flv_tags


@dataclass(frozen=True)
class Clip:
    parameter_sets: tuple[bytes, ...]
    frames: tuple[tuple[int, tuple[bytes, ...]], ...]  # (timestamp ms, NALUs)


@cache
def access_units(name: str) -> Clip:
    params: tuple[bytes, ...] = ()
    length_size = 4
    frames: list[tuple[int, tuple[bytes, ...]]] = []
    for t in flv_tags(clip(name)):
        m = media_from_rtmp(int(t.tag_type), t.timestamp, t.body)
        if m is None or m.kind != VIDEO:
            continue
        info = parse_video(m.payload)
        body = m.payload[info.data_offset :]
        if info.packet_type == 0:
            if name.startswith("hevc"):
                hc = parse_hevc_config(body)
                params = hc.nalus_of(32) + hc.nalus_of(33) + hc.nalus_of(34)
                length_size = hc.length_size
            else:
                ac = parse_avc_config(body)
                params = ac.sps + ac.pps
                length_size = ac.length_size
        elif info.packet_type in (1, 3):
            frames.append((m.timestamp, tuple(nalu.split_avcc(body, length_size))))
    assert params and frames
    return Clip(params, tuple(frames))
