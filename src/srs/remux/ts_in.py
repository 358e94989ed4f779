"""MPEG-TS publisher (SRT, ``mpegts_over_udp`` caster) -> live Source: TS bytes in, media messages out.

SRS does this in ``SrsSrtFrameBuilder`` / ``SrsMpegtsOverUdp`` (``srs_app_srt_source.cpp``,
``srs_app_mpegts_udp.cpp``) with its TS demuxer: H.264/H.265 Annex B access units become FLV AVC/HEVC
NALU messages (4-byte lengths), the SPS/PPS(/VPS) they carry a sequence header whenever they change;
ADTS AAC is split into raw frames after an AudioSpecificConfig sequence header; DTS (90 kHz) becomes the
message time in ms. :class:`TsIngest` is the sans-IO equivalent, on :class:`srs.format.ts.TsDemuxer`
(which keeps sync through garbage and counts what does not parse). Where we differ from SRS:

* H.265 is written as Enhanced RTMP ``hvc1`` (as :mod:`srs.remux.rtc_in`), not SRS's legacy codec id 12;
  the composition time (PTS - DTS) is kept for both codecs (B-frames);
* the timeline is continuous: the 33-bit wrap is unwrapped, and a jump of more than 10 s (or a PES whose
  adaptation field sets ``discontinuity_indicator``) re-bases it so the next frame follows the previous
  one; output time 0 is the first video keyframe (audio before it is dropped), or the first audio frame
  of an audio-only program;
* nothing is emitted until both kinds the PMT announces have media (up to ``wait_ms`` of media waiting
  for the other): the first tags are the sequence headers, then both kinds from the start;
* several ADTS (or MP3) frames in one PES are split, each timed by its sample count from the PES PTS;
* messages come out in timestamp order across kinds (TS muxers put audio PES ahead of the video,
  and the Source's jitter correction turns a step back into +10 ms): a message waits until every
  announced kind has reached its time, at most ``wait_ms``; after an audio-only start, video joins
  at its first keyframe;
* a PES that lost packets (continuity counter gap) is dropped, as are video frames before their
  parameter sets; MP3 (stream types 3/4) is carried as FLV MP3; other stream types are ignored;
* Opus in TS (a private PES with an ``Opus`` registration descriptor, :mod:`srs.format.ts_opus`; mono
  or stereo, channel_config_code 1 or 2) is transcoded to AAC once per stream by
  :class:`srs.remux.opus2aac.OpusToAac` (as the WebRTC -> RTMP bridge does), since RTMP/HTTP-FLV/HLS
  carry AAC: each access unit is timed from the PES PTS plus the durations (from its TOC) of the ones
  before it, the encoder's AudioSpecificConfig is the audio sequence header and each AAC frame keeps
  the encoder's own time. WebRTC players get Opus again through the AAC -> Opus path of
  :mod:`srs.remux.rtc_out` (a double transcode). The control header's trims are not applied (the
  pre-skip samples are decoded and kept: its timing is right, only ~6.5 ms of encoder warm-up is heard);
  dual mono and multichannel Opus (codes 0, 3..8, 0x80) are ignored like an unknown stream type.

Nothing escapes :meth:`TsIngest.feed`: what does not parse is counted in :attr:`TsIngest.stats`.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass

from srs.codec import aac, h264, h265, mp3
from srs.codec.nalu import split_annexb, to_avcc
from srs.format import ts
from srs.format.flv import AudioCodec, FrameType, VideoCodec, VideoPacketType, audio_body, video_body
from srs.format.ts import PesFrame, StreamType
from srs.format.ts_opus import iter_access_units
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.protocol.rtc.payload_opus import packet_samples
from srs.remux.opus2aac import DEFAULT_BITRATE, AacFrame, OpusToAac
from srs.remux.rtmp import media_from_rtmp
from srs.util.errors import SrsError

log = logging.getLogger("srs")

WAIT_MS = 1000  # media one kind waits for the other announced in the PMT
KEYFRAME_WAIT_MS = 10000  # audio waited for a first video keyframe before starting audio-only
JUMP_90K = 10 * 90000  # a DTS jump bigger than this is a discontinuity
WRAP = ts.MAX_PTS
_VIDEO = {StreamType.H264: "h264", StreamType.H265: "h265"}
_AUDIO = {StreamType.AAC: "aac", StreamType.MP3: "mp3", StreamType.MPEG2_AUDIO: "mp3"}
_PARAMS = {"h264": (7, 8), "h265": (32, 33, 34)}
_AUD = {"h264": 9, "h265": 35}
_OPUS_CHANNELS = (1, 2)  # channel_config_code of the Opus streams we take (one Opus stream each)
_MP3_RATES = {44100: 3, 48000: 3, 32000: 3, 22050: 2, 24000: 2, 16000: 2, 11025: 1, 12000: 1, 8000: 1}


@dataclass(slots=True)
class TsIngestStats:
    video_frames: int = 0
    audio_frames: int = 0
    errors: int = 0  # TS packets or PES headers that did not parse (the demuxer's count)
    dropped: int = 0  # PES lost in part, bad elementary streams, frames before parameter sets / the start
    discontinuities: int = 0  # timeline re-bases


class _Pending:
    __slots__ = ("ext", "msg")

    def __init__(self, ext: int, msg: MediaMessage) -> None:
        self.ext = ext  # 90 kHz on the continuous timeline
        self.msg = msg  # timestamp not yet set (0)


class TsIngest:
    """TS bytes of one publisher -> :class:`MediaMessage` s for the live Source (sans-IO).

    ``feed`` the bytes as they come (any chunking), ``flush`` at the end of the stream.
    """

    def __init__(
        self,
        *,
        wait_ms: int = WAIT_MS,
        keyframe_wait_ms: int = KEYFRAME_WAIT_MS,
        aac_bitrate: int = DEFAULT_BITRATE,
    ) -> None:
        self.demuxer = ts.TsDemuxer()
        self.stats = TsIngestStats()
        self.wait_ms = wait_ms
        self.keyframe_wait_ms = keyframe_wait_ms
        self.aac_bitrate = aac_bitrate  # of the AAC an Opus track becomes
        self._opus: OpusToAac | None = None
        self._opus_dropped = 0
        self._failing = False
        # Continuous 90 kHz timeline shared by all PIDs.
        self._last_raw: int | None = None
        self._last_ext = 0
        self._reset = False
        # Codec state.
        self._params: dict[int, bytes] = {}
        self._video_sh: MediaMessage | None = None
        self._video_sh_sent = False
        self._audio_sh: MediaMessage | None = None
        self._audio_cfg: bytes | None = None
        self._audio_sh_sent = False
        # Before the start.
        self._base: int | None = None
        self._pending_video: list[_Pending] = []
        self._pending_audio: list[_Pending] = []
        # After the start: messages waiting to go out in timestamp order (TS muxers put audio ahead).
        self._heap: list[tuple[int, int, list[MediaMessage]]] = []
        self._seq = 0
        self._last: dict[int, int] = {}
        self._video_keyed = False  # a video keyframe went out

    @property
    def started(self) -> bool:
        return self._base is not None

    def video_codec(self) -> str | None:
        """The codec of the PMT's (first) video stream we carry, once the PMT was read."""
        return next((_VIDEO[s.stream_type] for s in self._streams() if s.stream_type in _VIDEO), None)  # type: ignore[index]

    def audio_codec(self) -> str | None:
        """The codec of the PMT's (first) audio stream we carry: aac, mp3 or opus (which becomes AAC)."""
        return next((c for c in map(_audio_of, self._streams()) if c is not None), None)

    def _streams(self) -> list[ts.TsStream]:
        return sorted(self.demuxer.streams.values(), key=lambda s: s.pid)

    # --- input

    def feed(self, data: bytes) -> list[MediaMessage]:
        """TS bytes -> the messages now ready (never raises)."""
        try:
            frames = self.demuxer.feed(data)
        except Exception as e:
            self._fail(f"demuxer: {type(e).__name__}: {e}")
            frames = []
        return self._frames(frames)

    def flush(self) -> list[MediaMessage]:
        """End of the stream: the PES being assembled, and the start if it had not happened."""
        try:
            frames = self.demuxer.flush()
        except Exception as e:
            self._fail(f"demuxer: {type(e).__name__}: {e}")
            frames = []
        out = self._frames(frames)
        if self._opus is not None:
            out += self._queue_audio(self._from_aac(self._opus.flush()))
        if self._base is None:
            out += self._start()
        return out + self._drain(final=True)

    # --- internals

    def _frames(self, frames: list[PesFrame]) -> list[MediaMessage]:
        out: list[MediaMessage] = []
        for f in frames:
            try:
                out += self._frame(f)
            except (SrsError, ValueError, IndexError, KeyError, OverflowError) as e:
                self._fail(f"{type(e).__name__}: {e}")
        self.stats.errors = self.demuxer.errors
        return out + self._drain()

    def _drain(self, *, final: bool = False) -> list[MediaMessage]:
        """What can go out in timestamp order: up to the latest time every announced kind reached, or
        anything ``wait_ms`` behind the newest (a kind that stopped does not hold the other back)."""
        heap = self._heap
        if not heap:
            return []
        if final:
            limit = max(t for t, _, _ in heap)
        else:
            kinds = [
                k for k, on in ((VIDEO, self._wants_video()), (AUDIO, self.audio_codec() is not None)) if on
            ]
            lasts = [self._last[k] for k in kinds if k in self._last]
            limit = min(lasts) if lasts and len(lasts) == len(kinds) else -1
            if self._last:
                limit = max(limit, max(self._last.values()) - self.wait_ms)
        out: list[MediaMessage] = []
        while heap and heap[0][0] <= limit:
            out += heapq.heappop(heap)[2]
        return out

    def _fail(self, why: str) -> None:
        self.stats.dropped += 1
        if not self._failing:
            self._failing = True
            log.warning("TS ingest: dropped a frame: %s (more are not logged until a frame is good)", why)

    def _unwrap(self, raw: int, reset: bool) -> int:
        """A 33-bit 90 kHz time -> the continuous timeline (re-based on a jump or a discontinuity)."""
        raw %= WRAP
        if self._last_raw is None:
            self._last_raw, self._last_ext = raw, raw
            self._reset = False
            return raw
        delta = (raw - self._last_raw + WRAP // 2) % WRAP - WRAP // 2
        if reset or self._reset or abs(delta) > JUMP_90K:
            self.stats.discontinuities += 1
            self._reset = False
            delta = 0  # the new time base continues where the old one was
        self._last_raw = raw
        self._last_ext += delta
        return self._last_ext

    def _frame(self, f: PesFrame) -> list[MediaMessage]:
        vcodec = _VIDEO.get(f.stream_type)  # type: ignore[call-overload]
        stream = self.demuxer.streams.get(f.pid)
        acodec = _audio_of(stream) if stream is not None and stream.stream_type == f.stream_type else None
        if (vcodec is None and acodec is None) or not self._is_main(f):
            return []
        if f.timeline_reset:
            self._reset = True
        if f.discontinuity:
            self._fail("a PES lost packets")
            return []
        raw = f.dts if f.dts is not None else f.pts
        if raw is None or f.pts is None:
            self._fail("a PES without PTS")
            return []
        ext = self._unwrap(raw, f.timeline_reset)
        if vcodec is not None:
            cts = ((f.pts - raw + WRAP // 2) % WRAP - WRAP // 2) // 90
            return self._video(vcodec, ext, cts, f.payload)
        assert acodec is not None
        if acodec == "opus":
            assert stream is not None
            return self._queue_audio(self._opus_audio(stream, ext, f.payload))
        return self._queue_audio(self._audio(acodec, ext, f.payload))

    def _is_main(self, f: PesFrame) -> bool:
        """Only the first video and the first audio stream of the PMT are taken."""
        if f.stream_type in _VIDEO:
            first = next((s.pid for s in self._streams() if s.stream_type in _VIDEO), None)
        else:
            first = next((s.pid for s in self._streams() if _audio_of(s) is not None), None)
        return first == f.pid

    def _video(self, codec: str, ext: int, cts: int, payload: bytes) -> list[MediaMessage]:
        nalus = split_annexb(payload)
        hevc = codec == "h265"
        params = _PARAMS[codec]
        frame: list[bytes] = []
        changed = False
        key = False
        for n in nalus:
            t = ((n[0] >> 1) & 0x3F) if hevc else (n[0] & 0x1F)
            if t == _AUD[codec]:
                continue
            if t in params:
                changed = changed or self._params.get(t) != n
                self._params[t] = n
                continue
            key = key or (h265.is_keyframe_nalu(t) if hevc else t == h264.NaluType.IDR)
            frame.append(n)
        if changed and all(t in self._params for t in params):
            ps = [self._params[t] for t in params]
            if hevc:
                body = video_body(
                    VideoCodec.HEVC,
                    FrameType.KEY,
                    VideoPacketType.SEQUENCE_START,
                    0,
                    h265.build_hevc_config(ps[0], ps[1], ps[2]),
                    enhanced=True,
                )
            else:
                body = video_body(VideoCodec.AVC, FrameType.KEY, 0, 0, h264.build_avc_config(ps[0], ps[1]))
            self._video_sh = media_from_rtmp(VIDEO, 0, body)
            self._video_sh_sent = False
        if not frame:
            return []
        if self._video_sh is None:
            self._fail("video frame before its parameter sets")
            return []
        ftype = FrameType.KEY if key else FrameType.INTER
        data = to_avcc(frame)
        if hevc:
            body = video_body(VideoCodec.HEVC, ftype, VideoPacketType.CODED_FRAMES, cts, data, enhanced=True)
        else:
            body = video_body(VideoCodec.AVC, ftype, 1, cts, data)
        msg = media_from_rtmp(VIDEO, 0, body)
        assert msg is not None
        self._failing = False
        self.stats.video_frames += 1
        p = _Pending(ext, msg)
        if self._base is not None:
            if not (key or self._video_keyed):
                self.stats.dropped += 1  # started audio-only: video joins at its first keyframe
                return []
            self._video_keyed = True
            return self._emit(p)
        if key:
            self._pending_video = [p]
        elif self._pending_video:
            self._pending_video.append(p)
        else:
            self.stats.dropped += 1  # before the first keyframe
        return self._check_start()

    def _audio(self, codec: str, ext: int, payload: bytes) -> list[_Pending]:
        pending: list[_Pending] = []
        pos, n = 0, len(payload)
        t90 = 0.0
        while pos < n:
            if codec == "aac":
                h = aac.parse_adts(payload[pos : pos + 9])
                end = pos + h.frame_length
                if end > n:
                    break
                cfg = aac.asc_from_adts(h)
                if cfg != self._audio_cfg:
                    self._audio_cfg = cfg
                    self._audio_sh = media_from_rtmp(AUDIO, 0, audio_body(AudioCodec.AAC, 0, cfg))
                    self._audio_sh_sent = False
                body = audio_body(AudioCodec.AAC, 1, payload[pos + h.header_size : end])
                rate, samples = h.sample_rate, 1024 * (h.raw_data_blocks + 1)
            else:
                m = mp3.parse_header(payload[pos : pos + 4])
                size = m.frame_length
                end = pos + size
                if size < 4 or end > n:
                    break
                rate, samples = m.sample_rate, m.samples_per_frame
                body = audio_body(
                    AudioCodec.MP3,
                    0,
                    payload[pos:end],
                    sound_rate=_MP3_RATES.get(rate, 3),
                    sound_type=0 if m.channels == 1 else 1,
                )
            msg = media_from_rtmp(AUDIO, 0, body)
            assert msg is not None
            pending.append(_Pending(ext + int(t90), msg))
            t90 += samples * 90000 / rate
            pos = end
        if pos < n:
            self._fail(f"a truncated {codec} frame")
        return pending

    def _opus_audio(self, stream: ts.TsStream, ext: int, payload: bytes) -> list[_Pending]:
        """The Opus access units of one PES -> the AAC frames the transcoder made of them."""
        if self._opus is None:
            cfg = stream.opus_channel_config
            self._opus = OpusToAac(self.aac_bitrate, cfg if cfg in _OPUS_CHANNELS else None)
        frames: list[AacFrame] = []
        samples = 0  # 48 kHz, since the PES PTS
        try:
            for au in iter_access_units(payload):
                n = packet_samples(au.packet)  # a bad TOC ends the PES: the next AU's time is unknown
                frames += self._opus.push(au.packet, (ext + samples * 90000 // 48000) // 90)
                samples += n
        except SrsError as e:
            self._fail(str(e))
        dropped = self._opus.dropped - self._opus_dropped
        self._opus_dropped = self._opus.dropped
        self.stats.dropped += dropped
        return self._from_aac(frames)

    def _from_aac(self, frames: list[AacFrame]) -> list[_Pending]:
        pending: list[_Pending] = []
        for fr in frames:
            msg = media_from_rtmp(AUDIO, 0, fr.body)
            assert msg is not None
            if fr.sequence_header:
                self._audio_sh, self._audio_sh_sent = msg, False
            else:
                pending.append(_Pending(fr.timestamp * 90, msg))
        return pending

    def _queue_audio(self, pending: list[_Pending]) -> list[MediaMessage]:
        out: list[MediaMessage] = []
        for p in pending:
            self._failing = False
            self.stats.audio_frames += 1
            if self._base is not None:
                out += self._emit(p)
                continue
            self._pending_audio.append(p)
            # Before the start, keep only what may still follow the first keyframe.
            keep = max(self.wait_ms, self.keyframe_wait_ms if self._wants_video() else 0)
            while self._pending_audio and self._pending_audio[0].ext < p.ext - keep * 90:
                self._pending_audio.pop(0)
                self.stats.dropped += 1
            out += self._check_start()
        return out

    def _wants_video(self) -> bool:
        return self.video_codec() is not None

    def _check_start(self) -> list[MediaMessage]:
        if self._base is not None:
            return []
        video, audio = self._pending_video, self._pending_audio
        wants_video, wants_audio = self._wants_video(), self.audio_codec() is not None
        if video:
            start = video[0].ext
            if not wants_audio or any(a.ext >= start for a in audio):
                return self._start()
            if video[-1].ext - start >= self.wait_ms * 90:
                return self._start()
            if audio and audio[-1].ext - start >= self.wait_ms * 90:
                return self._start()
            return []
        if audio and (not wants_video or audio[-1].ext - audio[0].ext >= self.keyframe_wait_ms * 90):
            return self._start()
        return []

    def _start(self) -> list[MediaMessage]:
        video, audio = self._pending_video, self._pending_audio
        if not video and not audio:
            return []
        base = self._base = video[0].ext if video else audio[0].ext
        self._video_keyed = bool(video)
        self._pending_video, self._pending_audio = [], []
        kept = [a for a in audio if a.ext >= base]
        self.stats.dropped += len(audio) - len(kept)
        out: list[MediaMessage] = []
        if video:
            out += self._sequence_header(VIDEO)
        if kept:
            out += self._sequence_header(AUDIO)
        both = sorted(
            [(p.ext, 0, i, p) for i, p in enumerate(video)] + [(p.ext, 1, i, p) for i, p in enumerate(kept)]
        )
        for *_, p in both:
            out += self._emit(p)
        return out

    def _sequence_header(self, kind: int, ms: int = 0) -> list[MediaMessage]:
        if kind == VIDEO:
            sh, self._video_sh_sent = (None if self._video_sh_sent else self._video_sh), True
        else:
            sh, self._audio_sh_sent = (None if self._audio_sh_sent else self._audio_sh), True
        return [] if sh is None else [sh.with_timestamp(ms)]

    def _emit(self, p: _Pending) -> list[MediaMessage]:
        assert self._base is not None
        ms = (p.ext - self._base) // 90
        if ms < 0:
            self.stats.dropped += 1  # before the start (audio muxed ahead of the first keyframe)
            return []
        unit = self._sequence_header(p.msg.kind, ms)
        unit.append(p.msg.with_timestamp(ms))
        kind = p.msg.kind
        self._last[kind] = max(ms, self._last.get(kind, ms))
        self._seq += 1
        heapq.heappush(self._heap, (ms, self._seq, unit))
        return []


def _audio_of(stream: ts.TsStream) -> str | None:
    """The audio codec of a PMT stream we take, or None."""
    codec = _AUDIO.get(stream.stream_type)  # type: ignore[call-overload]
    if codec is not None:
        return codec  # type: ignore[no-any-return]
    if stream.is_opus and stream.opus_channel_config in (*_OPUS_CHANNELS, None):
        return "opus"
    return None
