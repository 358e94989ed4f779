"""HLS with MPEG-TS segments, sans-IO: media messages in, file actions out.

:class:`HlsSegmenter` follows SRS's ``SrsHlsController``: a segment is reaped on a video keyframe
once it lasts ``hls_fragment * hls_td_ratio`` (at once if ``hls_wait_keyframe off``), or on audio
once it lasts ``hls_aof_ratio * hls_fragment`` (pure audio, or video that never brings a keyframe);
never under 0.2 s. The playlist keeps ``hls_window`` seconds of segments; older ones leave it and,
with ``hls_cleanup``, their files are removed. A republish continues the sequence numbers and marks
the next segment with ``EXT-X-DISCONTINUITY``.

Segments are MPEG-TS, or fMP4 with ``hls_use_fmp4 on`` (an init segment beside the playlist, named
by ``#EXT-X-MAP``); with ``hls_keys on`` every segment is AES-128 encrypted, a new random key every
``hls_fragments_per_key`` segments (``srs.remux.hls_body``). ``hls_ts_floor`` numbers ``[timestamp]``
by ``hls_fragment`` pieces of wall-clock time and nudges the segment lengths to keep up, as SRS.

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
from srs.remux.hls_body import Body, encrypt, new_key, settle_body
from srs.remux.llhls import LiveUpdate, LlParts

MIN_SEGMENT_MS = 200  # SRS: 2 * SRS_HLS_SEGMENT_MIN_DURATION
FLOOR_REAP_PERCENT = 0.3  # SRS_HLS_FLOOR_REAP_PERCENT
FLOOR_JUMP_PIECES = 20  # SRS_JUMP_WHEN_PIECE_DEVIATION


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


Action = WriteFile | RemoveFile | SegmentClosed | LiveUpdate


@dataclass(slots=True)
class _Current:
    seq: int
    data: bytearray
    opened_ms: int  # wall clock: the file name's [timestamp] and date parts (SRS names at open)
    floor: int | None = None  # hls_ts_floor: the piece number that replaces [timestamp]
    start_ms: int | None = None
    last_ms: int = 0
    discontinuity: bool = False
    key: m3u8.Key | None = None
    key_bytes: bytes = b""

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
        self._body: Body | None = None
        self._held: list[MediaMessage] = []  # sequence headers before the stream types are known
        self._cur: _Current | None = None
        self._next_seq = 0
        self._discontinuity = False
        self._window: list[tuple[m3u8.Segment, str]] = []  # (entry, file path)
        self._key: tuple[bytes, m3u8.Key] | None = None  # hls_keys: the current key and its tag
        self._accept_floor = 0  # hls_ts_floor: the last piece number given out
        self._deviation = 0  # hls_ts_floor: pieces ahead (+) or behind (-) the wall clock
        m3u8_dir = posixpath.dirname(self._expand(cfg.m3u8_file))
        self._m3u8_dir = m3u8_dir or "."
        self.init_path = os.path.join(cfg.path, self._expand(cfg.init_file))
        self._init_uri = self._uri(self._expand(cfg.init_file))
        # Low-Latency HLS (ours); AES-128 chains a whole segment, so it has no parts.
        self._ll = (
            LlParts(self.m3u8_path, cfg.part_s, "m4s" if cfg.use_fmp4 else "ts")
            if cfg.ll and not cfg.keys
            else None
        )
        self._anchor_ms = 0  # wall clock minus media time at the publish's first frame (PROGRAM-DATE-TIME)

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
        if self._body is None:
            if not self._held:  # the wall clock of the publish's first message, for PROGRAM-DATE-TIME
                self._anchor_ms = now_ms - msg.timestamp
            self._held.append(msg)
            cfg = self.cfg
            body = settle_body(self._held, cfg.use_fmp4, cfg.acodec, cfg.vcodec)
            if body is None:
                return []
            held, self._held = self._held, []
            if body is False:
                return []
            assert not isinstance(body, bool)
            self._body = body
            out: list[Action] = []
            for m in held:
                out += self._on_av(m, now_ms)
            return out
        return self._on_av(msg, now_ms)

    def _on_av(self, msg: MediaMessage, now_ms: int) -> list[Action]:
        body = self._body
        assert body is not None
        out: list[Action] = []
        if msg.sequence_header:
            body.add(msg)
            return out
        cur = self._cur
        if cur is not None and cur.start_ms is not None:
            duration = msg.timestamp - cur.start_ms
            cfg = self.cfg
            if duration >= MIN_SEGMENT_MS:
                extra = FLOOR_REAP_PERCENT * self._deviation * cfg.fragment_s * 1000 if cfg.ts_floor else 0
                if msg.kind == VIDEO and duration >= cfg.fragment_s * cfg.td_ratio * 1000 + extra:
                    if not cfg.wait_keyframe or msg.keyframe:
                        out += self._reap(now_ms, msg.timestamp)
                elif msg.kind == AUDIO and duration >= cfg.aof_ratio * cfg.fragment_s * 1000 + extra:
                    out += self._reap(now_ms, msg.timestamp, video_end=not body.has_video)
        ll = self._ll
        # Parts end just before a video frame (audio-only: any frame), so the last video sample of
        # a part lasts exactly until the next one: no decode-time gap for MSE players.
        if (
            ll is not None
            and (msg.kind == VIDEO or not body.has_video)
            and ll.due(msg.timestamp)  # asked at every such frame: it learns their spacing
            and self._cur is not None
        ):
            out += self._close_part(self._cur, msg.timestamp)
        data = body.add(msg)
        if data is None:
            return out
        cur = self._open(now_ms, out)
        if cur.start_ms is None:
            cur.start_ms = msg.timestamp
        cur.last_ms = max(cur.last_ms, msg.timestamp)
        if ll is not None:
            independent = (msg.kind == VIDEO and msg.keyframe) or not body.has_video
            ll.frame(cur.seq, msg.timestamp, len(cur.data), independent)
        cur.data += data
        return out

    def _close_part(self, cur: _Current, end_ms: int, video_end: bool = True) -> list[Action]:
        assert self._ll is not None and self._body is not None
        # fMP4: the part's moof + mdat; the last video frame lasts until ``end_ms`` when that is
        # the next video frame's time, else as long as the one before it.
        cur.data += self._body.tail(end_ms if video_end else None)
        part = self._ll.close_part(cur.data, end_ms)
        if part is None:
            return []
        return [self._live((part,))]

    def _live(
        self,
        add: tuple[tuple[str, bytes], ...] = (),
        drop: tuple[str, ...] = (),
        join: tuple[tuple[str, tuple[str, ...]], ...] = (),
    ) -> LiveUpdate:
        assert self._ll is not None
        cur = self._cur
        tail_date = self._anchor_ms + cur.start_ms if cur is not None and cur.start_ms is not None else None
        entries = [e for e, _ in self._window]
        map_uri = self._init_uri if self.cfg.use_fmp4 else ""
        text, msn, parts, target = self._ll.render(entries, map_uri, self._next_seq, tail_date)
        return LiveUpdate(self.m3u8_path, text, add, join, drop, msn, parts, target)

    def on_unpublish(self, now_ms: int) -> list[Action]:
        """The publisher left: the current segment is written and the next one is a discontinuity."""
        out = self._reap(now_ms, None)
        if self._ll is not None:
            out.append(self._live())
        self._discontinuity = True
        self._body = None  # the next publisher may bring other codecs
        self._held.clear()
        return out

    def retire(self, new: object) -> list[Action]:
        """A reload replaced this segmenter (which ended its segment) by ``new``: LL-HLS memory goes
        to ``new`` when it serves the same playlist with parts, else the LL playlist leaves memory
        (the disk playlist is then the one served)."""
        if self._ll is None:
            return []
        if isinstance(new, HlsSegmenter) and new._ll is not None and new.m3u8_path == self.m3u8_path:
            new._ll.adopt(self._ll)
            return []
        return [LiveUpdate(self.m3u8_path, b"", drop=self._ll.forget())]

    def dispose(self) -> list[Action]:
        """``hls_dispose``: the stream is gone; remove its playlist and segments."""
        out: list[Action] = [RemoveFile(path) for _, path in self._window]
        out.append(RemoveFile(self.m3u8_path))
        if self.cfg.use_fmp4:
            out.append(RemoveFile(self.init_path))
        self._window.clear()
        if self._ll is not None:
            out.append(LiveUpdate(self.m3u8_path, b"", drop=self._ll.forget()))
        return out

    # ------------------------------------------------------------------ segments

    def _uri(self, rel: str) -> str:
        """A file's URI in the playlist: relative to the playlist, after ``hls_entry_prefix``."""
        uri = posixpath.relpath(rel, self._m3u8_dir)
        if self.cfg.entry_prefix:
            uri = self.cfg.entry_prefix.rstrip("/") + "/" + uri
        return uri

    def _open(self, now_ms: int, out: list[Action]) -> _Current:
        if self._cur is not None:
            return self._cur
        body = self._body
        assert body is not None
        if body.init_needed:
            out.append(WriteFile(self.init_path, body.init_segment()))
        cur = self._cur = _Current(
            self._next_seq, bytearray(body.head()), now_ms, discontinuity=self._discontinuity
        )
        self._next_seq += 1
        self._discontinuity = False
        cfg = self.cfg
        if cfg.ts_floor:
            current = int(now_ms // (cfg.fragment_s * 1000))
            self._accept_floor = self._accept_floor + 1 if self._accept_floor else current - 1
            if self._accept_floor - current > FLOOR_JUMP_PIECES:
                self._accept_floor = current - 1
            self._deviation = self._accept_floor - current
            cur.floor = self._accept_floor
        if cfg.keys:
            per_key = max(1, cfg.fragments_per_key)
            if self._key is None or cur.seq % per_key == 0:
                key, iv = new_key()
                rel = self._expand(cfg.key_file, cur.seq, now_ms)
                out.append(WriteFile(os.path.join(cfg.key_file_path, rel), key))
                if cfg.key_url not in ("", cfg.path, cfg.key_file_path):
                    uri = cfg.key_url + rel  # SRS: hls_key_url + the key file, as they are
                else:
                    uri = posixpath.relpath(rel, self._m3u8_dir)  # SRS would write hls_path + file
                self._key = (key, m3u8.Key(uri, iv))
            cur.key_bytes, cur.key = self._key
        return cur

    def _reap(self, now_ms: int, end_ms: int | None, video_end: bool = True) -> list[Action]:
        cur = self._cur
        if cur is None or cur.start_ms is None:
            return []
        assert self._body is not None
        live: list[Action] = []
        if self._ll is not None:
            live = self._close_part(cur, end_ms if end_ms is not None else cur.last_ms, video_end)
        self._cur = None
        cur.data += self._body.tail(end_ms if video_end else None)
        if end_ms is not None:
            cur.last_ms = max(cur.last_ms, end_ms)  # the segment lasts until the next one starts
        cfg = self.cfg
        template = cfg.fmp4_file if cfg.use_fmp4 else cfg.ts_file
        if cur.floor is not None:
            template = template.replace("[timestamp]", str(cur.floor))
        rel = self._expand(template, cur.seq, cur.opened_ms, cur.duration_ms)
        path = os.path.join(cfg.path, rel)
        uri = self._uri(rel)
        date_ms = self._anchor_ms + cur.start_ms if self._ll is not None else None
        entry = m3u8.Segment(
            uri, cur.duration_ms / 1000, cur.seq, cur.discontinuity, cur.key, date_ms=date_ms
        )
        data = bytes(cur.data)
        if cur.key is not None:
            data = encrypt(data, cur.key_bytes, cur.key.iv)
        out: list[Action] = [WriteFile(path, data)]
        self._window.append((entry, path))
        while len(self._window) > 1 and sum(e.duration_s for e, _ in self._window) > cfg.window_s:
            _, old = self._window.pop(0)
            if cfg.cleanup:
                out.append(RemoveFile(old))
        playlist = m3u8.MediaPlaylist(
            [e for e, _ in self._window], map_uri=self._init_uri if cfg.use_fmp4 else ""
        )
        out.append(WriteFile(self.m3u8_path, playlist.render().encode()))
        m3u8_url = self._expand(cfg.m3u8_file)
        out.append(SegmentClosed(path, uri, self.m3u8_path, m3u8_url, cur.seq, entry.duration_s))
        if self._ll is not None:
            join, drop = self._ll.segment_closed(cur.seq, path)
            out = [*live, *out, self._live(drop=drop, join=join)]
        return out
