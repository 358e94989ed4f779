"""WebRTC publisher (WHIP) -> live Source: RTP packets in, media messages as an RTMP publisher's out.

SRS (``SrsRtcFrameBuilder`` in ``srs_app_rtc_source.cpp``, fed by ``SrsRtcRecvTrack``) does this with
``rtc_to_rtmp on``: video RTP packets are cached by sequence number until a frame is complete (FU-A
start/end, marker, timestamp change), then written as an FLV AVC NALU message (``0x17``/``0x27``, cts 0,
4-byte lengths); an SPS+PPS (STAP-A, or OBS's single packets) gives an AVC sequence header; frames are
dropped from a loss until the next keyframe (SRS's NACK/PLI machinery asks for it). Opus is transcoded to
AAC (:mod:`srs.remux.opus2aac`). Timestamps are the "avsync time": the RTP time mapped through the last
two RTCP sender reports of each track to NTP milliseconds; SRS discards every packet until a track has
had its sender reports ("Discard no-sync"). Empty payloads (Chrome screen share padding) are skipped
without flushing the frame cache (SRS issue 3257).

:class:`RtcIngest` is the sans-IO equivalent, built on :mod:`srs.protocol.rtc.payload` (reorder buffer
with NACK list, frame assembler). Where we differ from SRS:

* before both tracks have a sender report, tracks are aligned by the arrival of their first packets
  (SRS drops that media); once both have one, the audio clock is re-anchored so that audio and video
  NTP times line up, the video clock staying continuous (the transcoder absorbs the audio step);
* output timestamps start at 0 at the first keyframe, and nothing is emitted until the video has its
  first keyframe and the audio has started (up to ``start_timeout_ms`` of waiting for the other
  track): the first tags are the video then the audio sequence header; earlier audio is dropped;
* HEVC is bridged too (SRS's frame builder is H.264 only), as Enhanced RTMP ``hvc1`` (sequence
  header = HEVCDecoderConfigurationRecord, CodedFramesX);
* the RTP clock rate is the nominal one (90 kHz, 48 kHz), where SRS measures it between two sender
  reports; one sender report per track is enough to align;
* parameter sets are taken out of the frames (they are in the sequence header), and a sequence header
  is sent again only when they change;
* ``rtc_to_rtmp=False`` keeps Opus (FLV SoundFormat 13, SRS's id) instead of transcoding: the Source
  then serves WebRTC players only (SRS relays RTC to RTC outside its live source then);
* every message carries ``rtp=``: a video frame's RTP payloads in order, or the Opus packets received
  since the previous audio message (``()`` for sequence headers), so WebRTC players get them unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from srs.codec.h264 import build_avc_config
from srs.codec.h265 import build_hevc_config
from srs.codec.nalu import to_avcc
from srs.format.flv import AudioCodec, FrameType, VideoCodec, VideoPacketType, audio_body, video_body
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.protocol.rtc import payload_h264, payload_h265, payload_vp8
from srs.protocol.rtc.payload import Event, FrameAssembler, Lost, ReorderBuffer
from srs.protocol.rtc.payload_opus import packet_samples
from srs.protocol.rtc.rtp import RtpPacket
from srs.remux.opus2aac import DEFAULT_BITRATE, OpusToAac
from srs.util.errors import SrsError

log = logging.getLogger("srs")

AUDIO_CLOCK = 48000  # Opus (RFC 7587)
START_TIMEOUT_MS = 3000  # how long one track waits for the other before the output starts without it
_PARAM_TYPES = {"h264": (7, 8), "h265": (32, 33, 34)}


@dataclass(slots=True)
class RtcIngestStats:
    video_frames: int = 0
    audio_packets: int = 0
    dropped: int = 0  # bad payloads, frames without parameter sets, audio before the start
    empty: int = 0  # padding-only packets


class _Clock:
    """One track's RTP clock -> milliseconds on the shared (arrival or NTP-aligned) timeline."""

    __slots__ = ("anchor_ext", "anchor_ms", "last", "rate", "sr")

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.last: int | None = None  # highest unwrapped RTP timestamp seen
        self.anchor_ext = 0
        self.anchor_ms = 0
        self.sr: tuple[int, int] | None = None  # last sender report: (NTP ms, RTP timestamp)

    def unwrap(self, ts: int, *, update: bool = True) -> int:
        last = self.last
        value = ts & 0xFFFFFFFF
        if last is not None:
            value = last + ((ts - last + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        if update and (last is None or value > last):
            self.last = value
        return value

    def start(self, ts: int, now_ms: int) -> None:
        """First packet of the track: its RTP time is its arrival time."""
        self.anchor_ext = self.unwrap(ts)
        self.anchor_ms = now_ms

    def ms(self, ext: int) -> int:
        return self.anchor_ms + (ext - self.anchor_ext) * 1000 // self.rate

    def sr_point(self) -> tuple[int, int] | None:
        """``(unwrapped RTP time, NTP ms)`` of the last sender report, once the track has packets."""
        if self.sr is None or self.last is None:
            return None
        return self.unwrap(self.sr[1], update=False), self.sr[0]


class _Audio(NamedTuple):
    """An audio message before its output time is known: shared-timeline ms, body, (ms, Opus) it carries."""

    ms: int
    body: bytes
    codec: int
    opus: list[tuple[int, bytes]]


REALIGN_MS = 500  # after the start, only a bigger disagreement between the reports moves the audio


def ntp_to_ms(ntp: int) -> int:
    """64-bit NTP timestamp (RFC 3550 4) -> milliseconds."""
    return (ntp >> 32) * 1000 + (((ntp & 0xFFFFFFFF) * 1000) >> 32)


class RtcIngest:
    """RTP packets of a WHIP publisher -> :class:`MediaMessage` s for the live Source (sans-IO).

    The caller (the publish session) feeds SRTP-unprotected, parsed RTP (RTX unwrapped) with
    :meth:`on_rtp`, RTCP sender reports with :meth:`on_sender_report`, calls :meth:`poll` on a timer
    (~20 ms: holes in the sequence are given up after 100 ms), sends NACKs for :meth:`nack_list` and a
    rate-limited PLI when :meth:`take_keyframe_request` is True, and :meth:`flush` on unpublish.
    """

    def __init__(
        self,
        video_codec: str | None,
        has_audio: bool,
        *,
        rtc_to_rtmp: bool = True,
        aac_bitrate: int = DEFAULT_BITRATE,
        video_clock: int = 90000,
        start_timeout_ms: int = START_TIMEOUT_MS,
    ) -> None:
        if video_codec not in (None, "h264", "h265", "vp8"):
            log.warning(
                "RTC ingest: video codec %s is not bridged (h264, h265, vp8): video dropped", video_codec
            )
            video_codec = None
        self.video_codec = video_codec
        self.has_audio = has_audio
        self.rtc_to_rtmp = rtc_to_rtmp
        self.start_timeout_ms = start_timeout_ms
        self.stats = RtcIngestStats()
        self._asm: FrameAssembler | None = None
        if video_codec is not None:
            mods = {"h264": payload_h264, "h265": payload_h265, "vp8": payload_vp8}
            self._asm = mods[video_codec].assembler()
        self._audio = ReorderBuffer() if has_audio else None
        self._aac = OpusToAac(aac_bitrate) if has_audio and rtc_to_rtmp else None
        self._clocks = {"video": _Clock(video_clock), "audio": _Clock(AUDIO_CLOCK)}
        self._first_ms: int | None = None  # arrival of the first packet of any track
        self._keyframe_request = False
        self._failing = False
        # Parameter sets by NAL type, and the sequence header they make (sent again on change).
        self._params: dict[int, bytes] = {}
        self._video_sh: MediaMessage | None = None
        self._video_sh_sent = False
        self._audio_sh: MediaMessage | None = None
        self._audio_sh_sent = False
        self._opus: list[tuple[int, bytes]] = []  # (ms, Opus packet) not yet in an AAC message
        self._carry: list[tuple[int, bytes]] = []  # Opus of audio dropped before the start: on the next
        # Until the start: the video since the last keyframe and the audio, timed on the shared timeline.
        self._base: int | None = None  # shared-timeline ms of output time 0, once started
        self._pending_video: list[MediaMessage] = []
        self._pending_audio: list[_Audio] = []

    @property
    def started(self) -> bool:
        return self._base is not None

    # --- input

    def on_rtp(self, kind: str, pkt: RtpPacket, now_ms: int) -> list[MediaMessage]:
        """One RTP packet of the ``"audio"`` or ``"video"`` track -> the messages now ready."""
        out: list[MediaMessage] = []
        try:
            if not pkt.payload:
                self.stats.empty += 1  # still pushed: it holds a sequence number, never a frame boundary
            clock = self._clocks.get(kind)
            if (
                clock is None
                or (kind == "video" and self._asm is None)
                or (kind == "audio" and self._audio is None)
            ):
                return self._fail(f"RTP for a track not negotiated: {kind!r}")
            if clock.last is None:
                clock.start(pkt.timestamp, now_ms)
                self._first_ms = now_ms if self._first_ms is None else self._first_ms
                self._align()
            seq, ts, marker = pkt.sequence_number, pkt.timestamp, pkt.marker
            if kind == "video":
                assert self._asm is not None
                for frame in self._asm.push(seq, ts, marker, pkt.payload, now_ms):
                    out += self._on_frame(frame.timestamp, frame.nalus, frame.keyframe, frame.payloads)
            else:
                assert self._audio is not None
                out += self._on_audio(self._audio.push(seq, ts, pkt.payload, now_ms, marker))
            out += self._check_start(now_ms)
        except (SrsError, ValueError, IndexError) as e:
            return out + self._fail(f"{type(e).__name__}: {e}")
        return out

    def on_sender_report(self, kind: str, ntp_timestamp: int, rtp_timestamp: int) -> None:
        """An RTCP SR of the track: its NTP <-> RTP pair aligns it with the other track."""
        clock = self._clocks.get(kind)
        if clock is not None:
            clock.sr = (ntp_to_ms(ntp_timestamp), rtp_timestamp & 0xFFFFFFFF)
            self._align()

    def poll(self, now_ms: int) -> list[MediaMessage]:
        """Timers: what waited long enough for a hole in the sequence, and the start timeout."""
        out: list[MediaMessage] = []
        try:
            if self._asm is not None:
                for f in self._asm.poll(now_ms):
                    out += self._on_frame(f.timestamp, f.nalus, f.keyframe, f.payloads)
            if self._audio is not None:
                out += self._on_audio(self._audio.poll(now_ms))
            out += self._check_start(now_ms)
        except (SrsError, ValueError, IndexError) as e:
            return out + self._fail(f"{type(e).__name__}: {e}")
        return out

    def nack_list(self, kind: str, now_ms: int) -> list[int]:
        """Sequence numbers of the track to NACK now."""
        if kind == "video" and self._asm is not None:
            return self._asm.nack_list(now_ms)
        if kind == "audio" and self._audio is not None:
            return self._audio.nack_list(now_ms)
        return []

    def take_keyframe_request(self) -> bool:
        """True once per request (a loss, frames skipped waiting for a keyframe): send a PLI."""
        asked = self._asm is not None and self._asm.take_keyframe_request()
        asked, self._keyframe_request = asked or self._keyframe_request, False
        return asked

    def flush(self) -> list[MediaMessage]:
        """Unpublish: what the buffers and the transcoder still hold (the output starts if it had not)."""
        out: list[MediaMessage] = []
        try:
            if self._asm is not None:
                for f in self._asm.flush():
                    out += self._on_frame(f.timestamp, f.nalus, f.keyframe, f.payloads)
            if self._audio is not None:
                out += self._on_audio(self._audio.flush())
            if self._aac is not None:
                out += self._on_aac(self._aac.flush())
        except (SrsError, ValueError, IndexError) as e:
            out += self._fail(f"{type(e).__name__}: {e}")
        if self._base is None:
            out += self._start()
        return out

    # --- internals

    def _fail(self, why: str) -> list[MediaMessage]:
        self.stats.dropped += 1
        if not self._failing:
            self._failing = True
            log.warning("RTC ingest: dropped a packet: %s (more are not logged until a frame is good)", why)
        return []

    def _align(self) -> None:
        """Both tracks have packets and a sender report: put audio where NTP says, relative to video."""
        if self._asm is None or self._audio is None:
            return
        v, a = self._clocks["video"].sr_point(), self._clocks["audio"].sr_point()
        if v is None or a is None:
            return
        audio = self._clocks["audio"]
        anchor_ms = self._clocks["video"].ms(v[0]) + (a[1] - v[1])
        step = anchor_ms - audio.ms(a[0])
        if self._base is not None and abs(step) < REALIGN_MS:
            # Once the output runs, audio is not moved for a sender report's jitter (aiortc, for one,
            # pairs the send time with its last packet's RTP time): a track's clock does not drift
            # from the other's, and every move would be a gap or an overlap in the AAC.
            return
        audio.anchor_ext, audio.anchor_ms = a[0], anchor_ms
        if abs(step) > 20:
            log.info("RTC ingest: audio moved %d ms by RTCP sender reports", step)

    def _on_frame(
        self, ts: int, nalus: Sequence[bytes], key: bool, rtp: tuple[bytes, ...]
    ) -> list[MediaMessage]:
        ms = self._clocks["video"].ms(self._clocks["video"].unwrap(ts))
        if self.video_codec == "vp8":
            return self._on_vp8(ms, nalus, key, rtp)
        params = _PARAM_TYPES[self.video_codec or "h264"]
        hevc = self.video_codec == "h265"
        frame: list[bytes] = []
        changed = False
        for n in nalus:
            t = ((n[0] >> 1) & 0x3F) if hevc else (n[0] & 0x1F)
            if t in params:
                changed = changed or self._params.get(t) != n
                self._params[t] = n
            else:
                frame.append(n)
        if changed and all(t in self._params for t in params):
            ps = [self._params[t] for t in params]
            try:
                if hevc:
                    body = video_body(
                        VideoCodec.HEVC, 1, 0, 0, build_hevc_config(ps[0], ps[1], ps[2]), enhanced=True
                    )
                else:
                    body = video_body(VideoCodec.AVC, 1, 0, 0, build_avc_config(ps[0], ps[1]))
            except (SrsError, ValueError, IndexError) as e:
                self._params.clear()
                self._keyframe_request = True
                return self._fail(f"bad parameter sets: {e}")
            codec = VideoCodec.HEVC if hevc else VideoCodec.AVC
            self._video_sh = MediaMessage(
                VIDEO, ms, body, keyframe=True, sequence_header=True, codec=codec, rtp=()
            )
            self._video_sh_sent = False
            if self._base is None:
                self._pending_video = []  # new parameters come with a keyframe: start from there
        if self._video_sh is None:
            self._keyframe_request = True
            return self._fail("video frame before its parameter sets")
        if not frame:
            return []
        self._failing = False
        self.stats.video_frames += 1
        ftype = FrameType.KEY if key else FrameType.INTER
        if hevc:
            body = video_body(
                VideoCodec.HEVC, ftype, VideoPacketType.CODED_FRAMES_X, 0, to_avcc(frame), enhanced=True
            )
        else:
            body = video_body(VideoCodec.AVC, ftype, 1, 0, to_avcc(frame))
        return self._video_out(
            MediaMessage(VIDEO, ms, body, keyframe=key, codec=self._video_sh.codec, rtp=rtp)
        )

    def _video_out(self, msg: MediaMessage) -> list[MediaMessage]:
        """A frame out, or kept (from its keyframe on) until the output starts."""
        if self._base is not None:
            return self._emit(msg)
        if msg.keyframe:
            self._pending_video = [msg]
        elif self._pending_video:
            self._pending_video.append(msg)
        return []

    def _on_vp8(
        self, ms: int, pieces: Sequence[bytes], key: bool, rtp: tuple[bytes, ...]
    ) -> list[MediaMessage]:
        """VP8 (relayed WebRTC -> WebRTC only): Enhanced RTMP ``vp08`` coded frames, no sequence header."""
        self._failing = False
        self.stats.video_frames += 1
        ftype = FrameType.KEY if key else FrameType.INTER
        body = video_body(
            VideoCodec.VP8,
            ftype,
            VideoPacketType.CODED_FRAMES,
            0,
            payload_vp8.frame_data(pieces),
            enhanced=True,
        )
        return self._video_out(MediaMessage(VIDEO, ms, body, keyframe=key, codec=VideoCodec.VP8, rtp=rtp))

    def _on_audio(self, events: list[Event]) -> list[MediaMessage]:
        out: list[MediaMessage] = []
        clock = self._clocks["audio"]
        for ev in events:
            if isinstance(ev, Lost) or not ev.payload:
                continue  # the transcoder fills holes from the timestamps
            try:
                packet_samples(ev.payload)
            except SrsError as e:
                out += self._fail(f"bad Opus packet: {e}")
                continue
            self.stats.audio_packets += 1
            ms = clock.ms(clock.unwrap(ev.timestamp))
            if self._aac is not None:
                self._opus.append((ms, ev.payload))
                out += self._on_aac(self._aac.push(ev.payload, ms))
            else:
                body = audio_body(AudioCodec.OPUS, 0, ev.payload)
                out += self._on_audio_msg(_Audio(ms, body, AudioCodec.OPUS, [(ms, ev.payload)]))
        return out

    def _on_aac(self, frames: Sequence[tuple[int, bytes, bool]]) -> list[MediaMessage]:
        out: list[MediaMessage] = []
        for ms, body, sh in frames:
            if sh:
                self._audio_sh = MediaMessage(
                    AUDIO, ms, body, sequence_header=True, codec=AudioCodec.AAC, rtp=()
                )
                self._audio_sh_sent = False
                continue
            opus, self._opus = self._opus, []
            out += self._on_audio_msg(_Audio(ms, body, AudioCodec.AAC, opus))
        return out

    def _on_audio_msg(self, a: _Audio) -> list[MediaMessage]:
        if self._base is not None:
            return self._emit_audio(a)
        pending = self._pending_audio
        pending.append(a)
        # Keep what may still follow the first keyframe: the last START_TIMEOUT_MS of audio.
        while pending and pending[0].ms < a.ms - self.start_timeout_ms:
            pending.pop(0)
        return []

    def _check_start(self, now_ms: int) -> list[MediaMessage]:
        if self._base is not None:
            return []
        video = self._pending_video
        video_ready = self._asm is None or bool(video)
        audio_ready = self._audio is None or any(
            not video or a.ms >= video[0].timestamp for a in self._pending_audio
        )
        timed_out = self._first_ms is not None and now_ms - self._first_ms >= self.start_timeout_ms
        if (video_ready and audio_ready) or (timed_out and (video or self._pending_audio)):
            return self._start()
        return []

    def _start(self) -> list[MediaMessage]:
        """Output time 0 at the first keyframe (or the first audio): sequence headers, then the media."""
        video, audio = self._pending_video, self._pending_audio
        if not video and not audio:
            return []
        base = self._base = video[0].timestamp if video else audio[0].ms
        self._pending_video, self._pending_audio = [], []
        for a in audio:
            if a.ms < base:  # before the start; its Opus packets from the start on ride on the next
                self._carry += [(t, p) for t, p in a.opus if t >= base]
        kept: list[tuple[int, int, int, MediaMessage | _Audio]]
        kept = [(a.ms, 1, i, a) for i, a in enumerate(audio) if a.ms >= base]
        out: list[MediaMessage] = []
        if video:
            out += self._sequence_header(VIDEO, base)
        if kept:
            out += self._sequence_header(AUDIO, base)
        timed: list[tuple[int, int, int, MediaMessage | _Audio]] = [
            (m.timestamp, 0, i, m) for i, m in enumerate(video)
        ]
        for _, _, _, m in sorted(timed + kept):
            out += self._emit_audio(m) if isinstance(m, _Audio) else self._emit(m)
        return out

    def _sequence_header(self, kind: int, ms: int) -> list[MediaMessage]:
        assert self._base is not None
        if kind == VIDEO:
            sh, self._video_sh_sent = (None if self._video_sh_sent else self._video_sh), True
        else:
            sh, self._audio_sh_sent = (None if self._audio_sh_sent else self._audio_sh), True
        return [] if sh is None else [sh.with_timestamp(max(0, ms - self._base))]

    def _emit(self, msg: MediaMessage) -> list[MediaMessage]:
        """A video message on the shared timeline -> on the output timeline (sequence header first if due)."""
        assert self._base is not None
        out = self._sequence_header(VIDEO, msg.timestamp)
        out.append(msg.with_timestamp(max(0, msg.timestamp - self._base)))
        return out

    def _emit_audio(self, a: _Audio) -> list[MediaMessage]:
        assert self._base is not None
        if a.ms < self._base:  # moved before the start by a sender report: its Opus rides on the next
            self._carry += a.opus
            return []
        rtp = tuple(p for _, p in self._carry + a.opus)
        self._carry = []
        out = self._sequence_header(AUDIO, a.ms)
        out.append(MediaMessage(AUDIO, a.ms - self._base, a.body, codec=a.codec, rtp=rtp))
        return out
