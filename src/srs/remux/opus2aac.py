"""Opus (WebRTC) -> AAC (FLV audio) for RTMP/FLV/HLS players: the transcoder of the WebRTC -> live bridge.

SRS (``SrsRtcFrameBuilder::initialize`` / ``transcode_audio`` in ``srs_app_rtc_source.cpp``, with
``SrsAudioTranscoder`` on FFmpeg) decodes each Opus RTP payload, resamples and encodes AAC-LC at 48 kHz,
always stereo, at ``rtc.aac_bitrate`` (default 48000 bps); before the first frame it sends an FLV AAC
sequence header made of the encoder's AudioSpecificConfig, then ``0xAF 0x01`` raw AAC frames. SRS stamps
every AAC frame it gets from one Opus packet with that packet's time.

:class:`OpusToAac` does the same on PyAV (FFmpeg's ``opus`` decoder, its native ``aac`` encoder). Where
we differ:

* the channel count is the first packet's (its TOC stereo flag), up to 2, or what the caller says:
  a mono microphone gives mono AAC (SRS encodes stereo always);
* we cut the decoded PCM into 1024-sample AAC frames ourselves on a 48 kHz sample clock that follows the
  input timestamps: each AAC frame carries its own time (the encoder's packet pts: the priming frame
  starts 1024 samples, ~21 ms, before the first Opus sample), not the time of the Opus packet that
  completed it;
* a hole in the input (lost packets, a timestamp moved by RTCP sender reports) up to :data:`MAX_GAP_MS`
  is filled with silence so that audio stays in sync, an overlap is trimmed, a larger jump re-anchors
  the clock; within :data:`TOLERANCE_MS` the input is taken as continuous (millisecond rounding);
* a packet that does not decode is dropped (and counted in ``dropped``), logged once per run of
  failures; nothing raises.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import NamedTuple

import av
import av.error

from srs.format.flv import AudioCodec, audio_body
from srs.protocol.rtc.payload_opus import packet_samples
from srs.util.errors import SrsError

log = logging.getLogger("srs")

RATE = 48000  # Opus' clock (RFC 7587) and our AAC sample rate (SRS: 48000 too)
KHZ = RATE // 1000
AAC_FRAME = 1024  # samples per AAC-LC frame
DEFAULT_BITRATE = 48000  # SRS rtc.aac_bitrate default (bps)
TOLERANCE_MS = 5  # input timestamps this close to the sample clock are taken as continuous
MAX_GAP_MS = 1000  # holes up to this are filled with silence, overlaps trimmed; beyond: re-anchor

_CODEC_ERRORS = (av.error.FFmpegError, ValueError, SrsError, IndexError, TypeError)
_FLOAT = 4  # bytes per fltp sample


class AacFrame(NamedTuple):
    """One FLV audio tag body (``0xAF``, AACPacketType, data) and its time in ms (input timeline)."""

    timestamp: int
    body: bytes
    sequence_header: bool


class OpusToAac:
    """Opus packets with millisecond timestamps -> an AAC sequence header, then raw AAC frames.

    Feed the packets of one stream in order with :meth:`push`; each call returns the FLV audio bodies
    that became ready (the sequence header once, before the first frame; then 0 or 1 frame per 20 ms
    packet, as 1024 samples are a little more than 960). :meth:`flush` at the end of the stream.
    """

    __slots__ = (
        "_acc",
        "_acc_pos",
        "_channels",
        "_decoder",
        "_encoder",
        "_failing",
        "_layout",
        "_next",
        "asc",
        "bitrate",
        "channels",
        "dropped",
        "frames",
    )

    def __init__(self, bitrate: int = DEFAULT_BITRATE, channels: int | None = None) -> None:
        self.bitrate = bitrate
        self.channels = channels  # None: from the first packet's TOC
        self.asc: bytes | None = None  # the encoder's AudioSpecificConfig, once open
        self.dropped = 0  # packets that did not parse or decode
        self.frames = 0  # AAC frames out
        self._channels = 0
        self._layout = ""
        self._decoder: av.AudioCodecContext | None = None
        self._encoder: av.AudioCodecContext | None = None
        self._acc: list[bytearray] = []  # per channel: fltp samples not yet encoded
        self._acc_pos = 0  # sample position (ms * 48 scale) of the first sample in _acc
        self._next: int | None = None  # sample position where the next input sample is expected
        self._failing = False

    def push(self, packet: bytes, timestamp_ms: int) -> list[AacFrame]:
        """One Opus packet whose first sample is at ``timestamp_ms`` -> the AAC bodies ready now."""
        try:
            packet_samples(packet)
        except SrsError as e:
            return self._fail(str(e))
        out: list[AacFrame] = []
        try:
            if self._encoder is None:
                out += self._open(packet, timestamp_ms)
            if self._decoder is None:
                self._decoder = self._open_decoder()
            frames = self._decoder.decode(av.Packet(packet))
        except _CODEC_ERRORS as e:
            self._decoder = None  # may be left in any state: a fresh one next time
            return out + self._fail(f"{type(e).__name__}: {e}")
        planes = [bytearray() for _ in range(self._channels)]
        for f in frames:
            n = f.samples * _FLOAT
            for i, p in enumerate(f.planes[: self._channels]):
                planes[i] += bytes(p)[:n]
        if not planes or not planes[0]:
            return out
        self._failing = False
        try:
            out += self._add(planes, timestamp_ms * KHZ)
        except _CODEC_ERRORS as e:
            self._encoder = None  # reopened (with a new sequence header) on the next packet
            return out + self._fail(f"encoding: {type(e).__name__}: {e}")
        return out

    def flush(self) -> list[AacFrame]:
        """End of stream: the held samples (padded with silence to a frame) and the encoder's tail."""
        out: list[AacFrame] = []
        if self._encoder is not None:
            try:
                have = len(self._acc[0]) // _FLOAT if self._acc else 0
                if have:
                    self._append_silence(AAC_FRAME - have)
                    out += self._encode_ready()
                out += self._encode(None)
            except _CODEC_ERRORS as e:
                log.warning("opus2aac: flush failed: %s", e)
        self._encoder = self._decoder = None
        self._next = None
        self.asc = None
        return out

    # --- internals

    def _fail(self, why: str) -> list[AacFrame]:
        self.dropped += 1
        if not self._failing:
            self._failing = True
            log.warning("opus2aac: dropped an Opus packet: %s (more are not logged until one decodes)", why)
        return []

    def _open_decoder(self) -> av.AudioCodecContext:
        dec = av.CodecContext.create("opus", "r")
        assert isinstance(dec, av.AudioCodecContext)
        dec.sample_rate = RATE
        dec.layout = self._layout
        dec.open()
        return dec

    def _open(self, packet: bytes, timestamp_ms: int) -> list[AacFrame]:
        """The encoder (and a decoder); the channel count is chosen once, by the first packet."""
        if not self._channels:
            stereo = bool(packet[0] & 0x04)
            self._channels = max(1, min(2, self.channels or (2 if stereo else 1)))
            self._layout = "stereo" if self._channels == 2 else "mono"
        self._decoder = self._open_decoder()
        enc = av.CodecContext.create("aac", "w")
        assert isinstance(enc, av.AudioCodecContext)
        enc.sample_rate = RATE
        enc.layout = self._layout
        enc.format = "fltp"
        enc.bit_rate = self.bitrate
        enc.time_base = Fraction(1, RATE)
        enc.open()
        self._encoder = enc
        self._acc = [bytearray() for _ in range(self._channels)]
        self._next = None
        self.asc = bytes(enc.extradata or b"")
        return [AacFrame(timestamp_ms, audio_body(AudioCodec.AAC, 0, self.asc), True)]

    def _add(self, planes: list[bytearray], pos: int) -> list[AacFrame]:
        """Append decoded samples starting at sample position ``pos`` to the clock, then encode."""
        n = len(planes[0]) // _FLOAT
        if self._next is None:
            self._next = self._acc_pos = pos
        diff = pos - self._next
        if abs(diff) > MAX_GAP_MS * KHZ:
            log.info("opus2aac: audio timestamp jumped %d ms, re-anchoring", diff // KHZ)
            self._acc = [bytearray() for _ in range(self._channels)]  # < 1024 samples lost
            self._next = self._acc_pos = pos
        elif diff > TOLERANCE_MS * KHZ:
            self._append_silence(diff)  # a hole: silence keeps the following audio in sync
        elif diff < -TOLERANCE_MS * KHZ:
            skip = -diff  # an overlap: what we already have wins
            if skip >= n:
                return []
            planes = [p[skip * _FLOAT :] for p in planes]
            n -= skip
        for acc, p in zip(self._acc, planes, strict=True):
            acc += p
        self._next += n
        return self._encode_ready()

    def _append_silence(self, samples: int) -> None:
        zeros = bytes(samples * _FLOAT)  # 0.0f is all zero bits
        for acc in self._acc:
            acc += zeros
        if self._next is not None:
            self._next += samples

    def _encode_ready(self) -> list[AacFrame]:
        out: list[AacFrame] = []
        size = AAC_FRAME * _FLOAT
        while self._acc and len(self._acc[0]) >= size:
            frame = av.AudioFrame(format="fltp", layout=self._layout, samples=AAC_FRAME)
            for i, plane in enumerate(frame.planes):
                plane.update(bytes(self._acc[i][:size]))
                del self._acc[i][:size]
            frame.sample_rate = RATE
            frame.time_base = Fraction(1, RATE)
            frame.pts = self._acc_pos
            self._acc_pos += AAC_FRAME
            out += self._encode(frame)
        return out

    def _encode(self, frame: av.AudioFrame | None) -> list[AacFrame]:
        assert self._encoder is not None
        out: list[AacFrame] = []
        for p in self._encoder.encode(frame):
            data = bytes(p)
            if data and p.pts is not None:
                self.frames += 1
                out.append(AacFrame(p.pts // KHZ, audio_body(AudioCodec.AAC, 1, data), False))
        return out
