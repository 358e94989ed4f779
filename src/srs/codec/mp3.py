"""MPEG-1/2/2.5 audio frame header (ISO/IEC 11172-3 2.4.1.3, ISO/IEC 13818-3 2.4.1.3; MPEG 2.5 is the
common Fraunhofer extension). RTMP carries MP3 frames as they are; the server only reads the header for
the stream's sample rate, channels and frame boundaries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from srs.util.errors import ParseError

__all__ = ["ChannelMode", "Mp3Header", "MpegVersion", "parse_header", "split_frames"]


class MpegVersion(IntEnum):
    """The 2-bit ID field (value 1 is reserved)."""

    V2_5 = 0
    V2 = 2
    V1 = 3


class ChannelMode(IntEnum):
    STEREO = 0
    JOINT_STEREO = 1
    DUAL_CHANNEL = 2
    MONO = 3


# bitrate_index -> kbit/s (11172-3 Table 2.4.2.3 / 13818-3 Table 2.4.2.3); 0 = free format, 15 = forbidden.
_BITRATES = {
    (MpegVersion.V1, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (MpegVersion.V1, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (MpegVersion.V1, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (MpegVersion.V2, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (MpegVersion.V2, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_BITRATES[MpegVersion.V2, 3] = _BITRATES[MpegVersion.V2, 2]
for _layer in (1, 2, 3):
    _BITRATES[MpegVersion.V2_5, _layer] = _BITRATES[MpegVersion.V2, _layer]

_SAMPLE_RATES = {
    MpegVersion.V1: (44100, 48000, 32000),
    MpegVersion.V2: (22050, 24000, 16000),
    MpegVersion.V2_5: (11025, 12000, 8000),
}


@dataclass(frozen=True, slots=True)
class Mp3Header:
    """A parsed 4-byte MPEG audio frame header; ``bytes(h)`` re-serializes it."""

    version: MpegVersion
    layer: int  # 1, 2 or 3
    crc_protected: bool  # protection_bit == 0: a 16-bit CRC follows the header
    bitrate_index: int
    sampling_index: int
    padding: bool
    private_bit: int
    channel_mode: ChannelMode
    mode_extension: int
    copyright: int
    original: int
    emphasis: int

    @property
    def bitrate_kbps(self) -> int:
        """0 for free format."""
        return _BITRATES[self.version, self.layer][self.bitrate_index]

    @property
    def sample_rate(self) -> int:
        return _SAMPLE_RATES[self.version][self.sampling_index]

    @property
    def channels(self) -> int:
        return 1 if self.channel_mode is ChannelMode.MONO else 2

    @property
    def samples_per_frame(self) -> int:
        if self.layer == 1:
            return 384
        if self.layer == 2 or self.version is MpegVersion.V1:
            return 1152
        return 576  # Layer III of MPEG-2/2.5 (13818-3 2.4.3.1)

    @property
    def frame_length(self) -> int:
        """Bytes of the whole frame including the header; 0 for free format (not derivable)."""
        bitrate = self.bitrate_kbps * 1000
        if bitrate == 0:
            return 0
        if self.layer == 1:
            return (12 * bitrate // self.sample_rate + int(self.padding)) * 4
        return self.samples_per_frame // 8 * bitrate // self.sample_rate + int(self.padding)

    def __bytes__(self) -> bytes:
        v = (
            (0x7FF << 21)
            | (self.version << 19)
            | ((4 - self.layer) << 17)
            | ((0 if self.crc_protected else 1) << 16)
            | (self.bitrate_index << 12)
            | (self.sampling_index << 10)
            | (int(self.padding) << 9)
            | (self.private_bit << 8)
            | (self.channel_mode << 6)
            | (self.mode_extension << 4)
            | (self.copyright << 3)
            | (self.original << 2)
            | self.emphasis
        )
        return v.to_bytes(4, "big")


def parse_header(data: bytes) -> Mp3Header:
    """Parse the MPEG audio frame header at the start of ``data``."""
    if len(data) < 4:
        raise ParseError(f"MP3 header needs 4 bytes, got {len(data)}")
    v = int.from_bytes(data[:4], "big")
    if v >> 21 != 0x7FF:
        raise ParseError("MP3 frame sync not found")
    version_bits = (v >> 19) & 0x03
    if version_bits == 1:
        raise ParseError("reserved MPEG audio version")
    layer_bits = (v >> 17) & 0x03
    if layer_bits == 0:
        raise ParseError("reserved MPEG audio layer")
    bitrate_index = (v >> 12) & 0x0F
    if bitrate_index == 15:
        raise ParseError("forbidden MP3 bitrate index 15")
    sampling_index = (v >> 10) & 0x03
    if sampling_index == 3:
        raise ParseError("reserved MP3 sampling frequency index")
    return Mp3Header(
        version=MpegVersion(version_bits),
        layer=4 - layer_bits,
        crc_protected=not (v >> 16) & 1,
        bitrate_index=bitrate_index,
        sampling_index=sampling_index,
        padding=bool((v >> 9) & 1),
        private_bit=(v >> 8) & 1,
        channel_mode=ChannelMode((v >> 6) & 0x03),
        mode_extension=(v >> 4) & 0x03,
        copyright=(v >> 3) & 1,
        original=(v >> 2) & 1,
        emphasis=v & 0x03,
    )


def split_frames(data: bytes) -> list[tuple[Mp3Header, bytes]]:
    """Split back-to-back MP3 frames into (header, whole frame) pairs; free format cannot be split."""
    out = []
    pos = 0
    n = len(data)
    while pos < n:
        h = parse_header(data[pos : pos + 4])
        size = h.frame_length
        if size < 4:
            raise ParseError("cannot split a free-format MP3 stream")
        if pos + size > n:
            raise ParseError(f"truncated MP3 frame: {size} bytes at offset {pos}, {n - pos} left")
        out.append((h, data[pos : pos + size]))
        pos += size
    return out
