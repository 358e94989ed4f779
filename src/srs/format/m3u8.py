"""HLS media playlists (RFC 8216): written as SRS writes them, and read back (tests, tools).

SRS's shape: ``#EXTM3U``, ``#EXT-X-VERSION:3``, ``#EXT-X-MEDIA-SEQUENCE``, ``#EXT-X-TARGETDURATION``
(the longest segment, rounded up), then per segment an optional ``#EXT-X-DISCONTINUITY``,
``#EXTINF:<seconds with 3 decimals>, no desc`` and the URI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from srs.util.errors import ParseError


@dataclass(frozen=True, slots=True)
class Segment:
    uri: str
    duration_s: float
    sequence: int
    discontinuity: bool = False


@dataclass(slots=True)
class MediaPlaylist:
    segments: list[Segment] = field(default_factory=list)
    target_duration: int = 0  # 0: computed from the segments
    ended: bool = False

    @property
    def media_sequence(self) -> int:
        return self.segments[0].sequence if self.segments else 0

    def render(self) -> str:
        target = self.target_duration or max((math.ceil(s.duration_s) for s in self.segments), default=1)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-MEDIA-SEQUENCE:{self.media_sequence}",
            f"#EXT-X-TARGETDURATION:{target}",
        ]
        for s in self.segments:
            if s.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f"#EXTINF:{s.duration_s:.3f}, no desc")
            lines.append(s.uri)
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"


def parse(text: str) -> MediaPlaylist:
    """Read a media playlist (the tags above; others are ignored)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise ParseError("m3u8: missing #EXTM3U")
    seq = 0
    target = 0
    out = MediaPlaylist()
    duration: float | None = None
    disc = False
    try:
        for ln in lines[1:]:
            if ln.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                seq = int(ln.split(":", 1)[1])
            elif ln.startswith("#EXT-X-TARGETDURATION:"):
                target = int(ln.split(":", 1)[1])
            elif ln == "#EXT-X-DISCONTINUITY":
                disc = True
            elif ln.startswith("#EXTINF:"):
                duration = float(ln[8:].split(",", 1)[0])
            elif ln == "#EXT-X-ENDLIST":
                out.ended = True
            elif not ln.startswith("#"):
                if duration is None:
                    raise ParseError(f"m3u8: {ln!r} without #EXTINF")
                out.segments.append(Segment(ln, duration, seq + len(out.segments), disc))
                duration, disc = None, False
    except ValueError as e:
        raise ParseError(f"m3u8: {e}") from None
    out.target_duration = target
    return out
