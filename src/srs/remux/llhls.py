"""Low-Latency HLS parts for :class:`~srs.remux.hls.HlsSegmenter` (ours: SRS has no LL-HLS).

With ``hls_ll on`` a segment is made of parts of about ``hls_part`` seconds: a part closes before
the first frame that would make it longer (with fMP4, each part is one ``moof`` + ``mdat``; with TS,
its packets), so a player can start on a part as soon as it exists. The parts and the newest
segments live in memory only (the HTTP server answers them and the LL playlist from there, and
blocks reloads until what they ask for exists); the files on disk are those of plain HLS, so a
web server serving ``hls_path`` keeps working. Parts are named ``[stream]-[seq].[part].[ext]``
beside the playlist.

:class:`LiveUpdate` is the one action: the LL playlist as it now stands, what to serve from memory
and what to forget, and how far the stream has got (for blocking reloads).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

from srs.format import m3u8

MEMORY_SEGMENTS = 4  # how many of the newest segments keep their parts in memory
PART_HOLD_BACK_PARTS = 3  # PART-HOLD-BACK: three part targets (RFC 8216bis recommends at least 3)


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    m3u8_path: str
    playlist: bytes
    add: tuple[tuple[str, bytes], ...] = ()  # (path, bytes) now served from memory
    join: tuple[tuple[str, tuple[str, ...]], ...] = ()  # a segment's path: the parts it is made of
    drop: tuple[str, ...] = ()
    msn: int = 0  # the segment being made (or the next one)
    parts: int = 0  # how many of its parts exist
    target_s: float = 1.0  # the target duration (blocking requests wait up to three of them)


@dataclass(slots=True)
class _Open:
    seq: int
    start_ms: int | None = None
    offset: int = 0
    independent: bool = False
    parts: list[m3u8.Part] = field(default_factory=list)


class LlParts:
    """The part bookkeeping of one stream's HLS."""

    def __init__(self, m3u8_path: str, part_s: float, ext: str) -> None:
        self.m3u8_path = m3u8_path
        self.part_ms = max(1, round(part_s * 1000))
        self.part_s = self.part_ms / 1000
        self._dir = os.path.dirname(m3u8_path)
        self._stem = posixpath.basename(m3u8_path).rsplit(".", 1)[0]
        self._ext = ext
        self._open: _Open | None = None
        self._gaps: list[int] = []  # the newest gaps between frames where a part may end (ms)
        self._prev: int | None = None
        self._parts: dict[int, tuple[m3u8.Part, ...]] = {}  # seq -> parts of complete segments
        self._memory: list[tuple[int, list[str]]] = []  # (seq, paths served from memory), oldest first

    def name(self, seq: int, index: int) -> str:
        return f"{self._stem}-{seq}.{index}.{self._ext}"

    def due(self, timestamp: int) -> bool:
        """Whether the part being made must close before a frame at ``timestamp`` (the caller asks
        at every frame where a part may end): when the next such frame (as far apart as the widest
        of the last gaps) would take the part past its target (RFC 8216bis: a part lasts at most
        PART-TARGET)."""
        gap = max(0, timestamp - self._prev) if self._prev is not None else 0
        self._prev = timestamp
        self._gaps.append(gap)
        del self._gaps[:-16]
        o = self._open
        if o is None or o.start_ms is None:
            return False
        return timestamp - o.start_ms + max(self._gaps) > self.part_ms

    def frame(self, seq: int, timestamp: int, offset: int, independent: bool) -> None:
        """A frame went into segment ``seq`` at byte ``offset`` (before its bytes); ``independent``:
        a keyframe, or any frame of a stream without video."""
        o = self._open
        if o is None or o.seq != seq:
            o = self._open = _Open(seq)
        if o.start_ms is None:  # the first part of a segment has its head too (TS: PAT/PMT)
            o.start_ms, o.offset, o.independent = timestamp, offset if o.parts else 0, independent
        o.independent = o.independent or independent  # RFC 8216bis: it contains an independent frame

    def close_part(self, data: bytes | bytearray, end_ms: int) -> tuple[str, bytes] | None:
        """Close the part being made (the segment's bytes so far are ``data``): its file."""
        o = self._open
        if o is None or o.start_ms is None:
            return None
        duration = max(1, end_ms - o.start_ms) / 1000
        name = self.name(o.seq, len(o.parts))
        o.parts.append(m3u8.Part(name, duration, o.independent))
        o.start_ms = None
        return os.path.join(self._dir, name), bytes(data[o.offset :])

    def segment_closed(
        self, seq: int, path: str
    ) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...]]:
        """Segment ``seq`` is complete: its parts move to the segment, which is served from memory
        as their concatenation until its file is on disk; what to join and what to drop."""
        o = self._open
        parts = tuple(o.parts) if o is not None and o.seq == seq else ()
        self._open = None
        self._parts[seq] = parts
        part_paths = tuple(os.path.join(self._dir, p.uri) for p in parts)
        join = ((path, part_paths),) if part_paths else ()
        paths = [*part_paths, path]
        drop: list[str] = []
        self._memory = [m for m in self._memory if m[0] != seq] + [(seq, paths)]
        while len(self._memory) > MEMORY_SEGMENTS:
            old, old_paths = self._memory.pop(0)
            self._parts.pop(old, None)
            drop += old_paths
        return join, tuple(drop)

    def render(
        self, segments: list[m3u8.Segment], map_uri: str, next_seq: int, tail_date_ms: int | None
    ) -> tuple[bytes, int, int, float]:
        """The LL playlist; the msn being made, its parts so far, the target duration."""
        target = max((s.duration_s for s in segments), default=1.0)
        target_s = float(max(1, -(-target // 1)))
        listed: list[m3u8.Segment] = []
        end = sum(s.duration_s for s in segments)
        at = 0.0
        for s in segments:
            at += s.duration_s
            recent = end - (at - s.duration_s) <= 3 * target_s + s.duration_s
            parts = self._parts.get(s.sequence, ()) if recent else ()
            listed.append(
                m3u8.Segment(s.uri, s.duration_s, s.sequence, s.discontinuity, s.key, parts, s.date_ms)
            )
        o = self._open
        tail = tuple(o.parts) if o is not None else ()
        msn = o.seq if o is not None else next_seq
        hint = self.name(msn, len(tail))
        playlist = m3u8.MediaPlaylist(
            listed,
            target_duration=int(target_s),
            map_uri=map_uri,
            part_target_s=self.part_s,
            part_hold_back_s=PART_HOLD_BACK_PARTS * self.part_s,
            tail_parts=tail,
            tail_date_ms=tail_date_ms if tail else None,
            preload_hint=hint,
        )
        return playlist.render().encode(), msn, len(tail), target_s

    def adopt(self, old: LlParts) -> None:
        """Take over what ``old`` (the same playlist, before a reload) serves from memory, so it
        leaves memory in turn."""
        self._memory = old._memory + self._memory
        old._memory = []

    def forget(self) -> tuple[str, ...]:
        """Everything served from memory (the stream is disposed)."""
        out = tuple(p for _, paths in self._memory for p in paths)
        if self._open is not None:
            out += tuple(os.path.join(self._dir, p.uri) for p in self._open.parts)
        self._memory.clear()
        self._parts.clear()
        self._open = None
        return out
