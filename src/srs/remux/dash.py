"""MPEG-DASH, sans-IO: media messages in, file actions out (``srs.output.dash`` performs them).

:class:`DashSegmenter` follows SRS's ``SrsDashController``: video and audio are separate fMP4
representations (``[stream]/video-init.mp4``, ``[stream]/video-<n>.m4s``, and the same for audio,
beside the MPD's directory). A video fragment is reaped on a keyframe once it lasts
``dash_fragment``; audio is reaped on its next frame after that, so both stay aligned. The MPD
lists the last ``dash_window_size`` fragments of each; files are kept for twice that window (as
SRS) and then removed with ``dash_cleanup``. Beyond SRS, audio-only and video-only streams work (a
kind alone is reaped on its own), and the ``codecs`` are the stream's own.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

from srs.config.schema_vhost import DashConfig
from srs.format import mp4, mpd
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.remux.fmp4 import Fmp4Remuxer, settle_tracks
from srs.remux.hls import Action, RemoveFile, WriteFile, expand


@dataclass(slots=True)
class _Fragment:
    number: int
    start_ms: int
    duration_ms: int
    path: str
    nbytes: int


@dataclass(slots=True)
class _Track:
    kind: str  # "video" | "audio"
    remuxer: Fmp4Remuxer
    start_ms: int | None = None  # the current fragment's first timestamp
    init_written: bool = False
    window: list[_Fragment] = field(default_factory=list)


class DashSegmenter:
    def __init__(self, cfg: DashConfig, *, vhost: str, app: str, stream: str) -> None:
        self.cfg = cfg
        self.vhost, self.app, self.stream = vhost, app, stream
        rel = expand(cfg.mpd_file, vhost=vhost, app=app, stream=stream)
        self.mpd_path = os.path.join(cfg.path, rel)
        self.home = os.path.join(cfg.path, posixpath.dirname(rel), stream)  # SRS: [mpd dir]/[stream]/
        self._tracks: dict[str, _Track] = {}
        self._held: list[MediaMessage] = []
        self._numbers = {"video": 0, "audio": 0}  # go on across republish (SRS)
        self._video_reaped = False
        self._availability_ms: int | None = None
        self._old: list[str] = []  # files out of the MPD, kept until they leave the longer window

    # ------------------------------------------------------------------ input

    def on_message(self, msg: MediaMessage, now_ms: int) -> list[Action]:
        if msg.kind != VIDEO and msg.kind != AUDIO:
            return []
        if not self._tracks:
            self._held.append(msg)
            kinds = settle_tracks(self._held)
            if kinds is None:
                return []
            held, self._held = self._held, []
            video, audio = kinds
            if video:
                self._tracks["video"] = _Track("video", Fmp4Remuxer(True, False))
            if audio:
                self._tracks["audio"] = _Track("audio", Fmp4Remuxer(False, True))
            out: list[Action] = []
            for m in held:
                out += self._on_av(m, now_ms)
            return out
        return self._on_av(msg, now_ms)

    def _on_av(self, msg: MediaMessage, now_ms: int) -> list[Action]:
        t = self._tracks.get("video" if msg.kind == VIDEO else "audio")
        if t is None:
            return []
        out: list[Action] = []
        if msg.sequence_header:
            t.remuxer.add(msg)
            return out
        if t.start_ms is not None:
            duration = msg.timestamp - t.start_ms
            if t.kind == "video":
                if msg.keyframe and duration >= self.cfg.fragment_s * 1000:
                    out += self._reap(t, msg.timestamp, now_ms)
                    self._video_reaped = True
            elif self._video_reaped or (
                "video" not in self._tracks and duration >= self.cfg.fragment_s * 1000
            ):
                self._video_reaped = False
                out += self._reap(t, msg.timestamp, now_ms)
        if not t.remuxer.add(msg):
            return out
        if not t.remuxer.ready:
            t.remuxer.flush()  # no configuration yet: nothing could play it
            return out
        if self._availability_ms is None:
            self._availability_ms = now_ms - msg.timestamp  # SRS: system time minus the first dts
        if not t.init_written or t.remuxer.config_changed:
            t.init_written = True
            out.append(WriteFile(os.path.join(self.home, f"{t.kind}-init.mp4"), t.remuxer.init_segment()))
        if t.start_ms is None:
            t.start_ms = msg.timestamp
        return out

    def on_unpublish(self, now_ms: int) -> list[Action]:
        """The publisher left: the current fragments are written; the next publisher starts over
        (new codecs, a new timeline and window; the numbers go on)."""
        out: list[Action] = []
        for t in self._tracks.values():
            out += self._reap(t, None, now_ms)
        for t in self._tracks.values():
            self._old += [f.path for f in t.window]
        self._tracks = {}
        self._held = []
        self._video_reaped = False
        self._availability_ms = None
        return out

    def retire(self, new: object) -> list[Action]:
        """A reload replaced this segmenter: nothing of DASH lives in memory."""
        return []

    def dispose(self) -> list[Action]:
        """``dash_dispose``: remove the MPD, the init segments and every fragment."""
        out: list[Action] = [RemoveFile(p) for p in self._old]
        for t in self._tracks.values():
            out += [RemoveFile(f.path) for f in t.window]
        out += [RemoveFile(os.path.join(self.home, f"{k}-init.mp4")) for k in ("video", "audio")]
        out.append(RemoveFile(self.mpd_path))
        self._old = []
        for t in self._tracks.values():
            t.window.clear()
        return out

    # ------------------------------------------------------------------ fragments

    def _reap(self, t: _Track, end_ms: int | None, now_ms: int) -> list[Action]:
        if t.start_ms is None:
            return []
        data = t.remuxer.flush(end_ms)
        start, t.start_ms = t.start_ms, None
        if not data:
            return []
        duration = t.remuxer.flushed_ms
        number = self._numbers[t.kind]
        self._numbers[t.kind] += 1
        path = os.path.join(self.home, f"{t.kind}-{number}.m4s")
        out: list[Action] = [WriteFile(path, data)]
        t.window.append(_Fragment(number, start, duration, path, len(data)))
        keep = max(2 * self.cfg.window_size * self.cfg.fragment_s * 1000, self._listed_ms(t))
        while len(t.window) > self.cfg.window_size and sum(f.duration_ms for f in t.window[1:]) >= keep:
            old = t.window.pop(0)
            if self.cfg.cleanup:
                out.append(RemoveFile(old.path))
        if self._old and self.cfg.cleanup:
            out += [RemoveFile(p) for p in self._old]
            self._old = []
        if all(tr.window for tr in self._tracks.values()):
            out.append(WriteFile(self.mpd_path, self.render(now_ms).encode()))
        return out

    def _listed_ms(self, t: _Track) -> int:
        return sum(f.duration_ms for f in t.window[-self.cfg.window_size :])

    def render(self, now_ms: int) -> str:
        reps: list[mpd.Representation] = []
        longest = 0
        for t in self._tracks.values():
            listed = t.window[-max(1, self.cfg.window_size) :]
            if not listed:
                continue
            track = t.remuxer.tracks()[0]
            seconds = max(1, sum(f.duration_ms for f in listed)) / 1000
            longest = max(longest, listed[-1].duration_ms)
            reps.append(
                mpd.Representation(
                    t.kind,
                    mp4.codec_string(track),
                    int(sum(f.nbytes for f in listed) * 8 / seconds),
                    listed[0].number,
                    tuple((f.start_ms, f.duration_ms) for f in listed),
                    track.width,
                    track.height,
                    track.sample_rate,
                )
            )
        window_ms = max((sum(d for _, d in r.timeline) for r in reps), default=0)
        return mpd.Mpd(
            availability_start_ms=self._availability_ms or 0,
            publish_ms=now_ms,
            update_period_s=self.cfg.update_period_s,
            timeshift_s=min(self.cfg.timeshift_s, window_ms / 1000),
            min_buffer_s=2 * longest / 1000,
            base_url=f"{self.stream}/",
            representations=reps,
        ).render()
