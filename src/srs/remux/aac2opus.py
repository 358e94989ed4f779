"""AAC / MP3 (FLV audio) -> Opus for WebRTC players: the transcoder of the RTMP -> WebRTC bridge.

SRS (``SrsRtcRtpBuilder::on_audio`` / ``transcode`` in ``srs_app_rtc_source.cpp``, with
``SrsAudioTranscoder`` on FFmpeg) turns each AAC frame into ADTS, decodes it, resamples to 48 kHz
stereo and encodes 20 ms Opus frames with libopus at ``rtc.opus_bitrate`` (default 48000 bps); MP3 is
transcoded the same way. The RTP timestamp of each Opus packet is the transcoder's output DTS * 48.
The transcoder is built once per stream (SRS: per bridge; here: once per RtpWire, which the Source keeps
once per key), never once per player.

:class:`AacToOpus` does the same on PyAV (FFmpeg's ``aac``/``mp3`` decoders, ``libswresample``,
``libopus``). Where we differ:

* the decoder gets the raw AAC frame with the AudioSpecificConfig as extradata (no ADTS detour);
* the output keeps the source's channel count up to 2 (mono stays mono; SRS always encodes stereo);
  Opus decoders handle both whatever the SDP's ``opus/48000/2`` says;
* timestamps come from a running 48 kHz sample clock anchored to the first input timestamp (so packets
  are exactly 960 apart, never jittered by the millisecond timestamps of RTMP); the clock is re-anchored
  (and the encoder restarted) when the input timeline leaves the sample clock by more than
  :data:`REANCHOR_MS` (a republish, a timestamp jump, or a long run of dropped frames);
* a frame that does not decode is dropped and logged once per run of failures; nothing raises.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import av
import av.error

from srs.format.flv import AudioCodec, parse_audio
from srs.protocol.rtc.payload_opus import packet_samples
from srs.util.errors import SrsError

log = logging.getLogger("srs")

OPUS_RATE = 48000  # SRS kAudioSamplerate; Opus' RTP clock rate (RFC 7587)
FRAME_SAMPLES = 960  # 20 ms at 48 kHz: what SRS's transcoder emits
REANCHOR_MS = 1000  # input timeline vs. sample clock drift that restarts the clock
DEFAULT_BITRATE = 48000  # SRS rtc.opus_bitrate default (bps)

_CODEC_ERRORS = (av.error.FFmpegError, ValueError, SrsError, IndexError, TypeError)


class OpusPacket(NamedTuple):
    """One Opus packet and its RTP timestamp on the 48 kHz clock (not wrapped: the wire does that)."""

    data: bytes
    timestamp: int


class AacToOpus:
    """FLV audio tag bodies (AAC sequence header + raw frames, or MP3 frames) -> Opus packets.

    Feed every audio message of a stream in order with :meth:`feed`; each call returns the Opus
    packets that became ready (0 to a few: 1024 AAC samples at 44.1 kHz are ~1.1 Opus frames).
    """

    __slots__ = (
        "_anchor_ms",
        "_asc",
        "_channels",
        "_codec",
        "_decoder",
        "_encoder",
        "_failing",
        "_in_samples",
        "_out_samples",
        "_resampler",
        "_shape",
        "bitrate",
        "dropped",
    )

    def __init__(self, bitrate: int = DEFAULT_BITRATE) -> None:
        self.bitrate = bitrate
        self.dropped = 0  # frames that did not decode (or could not: AAC before its sequence header)
        self._codec: AudioCodec | None = None
        self._asc: bytes | None = None
        self._decoder: av.AudioCodecContext | None = None
        self._resampler: av.AudioResampler | None = None
        self._encoder: av.AudioCodecContext | None = None
        self._channels = 0
        self._shape: tuple[int, str, str] | None = None  # (rate, format, layout) the resampler was set up for
        self._anchor_ms: int | None = None  # input timestamp at which the sample clock started
        self._in_samples = 0.0  # 48 kHz samples fed to the encoder side since the anchor
        self._out_samples = 0  # 48 kHz samples of the Opus packets emitted since the anchor
        self._failing = False

    # --- input

    def feed(self, body: bytes, timestamp_ms: int) -> list[OpusPacket]:
        """One FLV audio tag body at ``timestamp_ms`` -> the Opus packets ready now; never raises."""
        try:
            info = parse_audio(body)
        except SrsError:
            return self._fail("unparsable audio tag")
        data = body[info.data_offset :]
        if not data:
            return []
        if info.codec == AudioCodec.AAC:
            if info.is_sequence_header:
                if data != self._asc:
                    self._asc = data
                    self._decoder = None  # a new config (republish, new encoder): a new decoder
                return []
            if self._asc is None:
                return self._fail("AAC frame before its sequence header")
        elif info.codec == AudioCodec.MP3:
            pass
        else:
            return []  # not ours to transcode (the wire passes Opus through, SRS drops the rest)
        if info.codec != self._codec:
            self._codec = info.codec
            self._decoder = None
        return self._transcode(data, timestamp_ms)

    def flush(self) -> list[OpusPacket]:
        """End of stream: the packets still held by the resampler and the encoder (then starts over)."""
        if self._encoder is None or self._resampler is None:
            return []
        out: list[OpusPacket] = []
        try:
            frames = self._resampler.resample(None)
            for frame in [*frames, None]:
                out += self._encode(frame)
        except _CODEC_ERRORS as e:
            log.warning("aac2opus: flush failed: %s", e)
        self._restart()
        return out

    # --- internals

    def _fail(self, why: str) -> list[OpusPacket]:
        self.dropped += 1
        if not self._failing:
            self._failing = True
            log.warning("aac2opus: dropped an audio frame: %s (more are not logged until one decodes)", why)
        return []

    def _open_decoder(self) -> av.AudioCodecContext:
        if self._codec == AudioCodec.AAC:
            dec = av.CodecContext.create("aac", "r")
            dec.extradata = self._asc
        else:
            dec = av.CodecContext.create("mp3", "r")
        assert isinstance(dec, av.AudioCodecContext)
        dec.open()
        return dec

    def _restart(self) -> None:
        """Forget the clock and the encoder side (the held samples are lost: < 20 ms + resampler delay)."""
        self._resampler = None
        self._encoder = None
        self._anchor_ms = None
        self._in_samples = 0.0
        self._out_samples = 0

    def _transcode(self, data: bytes, timestamp_ms: int) -> list[OpusPacket]:
        try:
            if self._decoder is None:
                self._decoder = self._open_decoder()
            frames = self._decoder.decode(av.Packet(data))
        except _CODEC_ERRORS as e:
            # The decoder may be left in any state: a fresh one for the next frame.
            self._decoder = None
            return self._fail(f"{type(e).__name__}: {e}")
        if not frames:
            return []  # the decoder holds it (MP3 bit reservoir, or nothing decodable yet)
        self._failing = False
        if self._anchor_ms is not None:
            expected_ms = self._anchor_ms + self._in_samples / (OPUS_RATE // 1000)
            if abs(timestamp_ms - expected_ms) > REANCHOR_MS:
                log.info(
                    "aac2opus: audio timestamp %d ms is %d ms off the sample clock, re-anchoring",
                    timestamp_ms,
                    int(timestamp_ms - expected_ms),
                )
                self._restart()
        out: list[OpusPacket] = []
        try:
            for frame in frames:
                if self._anchor_ms is None:
                    self._anchor_ms = timestamp_ms
                channels = min(max(frame.layout.nb_channels, 1), 2)
                if self._encoder is None or channels != self._channels:
                    if self._encoder is not None:
                        out += self.flush()  # channel count changed: finish the old encoder first
                        self._anchor_ms = timestamp_ms
                    self._open_encoder(channels)
                shape = (frame.sample_rate, frame.format.name, frame.layout.name)
                if shape != self._shape:
                    # A resampler is set up by its first frame; the <= 20 ms it holds are dropped.
                    self._shape = shape
                    self._resampler = self._new_resampler()
                self._in_samples += frame.samples * OPUS_RATE / (frame.sample_rate or OPUS_RATE)
                frame.pts = None  # our clock is the sample count, not the decoder's pts
                assert self._resampler is not None
                for resampled in self._resampler.resample(frame):
                    out += self._encode(resampled)
        except _CODEC_ERRORS as e:
            self._restart()
            return out + self._fail(f"transcoding: {type(e).__name__}: {e}")
        return out

    def _open_encoder(self, channels: int) -> None:
        layout = "stereo" if channels == 2 else "mono"
        enc = av.CodecContext.create("libopus", "w")
        assert isinstance(enc, av.AudioCodecContext)
        enc.sample_rate = OPUS_RATE
        enc.layout = layout
        enc.format = "s16"
        enc.bit_rate = self.bitrate
        enc.open()
        self._encoder = enc
        self._channels = channels
        self._shape = None  # a resampler to this layout, set up by the next frame

    def _new_resampler(self) -> av.AudioResampler:
        layout = "stereo" if self._channels == 2 else "mono"
        return av.AudioResampler(format="s16", layout=layout, rate=OPUS_RATE, frame_size=FRAME_SAMPLES)

    def _encode(self, frame: av.AudioFrame | None) -> list[OpusPacket]:
        assert self._encoder is not None and self._anchor_ms is not None
        if frame is not None:
            frame.pts = None
        out: list[OpusPacket] = []
        for packet in self._encoder.encode(frame):
            data = bytes(packet)
            if not data:
                continue
            out.append(OpusPacket(data, self._anchor_ms * (OPUS_RATE // 1000) + self._out_samples))
            self._out_samples += packet_samples(data)
        return out
