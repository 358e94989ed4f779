"""Media for the RTMP -> WebRTC wire tests: FLV audio bodies encoded with PyAV, the shared clips as
media messages, and an Opus decoder to check what the transcoder produced (duration, loudness)."""

from __future__ import annotations

import array
from functools import cache

import av

from srs.media.message import MediaMessage
from srs.remux.rtmp import media_from_rtmp
from support.flv import iter_tags
from support.media import SHARED

AAC_HEAD = 0xAF  # FLV SoundFormat 10 (AAC), 44 kHz, 16-bit, stereo flags (AAC ignores them)
MP3_HEAD = 0x2F  # FLV SoundFormat 2 (MP3), same flags


@cache
def encoded_audio(
    codec: str, rate: int, layout: str, seconds: float, freq: int = 440
) -> tuple[bytes, tuple[bytes, ...], int]:
    """(extradata, packets, samples per packet) of a sine encoded with PyAV's ``codec``."""
    enc = av.CodecContext.create(codec, "w")
    assert isinstance(enc, av.AudioCodecContext)
    enc.sample_rate = rate
    enc.layout = layout
    enc.format = "fltp" if codec == "aac" else "s16p"
    enc.open()
    src = av.open(f"sine=frequency={freq}:sample_rate={rate}:duration={seconds}", format="lavfi")
    packets: list[bytes] = []
    for frame in src.decode(audio=0):
        frame.pts = None
        packets += [bytes(p) for p in enc.encode(frame)]
    packets += [bytes(p) for p in enc.encode(None)]
    src.close()
    return bytes(enc.extradata or b""), tuple(p for p in packets if p), enc.frame_size


def aac_bodies(rate: int = 44100, layout: str = "stereo", seconds: float = 1.0) -> list[tuple[int, bytes]]:
    """(timestamp ms, FLV AAC tag body): the sequence header, then every raw frame."""
    asc, packets, n = encoded_audio("aac", rate, layout, seconds)
    out = [(0, bytes((AAC_HEAD, 0)) + asc)]
    out += [(i * n * 1000 // rate, bytes((AAC_HEAD, 1)) + p) for i, p in enumerate(packets)]
    return out


def mp3_bodies(rate: int = 44100, layout: str = "stereo", seconds: float = 1.0) -> list[tuple[int, bytes]]:
    _, packets, n = encoded_audio("libmp3lame", rate, layout, seconds)
    return [(i * n * 1000 // rate, bytes((MP3_HEAD,)) + p) for i, p in enumerate(packets)]


def clip_messages(name: str) -> list[MediaMessage]:
    """A shared clip's audio/video tags classified as the RTMP ingest does."""
    data = (SHARED / name).read_bytes()
    out = []
    for tag in iter_tags(data):
        m = media_from_rtmp(tag.type, tag.timestamp_ms, tag.data)
        if m is not None:
            out.append(m)
    return out


def decode_opus(packets: list[bytes]) -> tuple[int, int, int]:
    """(samples per channel at 48 kHz, channels, peak absolute s16 sample) of Opus packets, decoded
    by FFmpeg's own Opus decoder (not libopus, which encoded them)."""
    dec = av.CodecContext.create("opus", "r")
    assert isinstance(dec, av.AudioCodecContext)
    dec.sample_rate = 48000
    stereo = any(p[0] & 4 for p in packets)
    dec.layout = "stereo" if stereo else "mono"
    to_s16 = av.AudioResampler(format="s16", layout=dec.layout, rate=48000)
    total = peak = 0
    for p in packets:
        for frame in dec.decode(av.Packet(p)):
            total += frame.samples
            frame.pts = None
            for f in to_s16.resample(frame):
                pcm = array.array("h", bytes(f.planes[0])[: f.samples * 2 * (2 if stereo else 1)])
                peak = max(peak, max((abs(v) for v in pcm), default=0))
    return total, 2 if stereo else 1, peak
