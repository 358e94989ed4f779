"""AAC: AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) and ADTS headers (ISO/IEC 14496-3 1.A.2.2, 13818-7 6.2).

RTMP carries the AudioSpecificConfig (ASC) as the AAC sequence header and raw access units after it;
MPEG-TS carries ADTS frames. Converting between the two needs only the object type, sampling frequency
and channel configuration, which is what this module reads and writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from srs.util.buffer import BitReader
from srs.util.errors import ParseError

__all__ = [
    "SAMPLE_RATES",
    "AacConfig",
    "AdtsHeader",
    "asc_from_adts",
    "build_adts",
    "build_asc",
    "parse_adts",
    "parse_asc",
    "profile_name",
    "split_adts",
]

# samplingFrequencyIndex 0..12 (ISO/IEC 14496-3 Table 1.18); 13, 14 reserved, 15 = explicit 24-bit value.
SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
_EXPLICIT_RATE = 15

# Audio object types (Table 1.17) the server cares about.
AOT_MAIN = 1
AOT_LC = 2
AOT_SSR = 3
AOT_SBR = 5  # HE-AAC (explicit hierarchical signalling)
AOT_PS = 29  # HE-AAC v2

# channelConfiguration -> number of channels (Table 1.19; 0 = defined in a program_config_element).
_CHANNELS = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8, 11: 7, 12: 8, 13: 24, 14: 8}

# Object types whose ASC continues with GASpecificConfig (1.6.2.1).
_GA_TYPES = frozenset({1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23})

# SRS compat: srs_aac_object2str names by audio object type.
_PROFILE_NAMES = {AOT_MAIN: "Main", AOT_LC: "LC", AOT_SSR: "SSR", AOT_SBR: "HE", AOT_PS: "HEv2"}


def profile_name(object_type: int) -> str:
    """SRS's name for an AAC audio object type: Main, LC, SSR, HE, HEv2 or Other."""
    return _PROFILE_NAMES.get(object_type, "Other")


@dataclass(frozen=True, slots=True)
class AacConfig:
    """An AudioSpecificConfig, reduced to what RTMP/TS/RTC bridging needs."""

    object_type: int  # the first audioObjectType (5 = SBR, 29 = PS for explicit HE-AAC)
    sampling_index: int  # samplingFrequencyIndex (15 = explicit frequency)
    sample_rate: int  # Hz of the core decoder
    channel_config: int  # channelConfiguration
    sbr: bool = False  # SBR signalled (explicitly, or by the backward-compatible sync extension)
    ps: bool = False  # parametric stereo signalled
    extension_sample_rate: int | None = None  # output rate with SBR
    core_object_type: int | None = None  # the underlying object type of explicit HE-AAC (usually 2)

    @property
    def channels(self) -> int:
        return _CHANNELS.get(self.channel_config, 0)

    @property
    def profile(self) -> str:
        """Profile name including implicit SBR/PS signalling ("HEv2" > "HE" > the object type's name).

        SRS's API (``srs_aac_object2str``) names the first object type only: use
        ``profile_name(cfg.object_type)`` for a byte-exact SRS string.
        """
        if self.ps:
            return "HEv2"
        if self.sbr:
            return "HE"
        return profile_name(self.object_type)

    @property
    def adts_profile(self) -> int:
        """ADTS ``profile`` field (object type - 1); SRS compat: HE/HEv2 map to LC (``srs_aac_rtmp2ts``)."""
        ot = self.core_object_type if self.object_type in (AOT_SBR, AOT_PS) else self.object_type
        if ot is None or not 1 <= ot <= 4:
            ot = AOT_LC
        return ot - 1


def _object_type(br: BitReader) -> int:
    # GetAudioObjectType() (1.6.2.1): 5 bits, 31 escapes to 32 + 6 more bits.
    ot = br.u(5)
    return 32 + br.u(6) if ot == 31 else ot


def _frequency(br: BitReader) -> tuple[int, int]:
    index = br.u(4)
    if index == _EXPLICIT_RATE:
        rate = br.u(24)
        if rate == 0:
            raise ParseError("AAC explicit sampling frequency is 0")
        return index, rate
    if index >= len(SAMPLE_RATES):
        raise ParseError(f"reserved AAC samplingFrequencyIndex {index}")
    return index, SAMPLE_RATES[index]


def parse_asc(asc: bytes) -> AacConfig:
    """Parse an AudioSpecificConfig: object type, sampling frequency (incl. the explicit 24-bit one),
    channels, and SBR/PS signalling (explicit hierarchical, or the backward-compatible 0x2b7 extension)."""
    if len(asc) < 2:
        raise ParseError(f"AudioSpecificConfig too short: {len(asc)} bytes")
    br = BitReader(bytes(asc))
    object_type = _object_type(br)
    if object_type == 0:
        # SRS compat: audio_aac_sequence_header_demux rejects the reserved object type 0.
        raise ParseError("AAC audio object type 0 is reserved")
    index, rate = _frequency(br)
    channel_config = br.u(4)
    sbr = ps = False
    ext_rate: int | None = None
    core: int | None = None
    ot = object_type
    if object_type in (AOT_SBR, AOT_PS):
        sbr = True
        ps = object_type == AOT_PS
        _, ext_rate = _frequency(br)
        core = ot = _object_type(br)
        if ot == 22:
            br.skip(4)  # extensionChannelConfiguration
    if ot in _GA_TYPES and channel_config != 0:
        # GASpecificConfig (4.4.1): frameLengthFlag, dependsOnCoreCoder (+coreCoderDelay), extensionFlag.
        # A channelConfiguration of 0 embeds a program_config_element we do not walk.
        try:
            br.skip(1)
            if br.flag():
                br.skip(14)
            extension = br.flag()
            if ot in (6, 20):
                br.skip(3)  # layerNr
            if extension:
                if ot == 22:
                    br.skip(16)  # numOfSubFrame, layer_length
                if ot in (17, 19, 20, 23):
                    br.skip(3)  # resilience flags
                br.skip(1)  # extensionFlag3
            # Backward-compatible (implicit) SBR/PS signalling, 1.6.2.1 syncExtensionType 0x2b7, then
            # extensionAudioObjectType == SBR and sbrPresentFlag.
            if (
                not sbr
                and br.bits_left >= 16
                and br.u(11) == 0x2B7
                and _object_type(br) == AOT_SBR
                and br.flag()
            ):
                sbr = True
                _, ext_rate = _frequency(br)
                if br.bits_left >= 12 and br.u(11) == 0x548:
                    ps = br.flag()
        except ParseError:
            pass  # a short tail after the fields we need is not an error (SRS reads 2 bytes only)
    return AacConfig(object_type, index, rate, channel_config, sbr, ps, ext_rate, core)


def build_asc(object_type: int, sample_rate: int, channels: int) -> bytes:
    """Build a minimal AudioSpecificConfig + GASpecificConfig (1024-sample frames, no extensions).

    ``channels`` is the channelConfiguration (1..7); a rate outside the index table is written as the
    explicit 24-bit frequency.
    """
    if not 1 <= object_type <= 95:
        raise ValueError(f"invalid audio object type {object_type}")
    if not 0 <= channels <= 15:
        raise ValueError(f"invalid channel configuration {channels}")
    bits = 0
    nbits = 0

    def put(value: int, n: int) -> None:
        nonlocal bits, nbits
        bits = (bits << n) | value
        nbits += n

    if object_type >= 31:
        put(31, 5)
        put(object_type - 32, 6)
    else:
        put(object_type, 5)
    if sample_rate in SAMPLE_RATES:
        put(SAMPLE_RATES.index(sample_rate), 4)
    else:
        if not 0 < sample_rate < 1 << 24:
            raise ValueError(f"invalid sample rate {sample_rate}")
        put(_EXPLICIT_RATE, 4)
        put(sample_rate, 24)
    put(channels, 4)
    put(0, 3)  # GASpecificConfig: frameLengthFlag, dependsOnCoreCoder, extensionFlag
    pad = -nbits % 8
    return (bits << pad).to_bytes((nbits + pad) // 8, "big")


# --- ADTS (ISO/IEC 14496-3 1.A.2.2.1 adts_fixed_header + adts_variable_header)


@dataclass(frozen=True, slots=True)
class AdtsHeader:
    """An ADTS header; ``bytes(h)`` re-serializes it (7 bytes, or 9 with the CRC)."""

    profile: int  # object type - 1
    sampling_index: int
    channel_config: int
    frame_length: int  # aac_frame_length: header + payload
    mpeg2: bool = False  # ID: 1 = MPEG-2 AAC, 0 = MPEG-4
    protection_absent: bool = True
    private_bit: int = 0
    original_copy: int = 0
    home: int = 0
    copyright_id_bit: int = 0
    copyright_id_start: int = 0
    buffer_fullness: int = 0x7FF  # 0x7FF = variable rate
    raw_data_blocks: int = 0  # number_of_raw_data_blocks_in_frame
    crc: int | None = None

    @property
    def header_size(self) -> int:
        return 7 if self.protection_absent else 9

    @property
    def payload_size(self) -> int:
        return self.frame_length - self.header_size

    @property
    def object_type(self) -> int:
        return self.profile + 1

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATES[self.sampling_index]

    def __bytes__(self) -> bytes:
        v = 0xFFF
        for value, n in (
            (int(self.mpeg2), 1),
            (0, 2),  # layer
            (int(self.protection_absent), 1),
            (self.profile, 2),
            (self.sampling_index, 4),
            (self.private_bit, 1),
            (self.channel_config, 3),
            (self.original_copy, 1),
            (self.home, 1),
            (self.copyright_id_bit, 1),
            (self.copyright_id_start, 1),
            (self.frame_length, 13),
            (self.buffer_fullness, 11),
            (self.raw_data_blocks, 2),
        ):
            if not 0 <= value < 1 << n:
                raise ValueError(f"ADTS field value {value} does not fit {n} bits")
            v = (v << n) | value
        out = v.to_bytes(7, "big")
        if not self.protection_absent:
            out += (self.crc or 0).to_bytes(2, "big")
        return out


def parse_adts(data: bytes) -> AdtsHeader:
    """Parse the ADTS header at the start of ``data``."""
    if len(data) < 7:
        raise ParseError(f"ADTS header needs 7 bytes, got {len(data)}")
    v = int.from_bytes(data[:7], "big")
    if v >> 44 != 0xFFF:
        raise ParseError("ADTS syncword not found")
    if (v >> 41) & 0x03 != 0:
        raise ParseError("ADTS layer must be 0")
    protection_absent = bool((v >> 40) & 1)
    index = (v >> 34) & 0x0F
    if index >= len(SAMPLE_RATES):
        raise ParseError(f"reserved ADTS sampling_frequency_index {index}")
    frame_length = (v >> 13) & 0x1FFF
    header_size = 7 if protection_absent else 9
    if frame_length < header_size:
        raise ParseError(f"ADTS aac_frame_length {frame_length} is smaller than its header")
    crc = None
    if not protection_absent:
        if len(data) < 9:
            raise ParseError("ADTS header with CRC needs 9 bytes")
        crc = (data[7] << 8) | data[8]
    return AdtsHeader(
        profile=(v >> 38) & 0x03,
        sampling_index=index,
        channel_config=(v >> 30) & 0x07,
        frame_length=frame_length,
        mpeg2=bool((v >> 43) & 1),
        protection_absent=protection_absent,
        private_bit=(v >> 33) & 1,
        original_copy=(v >> 29) & 1,
        home=(v >> 28) & 1,
        copyright_id_bit=(v >> 27) & 1,
        copyright_id_start=(v >> 26) & 1,
        buffer_fullness=(v >> 2) & 0x7FF,
        raw_data_blocks=v & 0x03,
        crc=crc,
    )


def build_adts(config: AacConfig, payload_len: int) -> bytes:
    """The 7-byte ADTS header (no CRC) for one raw AAC frame of ``payload_len`` bytes."""
    index = config.sampling_index
    if index == _EXPLICIT_RATE:
        if config.sample_rate not in SAMPLE_RATES:
            raise ValueError(f"ADTS cannot signal the sample rate {config.sample_rate}")
        index = SAMPLE_RATES.index(config.sample_rate)
    if not 0 <= payload_len <= 0x1FFF - 7:
        raise ValueError(f"AAC frame of {payload_len} bytes does not fit ADTS")
    if config.channel_config > 7:
        raise ValueError(f"ADTS cannot signal channel configuration {config.channel_config}")
    return bytes(AdtsHeader(config.adts_profile, index, config.channel_config, payload_len + 7))


def asc_from_adts(header: AdtsHeader | bytes) -> bytes:
    """The AudioSpecificConfig (RTMP AAC sequence header) equivalent to an ADTS header."""
    h = header if isinstance(header, AdtsHeader) else parse_adts(header)
    return build_asc(h.object_type, h.sample_rate, h.channel_config)


def split_adts(data: bytes) -> list[tuple[AdtsHeader, bytes]]:
    """Split a run of ADTS frames into (header, raw payload) pairs; a partial last frame is an error."""
    out = []
    pos = 0
    n = len(data)
    while pos < n:
        h = parse_adts(data[pos : pos + 9])
        end = pos + h.frame_length
        if end > n:
            raise ParseError(f"truncated ADTS frame: {h.frame_length} bytes at offset {pos}, {n - pos} left")
        out.append((h, data[pos + h.header_size : end]))
        pos = end
    return out
