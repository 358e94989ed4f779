"""HLS media playlists (RFC 8216): written as SRS writes them, and read back (tests, tools).

SRS's shape: ``#EXTM3U``, ``#EXT-X-VERSION:3``, ``#EXT-X-MEDIA-SEQUENCE``, ``#EXT-X-TARGETDURATION``
(the longest segment, rounded up), then per segment an optional ``#EXT-X-DISCONTINUITY``,
``#EXTINF:<seconds with 3 decimals>, no desc`` and the URI. With fMP4 segments the playlist is
version 7 and names the init segment with ``#EXT-X-MAP``; with ``hls_keys``, ``#EXT-X-KEY``
(AES-128, the key's URI and IV) comes before the first segment of each key.

Low-Latency HLS (RFC 8216bis, ours: SRS has none) adds ``#EXT-X-SERVER-CONTROL`` (blocking reload,
``PART-HOLD-BACK``), ``#EXT-X-PART-INF``, ``#EXT-X-PROGRAM-DATE-TIME`` per segment, the
``#EXT-X-PART`` lines of the newest segments and of the one being made, and
``#EXT-X-PRELOAD-HINT`` for the next part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from srs.util.errors import ParseError


@dataclass(frozen=True, slots=True)
class Key:
    uri: str
    iv: bytes  # 16 bytes
    method: str = "AES-128"

    def render(self) -> str:
        return f'#EXT-X-KEY:METHOD={self.method},URI="{self.uri}",IV=0x{self.iv.hex()}'


@dataclass(frozen=True, slots=True)
class Part:
    uri: str
    duration_s: float
    independent: bool = False

    def render(self) -> str:
        extra = ",INDEPENDENT=YES" if self.independent else ""
        return f'#EXT-X-PART:DURATION={self.duration_s:.3f},URI="{self.uri}"{extra}'


@dataclass(frozen=True, slots=True)
class Segment:
    uri: str
    duration_s: float
    sequence: int
    discontinuity: bool = False
    key: Key | None = None
    parts: tuple[Part, ...] = ()  # LL-HLS: listed for the newest segments only
    date_ms: int | None = None  # EXT-X-PROGRAM-DATE-TIME of its first frame


def _date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass(slots=True)
class MediaPlaylist:
    segments: list[Segment] = field(default_factory=list)
    target_duration: int = 0  # 0: computed from the segments
    ended: bool = False
    map_uri: str = ""  # fMP4: the init segment (EXT-X-MAP)
    version: int = 0  # 0: 3, 7 with an EXT-X-MAP, 9 with parts
    part_target_s: float = 0.0  # LL-HLS: EXT-X-PART-INF (0: not low-latency)
    part_hold_back_s: float = 0.0
    tail_parts: tuple[Part, ...] = ()  # the parts of the segment being made
    tail_date_ms: int | None = None  # its EXT-X-PROGRAM-DATE-TIME
    preload_hint: str = ""  # the next part's URI

    @property
    def media_sequence(self) -> int:
        return self.segments[0].sequence if self.segments else 0

    def render(self) -> str:
        target = self.target_duration or max((math.ceil(s.duration_s) for s in self.segments), default=1)
        version = self.version or (9 if self.part_target_s else 7 if self.map_uri else 3)
        lines = ["#EXTM3U", f"#EXT-X-VERSION:{version}"]
        if self.part_target_s:
            lines.append(
                f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={self.part_hold_back_s:.3f}"
            )
            lines.append(f"#EXT-X-PART-INF:PART-TARGET={self.part_target_s:.3f}")
        lines += [f"#EXT-X-MEDIA-SEQUENCE:{self.media_sequence}", f"#EXT-X-TARGETDURATION:{target}"]
        if self.map_uri:
            lines.append(f'#EXT-X-MAP:URI="{self.map_uri}"')  # before any key: the init is clear
        key: Key | None = None
        for s in self.segments:
            if s.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            if s.key != key:
                lines.append(s.key.render() if s.key else "#EXT-X-KEY:METHOD=NONE")
                key = s.key
            if s.date_ms is not None:
                lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_date(s.date_ms)}")
            lines += [p.render() for p in s.parts]
            lines.append(f"#EXTINF:{s.duration_s:.3f}, no desc")
            lines.append(s.uri)
        if self.tail_parts and self.tail_date_ms is not None:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_date(self.tail_date_ms)}")
        lines += [p.render() for p in self.tail_parts]
        if self.preload_hint:
            lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{self.preload_hint}"')
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
    key: Key | None = None
    parts: list[Part] = []
    date_ms: int | None = None
    try:
        for ln in lines[1:]:
            if ln.startswith("#EXT-X-PART:"):
                a = _attrs(ln)
                parts.append(Part(a["URI"], float(a["DURATION"]), a.get("INDEPENDENT") == "YES"))
            elif ln.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                when = datetime.strptime(ln.split(":", 1)[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
                date_ms = round(when.timestamp() * 1000)
            elif ln.startswith("#EXT-X-PART-INF:"):
                out.part_target_s = float(_attrs(ln)["PART-TARGET"])
            elif ln.startswith("#EXT-X-SERVER-CONTROL:"):
                out.part_hold_back_s = float(_attrs(ln).get("PART-HOLD-BACK", "0"))
            elif ln.startswith("#EXT-X-PRELOAD-HINT:"):
                out.preload_hint = _attrs(ln)["URI"]
            elif ln.startswith("#EXT-X-VERSION:"):
                out.version = int(ln.split(":", 1)[1])
            elif ln.startswith("#EXT-X-MAP:"):
                out.map_uri = _attrs(ln)["URI"]
            elif ln.startswith("#EXT-X-KEY:"):
                a = _attrs(ln)
                key = (
                    None if a["METHOD"] == "NONE" else Key(a["URI"], bytes.fromhex(a["IV"][2:]), a["METHOD"])
                )
            elif ln.startswith("#EXT-X-MEDIA-SEQUENCE:"):
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
                out.segments.append(
                    Segment(ln, duration, seq + len(out.segments), disc, key, tuple(parts), date_ms)
                )
                duration, disc, parts, date_ms = None, False, [], None
    except (ValueError, KeyError) as e:
        raise ParseError(f"m3u8: {e!r} in a tag") from None
    out.target_duration = target
    out.tail_parts, out.tail_date_ms = tuple(parts), date_ms if parts else None
    return out


def _attrs(line: str) -> dict[str, str]:
    """A tag's attribute list (``KEY=value,KEY="quoted, value"``)."""
    out: dict[str, str] = {}
    rest = line.split(":", 1)[1]
    while rest:
        name, eq, rest = rest.partition("=")
        if not eq:
            raise ValueError(f"attribute {name!r} without a value")
        if rest.startswith('"'):
            value, quote, rest = rest[1:].partition('"')
            if not quote:
                raise ValueError("unterminated quoted string")
            rest = rest.removeprefix(",")
        else:
            value, _, rest = rest.partition(",")
        out[name.strip()] = value
    return out
