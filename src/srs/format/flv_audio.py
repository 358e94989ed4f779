"""FLV/RTMP audio tag bodies: legacy ``AUDIODATA`` (Adobe FLV 10.1 E.4.2) and Enhanced RTMP ``ExAudioTagHeader``.

Import these names from :mod:`srs.format.flv`; this module exists only to keep files small.

Legacy layout::

    SoundFormat UB[4] | SoundRate UB[2] | SoundSize UB[1] | SoundType UB[1] | (AAC:) AACPacketType UI8 | data

Enhanced RTMP v2 uses SoundFormat 9 (ExHeader): the low nibble becomes the AudioPacketType and a FourCC
follows (``mp4a``, ``Opus``, ``.mp3``, ``ac-3``, ``ec-3``, ``fLaC``); ModEx prefixes are parsed and
Multitrack is parsed for ``OneTrack`` (several tracks in one message raise :class:`ParseError`).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from srs.format.flv_modex import read_mod_ex
from srs.util.errors import ParseError


class AudioCodec(IntEnum):
    """Audio codec, as the legacy FLV SoundFormat where one exists."""

    LINEAR_PCM = 0  # platform endian
    ADPCM = 1
    MP3 = 2
    LINEAR_PCM_LE = 3
    NELLYMOSER_16K = 4  # 16 kHz mono
    NELLYMOSER_8K = 5  # 8 kHz mono
    NELLYMOSER = 6
    G711_ALAW = 7
    G711_MULAW = 8
    AAC = 10
    SPEEX = 11
    OPUS = 13  # SRS compat: SRS's id for Opus (reserved in FLV 10.1); E-RTMP uses FourCC 'Opus'
    MP3_8K = 14
    DEVICE_SPECIFIC = 15
    AC3 = 16  # not an FLV id: FourCC 'ac-3' only
    EAC3 = 17  # not an FLV id: FourCC 'ec-3' only
    FLAC = 18  # not an FLV id: FourCC 'fLaC' only


class AudioPacketType(IntEnum):
    """Normalised packet type: legacy AACPacketType 0/1 and E-RTMP AudioPacketType share these numbers."""

    SEQUENCE_HEADER = 0
    CODED_FRAMES = 1
    SEQUENCE_END = 2  # E-RTMP
    MULTICHANNEL_CONFIG = 4  # E-RTMP
    MULTITRACK = 5  # E-RTMP
    MOD_EX = 7  # E-RTMP v2
    # The names the two specifications use for the same values.
    SEQUENCE_START = 0
    RAW = 1


class AudioInfo(NamedTuple):
    """What :func:`parse_audio` learnt from an audio tag body."""

    codec: AudioCodec
    packet_type: AudioPacketType  # CODED_FRAMES for legacy codecs without a packet type
    aac_packet_type: int | None  # legacy AAC AACPacketType, or the E-RTMP 'mp4a' packet type if 0/1
    is_sequence_header: bool
    data_offset: int  # where the ASC / raw frame / OpusHead... starts in the body
    enhanced: bool
    fourcc: str | None
    sound_rate: int  # legacy SoundRate flag 0..3 (0 for E-RTMP)
    sound_size: int  # legacy SoundSize flag: 0 = 8-bit, 1 = 16-bit
    sound_type: int  # legacy SoundType flag: 0 = mono, 1 = stereo
    sample_rate: int | None  # Hz from the SoundRate flag (legacy only; AAC's real rate is in the ASC)
    channels: int | None  # from the SoundType flag (legacy only)
    track_id: int | None = None  # E-RTMP Multitrack (OneTrack) track id
    timestamp_offset_nano: int | None = None  # E-RTMP v2 ModEx TimestampOffsetNano


# FLV 10.1 E.4.2.1 SoundRate: 0 = 5.5 kHz, 1 = 11 kHz, 2 = 22 kHz, 3 = 44 kHz (SRS srs_flv_srates).
FLV_SAMPLE_RATES = (5512, 11025, 22050, 44100)

_EX_HEADER = 9
_LEGACY_CODECS: tuple[AudioCodec | None, ...] = tuple(
    AudioCodec(i) if i in {c.value for c in AudioCodec} else None for i in range(16)
)
_PACKET_TYPES: tuple[AudioPacketType | None, ...] = tuple(
    AudioPacketType(i) if i in {t.value for t in AudioPacketType} else None for i in range(16)
)
_FOURCC_CODECS = {
    b"mp4a": AudioCodec.AAC,
    b"Opus": AudioCodec.OPUS,
    b".mp3": AudioCodec.MP3,
    b"ac-3": AudioCodec.AC3,
    b"ec-3": AudioCodec.EAC3,
    b"fLaC": AudioCodec.FLAC,
}
_CODEC_FOURCCS = {v: k for k, v in _FOURCC_CODECS.items()}
_FOURCC_TUPLE = tuple(_FOURCC_CODECS)
_MULTITRACK_ONE_TRACK = 0
_CODED = AudioPacketType.CODED_FRAMES


def parse_audio(body: bytes) -> AudioInfo:
    """Parse the header of an audio tag body (legacy or Enhanced RTMP); the payload itself is not touched."""
    n = len(body)
    if n == 0:
        raise ParseError("empty audio tag")
    b0 = body[0]
    fmt = b0 >> 4
    if fmt == _EX_HEADER:
        return _parse_ex_audio(body, n, b0)
    codec = _LEGACY_CODECS[fmt]
    if codec is None:
        raise ParseError(f"unknown sound format {fmt}")
    rate = (b0 >> 2) & 0x03
    size = (b0 >> 1) & 0x01
    stype = b0 & 0x01
    if codec is not AudioCodec.AAC:
        return AudioInfo(
            codec, _CODED, None, False, 1, False, None, rate, size, stype, FLV_SAMPLE_RATES[rate], stype + 1
        )
    if n < 2:
        raise ParseError("AAC audio tag without AACPacketType")
    apt = body[1]
    if apt > 1:
        raise ParseError(f"invalid AACPacketType {apt}")
    packet_type = AudioPacketType.SEQUENCE_HEADER if apt == 0 else _CODED
    return AudioInfo(
        codec,
        packet_type,
        apt,
        apt == 0,
        2,
        False,
        None,
        rate,
        size,
        stype,
        FLV_SAMPLE_RATES[rate],
        stype + 1,
    )


def _parse_ex_audio(body: bytes, n: int, b0: int) -> AudioInfo:
    pt = b0 & 0x0F
    pos = 1
    pos, pt, nano = read_mod_ex(body, pos, pt, ParseError)
    packet_type = _PACKET_TYPES[pt]
    if packet_type is None:
        raise ParseError(f"reserved audio packet type {pt}")
    multitrack = packet_type is AudioPacketType.MULTITRACK
    if multitrack:
        if pos >= n:
            raise ParseError("truncated audio multitrack header")
        multitrack_type = body[pos] >> 4
        packet_type = _PACKET_TYPES[body[pos] & 0x0F]
        pos += 1
        if packet_type is None or packet_type in (AudioPacketType.MULTITRACK, AudioPacketType.MOD_EX):
            raise ParseError(f"invalid packet type {body[pos - 1] & 0x0F} inside audio multitrack")
        if multitrack_type != _MULTITRACK_ONE_TRACK:
            raise ParseError(
                f"audio multitrack type {multitrack_type} (several tracks per message) is not supported"
            )
    if pos + 4 > n:
        raise ParseError("truncated audio FourCC")
    fourcc = body[pos : pos + 4]
    codec = _FOURCC_CODECS.get(fourcc)
    if codec is None:
        raise ParseError(f"unknown audio FourCC {fourcc!r}")
    pos += 4
    track_id: int | None = None
    if multitrack:
        if pos >= n:
            raise ParseError("truncated audio multitrack track id")
        track_id = body[pos]
        pos += 1
    aac_pt = int(packet_type) if codec is AudioCodec.AAC and packet_type <= 1 else None
    return AudioInfo(
        codec,
        packet_type,
        aac_pt,
        packet_type == 0,
        pos,
        True,
        fourcc.decode("latin-1"),
        0,
        0,
        0,
        None,
        None,
        track_id,
        nano,
    )


def is_audio_sequence_header(body: bytes) -> bool:
    """True for an AAC sequence header (legacy) or any E-RTMP SequenceStart with a known FourCC; never raises."""
    n = len(body)
    if n < 2:
        return False
    b0 = body[0]
    fmt = b0 >> 4
    if fmt == AudioCodec.AAC:
        return body[1] == 0
    if fmt != _EX_HEADER:
        return False
    pt = b0 & 0x0F
    if pt == AudioPacketType.MOD_EX or pt == AudioPacketType.MULTITRACK:
        try:
            return parse_audio(body).is_sequence_header
        except ParseError:
            return False
    return pt == 0 and body.startswith(_FOURCC_TUPLE, 1)


def audio_body(
    codec: AudioCodec,
    packet_type: int,
    data: bytes,
    *,
    sound_rate: int = 3,
    sound_size: int = 1,
    sound_type: int = 1,
    enhanced: bool = False,
    track_id: int | None = None,
) -> bytes:
    """Build an audio tag body; the inverse of :func:`parse_audio`.

    Legacy: the flags byte, plus ``AACPacketType`` for AAC (``packet_type`` is ignored for other codecs).
    FLV 10.1 says AAC is always flagged 44 kHz/16-bit/stereo, which are the defaults. ``enhanced`` writes
    an E-RTMP ExAudioTagHeader with the codec's FourCC (``track_id``: OneTrack Multitrack).
    """
    if enhanced:
        fourcc = _CODEC_FOURCCS.get(codec)
        if fourcc is None:
            raise ValueError(f"no E-RTMP FourCC for {codec!r}")
        if _PACKET_TYPES[packet_type & 0x0F] is None or packet_type > 7:
            raise ValueError(f"invalid E-RTMP audio packet type {packet_type}")
        if track_id is None:
            return bytes((0x90 | packet_type,)) + fourcc + data
        return (
            bytes((0x90 | AudioPacketType.MULTITRACK, (_MULTITRACK_ONE_TRACK << 4) | packet_type))
            + fourcc
            + bytes((track_id,))
            + data
        )
    if codec > 15 or _LEGACY_CODECS[codec] is None:
        raise ValueError(f"{codec!r} has no legacy FLV sound format")
    if not (0 <= sound_rate <= 3 and 0 <= sound_size <= 1 and 0 <= sound_type <= 1):
        raise ValueError("invalid sound flags")
    b0 = (codec << 4) | (sound_rate << 2) | (sound_size << 1) | sound_type
    if codec is AudioCodec.AAC:
        if not 0 <= packet_type <= 1:
            raise ValueError(f"invalid AACPacketType {packet_type}")
        return bytes((b0, packet_type)) + data
    return bytes((b0,)) + data
