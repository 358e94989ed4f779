"""Codec info of a stream for the API (``stream.video`` / ``stream.audio``), SRS's names and shapes.

Computed from the cached sequence headers when the API asks (and cached by the stream statistic
per header payload): nothing runs on the media path.

SRS fills these from its demuxer (``SrsStatistic::on_video_info`` / ``on_audio_info``):

* video: codec name (``srs_video_codec_id2str``); for H.264 the profile and level of the avcC
  record (``AVCProfileIndication``/``AVCLevelIndication``) and the SPS picture size; for HEVC the
  SPS profile_tier_level; other codecs ``"Other"``/``"Other"``;
* audio: codec name, sample rate, channels, AAC profile of the first audio object type
  (``srs_aac_object2str``); ``"Other"`` for non-AAC.

Any parse failure gives ``None`` (the API then shows ``null``, as SRS before it knows the codec).
"""

from __future__ import annotations

import struct
from typing import Any

from srs.codec import aac, h264, h265, mp3
from srs.format import flv
from srs.format.flv_audio import AudioCodec
from srs.format.flv_video import VideoCodec
from srs.util.errors import SrsError


def video_info(sh: bytes) -> dict[str, Any] | None:
    """``{codec, profile, level, width, height}`` from a video sequence header tag body."""
    try:
        v = flv.parse_video(sh)
        if v.codec is None:
            return None
        record = sh[v.data_offset :]
        profile = level = "Other"
        width = height = 0
        if v.codec is VideoCodec.AVC:
            cfg = h264.parse_avc_config(record)
            # SRS compat: the profile and level come from the avcC record, the size from the SPS.
            profile, level = h264.profile_name(cfg.profile), h264.level_name(cfg.level)
            sps = h264.parse_sps(cfg.sps[0])
            width, height = sps.width, sps.height
        elif v.codec is VideoCodec.HEVC:
            hcfg = h265.parse_hevc_config(record)
            if not hcfg.sps:
                return None
            hsps = h265.parse_sps(hcfg.sps[0])
            profile, level = hsps.profile, hsps.level
            width, height = hsps.width, hsps.height
        return {
            "codec": flv.video_codec_name(v.codec),
            "profile": profile,
            "level": level,
            "width": width,
            "height": height,
        }
    except (SrsError, ValueError, IndexError):
        return None


def _opus_head(data: bytes) -> tuple[int, int] | None:
    # RFC 7845 5.1 ID header: "OpusHead", version, channel count, pre-skip, input sample rate (LE).
    if len(data) < 19 or data[:8] != b"OpusHead":
        return None
    rate = struct.unpack_from("<I", data, 12)[0]
    return (rate or 48000), data[9]


def audio_info(sh: bytes) -> dict[str, Any] | None:
    """``{codec, sample_rate, channel, profile}`` from an audio sequence header tag body."""
    try:
        a = flv.parse_audio(sh)
        name = flv.audio_codec_name(a.codec)
        payload = sh[a.data_offset :]
        if a.codec is AudioCodec.AAC:
            cfg = aac.parse_asc(payload)
            # SRS compat: the profile is named after the first audio object type. The rate and
            # channels are the AudioSpecificConfig's (SRS shows the FLV SoundRate approximation,
            # e.g. 44100 for a 48 kHz stream; we show the real rate).
            channels = cfg.channels or (a.channels or 0)
            return {
                "codec": name,
                "sample_rate": cfg.sample_rate,
                "channel": channels,
                "profile": aac.profile_name(cfg.object_type),
            }
        if a.codec is AudioCodec.OPUS:
            head = _opus_head(payload)
            if head is not None:
                return {"codec": name, "sample_rate": head[0], "channel": head[1], "profile": "Other"}
        return {
            "codec": name,
            "sample_rate": a.sample_rate or 0,
            "channel": a.channels or 0,
            "profile": "Other",
        }
    except (SrsError, ValueError, IndexError, struct.error):
        return None


def audio_info_from_frame(body: bytes) -> dict[str, Any] | None:
    """Audio info of a codec without sequence header (MP3, legacy codecs), from one frame."""
    try:
        a = flv.parse_audio(body)
        if a.is_sequence_header:
            return None
        rate, channels = a.sample_rate or 0, a.channels or 0
        if a.codec is AudioCodec.MP3:
            try:
                h = mp3.parse_header(body[a.data_offset :])
                rate, channels = h.sample_rate, h.channels
            except SrsError:
                pass  # SRS compat: the FLV SoundRate/SoundType flags, as SRS reports them
        return {
            "codec": flv.audio_codec_name(a.codec),
            "sample_rate": rate,
            "channel": channels,
            "profile": "Other",
        }
    except (SrsError, ValueError, IndexError):
        return None
