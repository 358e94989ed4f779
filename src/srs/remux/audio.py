"""Media messages -> raw audio streams for HTTP-AAC and HTTP-MP3 players (``http_remux`` mounts
ending in ``.aac`` / ``.mp3``), as SRS's ``SrsAacStreamEncoder`` / ``SrsMp3StreamEncoder`` write them:
ADTS frames, or MP3 frames after SRS's 20-byte ID3v2 header. Video and other codecs are left out.
"""

from __future__ import annotations

from srs.codec import aac
from srs.format.flv import AudioCodec, parse_audio
from srs.media.message import AUDIO, MediaMessage
from srs.util.errors import SrsError

# SrsMp3Transmuxer::write_header: "ID3", version 3.0, no flags, size 10, one empty frame header.
MP3_ID3_HEADER = b"ID3\x03\x00\x00\x00\x00\x00\x0a" + bytes(10)


class AacWire:
    """ADTS: the AudioSpecificConfig of the sequence header gives each raw frame its header; one
    object per source (the Source shares it between players), so it sees every message in order."""

    __slots__ = ("_asc",)
    key = ("aac",)
    preamble = b""

    def __init__(self) -> None:
        self._asc: aac.AacConfig | None = None

    def encode(self, msg: MediaMessage) -> bytes:
        if msg.kind != AUDIO or msg.codec != AudioCodec.AAC:
            return b""
        try:
            info = parse_audio(msg.payload)
            data = msg.payload[info.data_offset :]
            if info.is_sequence_header:
                self._asc = aac.parse_asc(data)
                return b""
            if self._asc is None or not data:
                return b""
            return aac.build_adts(self._asc, len(data)) + data
        except (SrsError, ValueError):
            return b""


class Mp3Wire:
    """MP3 frames as they are, after SRS's ID3v2 header."""

    __slots__ = ()
    key = ("mp3",)
    preamble = MP3_ID3_HEADER

    def encode(self, msg: MediaMessage) -> bytes:
        if msg.kind != AUDIO or msg.codec != AudioCodec.MP3:
            return b""
        try:
            info = parse_audio(msg.payload)
        except SrsError:
            return b""
        return msg.payload[info.data_offset :]
