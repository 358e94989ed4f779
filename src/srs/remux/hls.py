"""HLS with MPEG-TS segments, sans-IO: media messages in, file actions out.

:class:`HlsSegmenter` follows SRS's ``SrsHlsController``: a segment is reaped on a video keyframe
once it lasts ``hls_fragment * hls_td_ratio`` (at once if ``hls_wait_keyframe off``), or on audio
once it lasts ``hls_aof_ratio * hls_fragment`` (pure audio, or video that never brings a keyframe);
never under 0.2 s. The playlist keeps ``hls_window`` seconds of segments; older ones leave it and,
with ``hls_cleanup``, their files are removed. A republish continues the sequence numbers and marks
the next segment with ``EXT-X-DISCONTINUITY``.

The caller (``srs.output.hls``) performs the actions: :class:`WriteFile` (atomically: temp name,
then rename, so a player never reads a half-written file) and :class:`RemoveFile`.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime

from srs.config.schema_vhost import HlsConfig
from srs.format import m3u8
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.remux.ts import TsRemuxer, settle_stream_types

MIN_SEGMENT_MS = 200  # SRS: 2 * SRS_HLS_SEGMENT_MIN_DURATION


@dataclass(frozen=True, slots=True)
class WriteFile:
    path: str
    data: bytes


@dataclass(frozen=True, slots=True)
class RemoveFile:
    path: str


@dataclass(frozen=True, slots=True)
class SegmentClosed:
    """A segment and the playlist naming it are written (after the actions before it): the
    ``on_hls`` / ``on_hls_notify`` hooks' facts, named as SRS's payload names them."""

    file: str  # the segment's path (hls_path joined with the expanded hls_ts_file)
    url: str  # its URI in the playlist
    m3u8: str  # the playlist's path
    m3u8_url: str  # the expanded hls_m3u8_file
    seq_no: int
    duration_s: float


Action = WriteFile | RemoveFile | SegmentClosed


@dataclass(slots=True)
class _Current:
    seq: int
    data: bytearray
    start_ms: int | None = None
    last_ms: int = 0
    discontinuity: bool = False

    @property
    def duration_ms(self) -> int:
        return 0 if self.start_ms is None else max(0, self.last_ms - self.start_ms)


def expand(
    template: str, *, vhost: str, app: str, stream: str, seq: int = 0, now_ms: int = 0, duration_ms: int = 0
) -> str:
    """SRS's path template variables: ``[vhost] [app] [stream] [seq] [timestamp] [duration]`` and
    the date parts ``[2006] [01] [02] [15] [04] [05] [999]`` (local time of ``now_ms``)."""
    t = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone()
    out = template
    for k, v in (
        ("[vhost]", vhost),
        ("[app]", app),
        ("[stream]", stream),
        ("[seq]", str(seq)),
        ("[timestamp]", str(now_ms)),
        ("[duration]", str(duration_ms)),
        ("[2006]", f"{t.year:04d}"),
        ("[01]", f"{t.month:02d}"),
        ("[02]", f"{t.day:02d}"),
        ("[15]", f"{t.hour:02d}"),
        ("[04]", f"{t.minute:02d}"),
        ("[05]", f"{t.second:02d}"),
        ("[999]", f"{now_ms % 1000:03d}"),
    ):
        out = out.replace(k, v)
    return out


class HlsSegmenter:
    """One stream's HLS: the TS muxing of the current segment, the playlist window, the names."""

    def __init__(self, cfg: HlsConfig, *, vhost: str, app: str, stream: str) -> None:
        self.cfg = cfg
        self.vhost, self.app, self.stream = vhost, app, stream
        self.m3u8_path = os.path.join(cfg.path, self._expand(cfg.m3u8_file))
        self._remuxer: TsRemuxer | None = None
        self._held: list[MediaMessage] = []  # sequence headers before the stream types are known
        self._cur: _Current | None = None
        self._next_seq = 0
        self._discontinuity = False
        self._window: list[tuple[m3u8.Segment, str]] = []  # (entry, file path)

    def _expand(self, template: str, seq: int = 0, now_ms: int = 0, duration_ms: int = 0) -> str:
        return expand(
            template,
            vhost=self.vhost,
            app=self.app,
            stream=self.stream,
            seq=seq,
            now_ms=now_ms,
            duration_ms=duration_ms,
        )

    # ------------------------------------------------------------------ input

    def on_message(self, msg: MediaMessage, now_ms: int) -> list[Action]:
        if msg.kind != VIDEO and msg.kind != AUDIO:
            return []
        if self._remuxer is None:
            self._held.append(msg)
            types = settle_stream_types(self._held)
            if types is None:
                return []
            held, self._held = self._held, []
            if types == (None, None):
                return []
            self._remuxer = TsRemuxer(*types)
            out: list[Action] = []
            for m in held:
                out += self._on_av(m, now_ms)
            return out
        return self._on_av(msg, now_ms)

    def _on_av(self, msg: MediaMessage, now_ms: int) -> list[Action]:
        assert self._remuxer is not None
        out: list[Action] = []
        if msg.sequence_header:
            self._remuxer.encode(msg)
            return out
        cur = self._cur
        if cur is not None and cur.start_ms is not None:
            duration = msg.timestamp - cur.start_ms
            cfg = self.cfg
            if duration >= MIN_SEGMENT_MS:
                if msg.kind == VIDEO and duration >= cfg.fragment_s * cfg.td_ratio * 1000:
                    if not cfg.wait_keyframe or msg.keyframe:
                        out += self._reap(now_ms)
                elif msg.kind == AUDIO and duration >= cfg.aof_ratio * cfg.fragment_s * 1000:
                    out += self._reap(now_ms)
        packets = self._remuxer.encode(msg)
        if not packets:
            return out
        cur = self._open()
        if cur.start_ms is None:
            cur.start_ms = msg.timestamp
        cur.last_ms = max(cur.last_ms, msg.timestamp)
        cur.data += packets
        return out

    def on_unpublish(self, now_ms: int) -> list[Action]:
        """The publisher left: the current segment is written and the next one is a discontinuity."""
        out = self._reap(now_ms)
        self._discontinuity = True
        self._remuxer = None  # the next publisher may bring other codecs
        return out

    def dispose(self) -> list[Action]:
        """``hls_dispose``: the stream is gone; remove its playlist and segments."""
        out: list[Action] = [RemoveFile(path) for _, path in self._window]
        out.append(RemoveFile(self.m3u8_path))
        self._window.clear()
        return out

    # ------------------------------------------------------------------ segments

    def _open(self) -> _Current:
        if self._cur is None:
            assert self._remuxer is not None
            self._cur = _Current(
                self._next_seq, bytearray(self._remuxer.tables()), discontinuity=self._discontinuity
            )
            self._next_seq += 1
            self._discontinuity = False
        return self._cur

    def _reap(self, now_ms: int) -> list[Action]:
        cur = self._cur
        if cur is None or cur.start_ms is None:
            return []
        self._cur = None
        rel = self._expand(self.cfg.ts_file, cur.seq, now_ms, cur.duration_ms)
        path = os.path.join(self.cfg.path, rel)
        uri = posixpath.relpath(rel, posixpath.dirname(self._expand(self.cfg.m3u8_file)) or ".")
        if self.cfg.entry_prefix:
            uri = self.cfg.entry_prefix.rstrip("/") + "/" + uri
        entry = m3u8.Segment(uri, cur.duration_ms / 1000, cur.seq, cur.discontinuity)
        out: list[Action] = [WriteFile(path, bytes(cur.data))]
        self._window.append((entry, path))
        while len(self._window) > 1 and sum(e.duration_s for e, _ in self._window) > self.cfg.window_s:
            _, old = self._window.pop(0)
            if self.cfg.cleanup:
                out.append(RemoveFile(old))
        playlist = m3u8.MediaPlaylist([e for e, _ in self._window])
        out.append(WriteFile(self.m3u8_path, playlist.render().encode()))
        m3u8_url = self._expand(self.cfg.m3u8_file)
        out.append(SegmentClosed(path, uri, self.m3u8_path, m3u8_url, cur.seq, entry.duration_s))
        return out
