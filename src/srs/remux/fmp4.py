"""Media messages (FLV tag bodies) -> fragmented MP4: what HLS fMP4, DASH and DVR MP4 share.

:class:`Fmp4Remuxer` takes every message in stream order: the sequence headers configure the
tracks (avcC / hvcC kept as the publisher sent them, the AAC AudioSpecificConfig; MP3 needs none),
coded frames are queued as samples, and :meth:`Fmp4Remuxer.flush` turns the queue into one
``moof`` + ``mdat``. Video keeps its length-prefixed NALUs as they are (MP4 and FLV share that form),
DTS = timestamp and the composition offset = the FLV composition time, on a 1 kHz timescale; audio
is on its sample rate's timescale. Each fragment restates its decode time (``tfdt``), so a lost or
late message never makes the timeline drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from srs.codec import aac, h264, h265, mp3
from srs.format import mp4
from srs.format.flv import AudioCodec, VideoCodec, parse_audio, parse_video
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.util.errors import SrsError

VIDEO_TIMESCALE = 1000
WAIT_FOR_BOTH_MS = 1000  # as the TS outputs: how much media to wait for the other kind


def settle_tracks(msgs: Sequence[MediaMessage]) -> tuple[bool, bool] | None:
    """(has_video, has_audio) of carried codecs once known, else None (wait for more messages):
    a coded frame of both kinds, or ``WAIT_FOR_BOTH_MS`` of media with one kind only."""
    frames = [m for m in msgs if m.is_av and not m.sequence_header]
    if not frames:
        return None
    kinds = {m.kind for m in frames}
    if len(kinds) < 2 and frames[-1].timestamp - frames[0].timestamp < WAIT_FOR_BOTH_MS:
        return None
    video = any(m.kind == VIDEO and m.codec in (VideoCodec.AVC, VideoCodec.HEVC) for m in msgs)
    audio = any(m.kind == AUDIO and m.codec in (AudioCodec.AAC, AudioCodec.MP3) for m in msgs)
    return video, audio


@dataclass(slots=True)
class _Queued:
    dts: int  # in the track's timescale
    data: bytes
    keyframe: bool
    cts: int


@dataclass(slots=True)
class _TrackState:
    track_id: int
    track: mp4.Track | None = None
    codec: int | None = None  # the FLV codec id the track carries
    frame_samples: int = 0  # audio: samples per frame (the last sample's duration)
    queue: list[_Queued] = field(default_factory=list)
    last_duration: int = 0


class Fmp4Remuxer:
    """One output's fMP4 state: the tracks, the queued samples, the fragment sequence number."""

    def __init__(self, video: bool, audio: bool) -> None:
        if not video and not audio:
            raise ValueError("no track fMP4 can carry")
        next_id = 1
        self._video = self._audio = None
        if video:
            self._video = _TrackState(next_id)
            next_id += 1
        if audio:
            self._audio = _TrackState(next_id)
        self.sequence = 0
        self.config_changed = False  # a sequence header changed a track after init_segment()
        self.flushed_ms = 0  # the media time of the last flush (its longest track)
        self._init_built = False

    # ------------------------------------------------------------------ state

    @property
    def ready(self) -> bool:
        return all(s.track is not None for s in self._states())

    @property
    def queued_ms(self) -> int:
        out = 0
        for s in self._states():
            if len(s.queue) > 1 and s.track is not None:
                out = max(out, (s.queue[-1].dts - s.queue[0].dts) * 1000 // s.track.timescale)
        return out

    @property
    def has_video(self) -> bool:
        return self._video is not None

    @property
    def has_samples(self) -> bool:
        return any(s.queue for s in self._states())

    def tracks(self) -> list[mp4.Track]:
        return [s.track for s in self._states() if s.track is not None]

    def _states(self) -> list[_TrackState]:
        return [s for s in (self._video, self._audio) if s is not None]

    def init_segment(self) -> bytes:
        if not self.ready:
            raise ValueError("the tracks' codec configurations are not known yet")
        self._init_built = True
        self.config_changed = False
        return mp4.init_segment(self.tracks())

    # ------------------------------------------------------------------ input

    def add(self, msg: MediaMessage) -> bool:
        """Take one message (sequence headers configure, frames queue; others are ignored).
        True when a sample was queued."""
        try:
            if msg.kind == VIDEO and self._video is not None:
                return self._add_video(self._video, msg)
            if msg.kind == AUDIO and self._audio is not None:
                return self._add_audio(self._audio, msg)
        except (SrsError, ValueError, IndexError):
            pass  # a frame that does not parse is left out
        return False

    def _configure(self, s: _TrackState, track: mp4.Track, codec: int) -> None:
        if s.track is not None and s.track != track and self._init_built:
            self.config_changed = True
        s.track, s.codec = track, codec

    def _add_video(self, s: _TrackState, msg: MediaMessage) -> bool:
        info = parse_video(msg.payload)
        if info.codec not in (VideoCodec.AVC, VideoCodec.HEVC):
            return False
        data = msg.payload[info.data_offset :]
        if info.is_sequence_header:
            if info.codec == VideoCodec.AVC:
                avc = h264.parse_avc_config(data)
                sps264 = h264.parse_sps(avc.sps[0])
                w, h, fourcc = sps264.width, sps264.height, "avc1"
            else:
                hevc = h265.parse_hevc_config(data)
                sps265 = h265.parse_sps(hevc.sps[0])
                w, h, fourcc = sps265.width, sps265.height, "hvc1"
            track = mp4.Track(s.track_id, mp4.VIDE, VIDEO_TIMESCALE, fourcc, bytes(data), w, h)
            self._configure(s, track, info.codec)
            return False
        if s.track is None or info.codec != s.codec or info.packet_type not in (1, 3) or not data:
            return False
        s.queue.append(_Queued(msg.timestamp, bytes(data), info.is_keyframe, info.composition_time_ms))
        return True

    def _add_audio(self, s: _TrackState, msg: MediaMessage) -> bool:
        info = parse_audio(msg.payload)
        data = msg.payload[info.data_offset :]
        if info.codec == AudioCodec.AAC:
            if info.is_sequence_header:
                asc = aac.parse_asc(data)
                rate = asc.sample_rate
                track = mp4.Track(
                    s.track_id,
                    mp4.SOUN,
                    rate,
                    "mp4a",
                    bytes(data),
                    channels=asc.channel_config or 2,
                    sample_rate=rate,
                )
                s.frame_samples = 1024
                self._configure(s, track, AudioCodec.AAC)
                return False
        elif info.codec == AudioCodec.MP3:
            if not data:
                return False
            if s.track is None:
                hdr = mp3.parse_header(data)
                channels = 1 if hdr.channel_mode == mp3.ChannelMode.MONO else 2
                track = mp4.Track(
                    s.track_id,
                    mp4.SOUN,
                    hdr.sample_rate,
                    "mp4a",
                    channels=channels,
                    sample_rate=hdr.sample_rate,
                    object_type=0x6B,
                )
                s.frame_samples = 1152 if hdr.version == mp3.MpegVersion.V1 else 576
                self._configure(s, track, AudioCodec.MP3)
        else:
            return False
        if s.track is None or info.codec != s.codec or not data:
            return False
        s.queue.append(_Queued(msg.timestamp * s.track.timescale // 1000, bytes(data), True, 0))
        return True

    # ------------------------------------------------------------------ output

    def flush(self, end_ms: int | None = None) -> bytes:
        """``moof`` + ``mdat`` of everything queued (``b""`` if nothing). ``end_ms``, when known (the
        next fragment's first video timestamp), gives the last video frame its exact duration;
        otherwise the frame before it lends its duration. Audio's last frame lasts one frame."""
        runs: list[mp4.Run] = []
        self.flushed_ms = 0
        for s in self._states():
            if not s.queue or s.track is None:
                continue
            end = None
            if s is self._video and end_ms is not None:
                end = end_ms * s.track.timescale // 1000
            run = self._run(s, end)
            runs.append(run)
            total = sum(x.duration for x in run.samples) * 1000 // s.track.timescale
            self.flushed_ms = max(self.flushed_ms, total)
        if not runs:
            return b""
        self.sequence += 1
        return mp4.fragment(self.sequence, runs)

    @staticmethod
    def _run(s: _TrackState, end: int | None) -> mp4.Run:
        assert s.track is not None
        q = s.queue
        s.queue = []
        run = mp4.Run(s.track.track_id, q[0].dts)
        for i, f in enumerate(q):
            if i + 1 < len(q):
                duration = q[i + 1].dts - f.dts
            elif end is not None and end > f.dts:
                duration = end - f.dts
            elif s.frame_samples:
                duration = s.frame_samples
            else:
                duration = s.last_duration or s.track.timescale // 30
            duration = max(0, duration)
            s.last_duration = duration or s.last_duration
            run.samples.append(mp4.Sample(duration, f.data, f.keyframe, f.cts * s.track.timescale // 1000))
        return run
