"""MPEG-DASH MPD (ISO/IEC 23009-1), dynamic, as SRS writes it; read back for tests and tools.

SRS's shape: a ``dynamic`` MPD with the live profile, ``minimumUpdatePeriod`` (``dash_update_period``),
``timeShiftBufferDepth``, ``availabilityStartTime`` (wall clock minus the first timestamp),
``publishTime``, ``minBufferTime``, a ``BaseURL`` of ``[stream]/``, one Period from 0 and one
AdaptationSet per kind, each with a Representation (``video`` / ``audio``) whose SegmentTemplate
names ``$RepresentationID$-init.mp4`` and ``$RepresentationID$-$Number$.m4s`` on a 1 kHz timeline
listed by ``SegmentTimeline``. Unlike SRS (which writes fixed ``avc1.64001e`` / ``mp4a.40.2``), the
``codecs`` are the stream's, so browsers (MSE) accept HEVC and other profiles.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime

from srs.util.errors import ParseError

NS = "urn:mpeg:dash:schema:mpd:2011"
PROFILES = "urn:mpeg:dash:profile:isoff-live:2011,http://dashif.org/guidelines/dash-if-simple"


@dataclass(frozen=True, slots=True)
class Representation:
    kind: str  # "video" | "audio": the Representation id and the files' prefix
    codecs: str
    bandwidth: int
    start_number: int
    timeline: tuple[tuple[int, int], ...]  # (t, d) in ms
    width: int = 0
    height: int = 0
    sample_rate: int = 0


@dataclass(slots=True)
class Mpd:
    availability_start_ms: int
    publish_ms: int
    update_period_s: float
    timeshift_s: float
    min_buffer_s: float
    base_url: str
    representations: list[Representation] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            '<?xml version="1.0" encoding="utf-8"?>',
            f'<MPD profiles="{PROFILES}"',
            '    ns1:schemaLocation="urn:mpeg:dash:schema:mpd:2011 DASH-MPD.xsd"',
            f'    xmlns="{NS}" xmlns:ns1="http://www.w3.org/2001/XMLSchema-instance"',
            '    type="dynamic"',
            f'    minimumUpdatePeriod="PT{self.update_period_s:.3f}S"',
            f'    timeShiftBufferDepth="PT{self.timeshift_s:.3f}S"',
            f'    availabilityStartTime="{_utc(self.availability_start_ms)}"',
            f'    publishTime="{_utc(self.publish_ms)}"',
            f'    minBufferTime="PT{self.min_buffer_s:.3f}S">',
            f"    <BaseURL>{_esc(self.base_url)}</BaseURL>",
            '    <Period start="PT0S">',
        ]
        for r in self.representations:
            mime = "video/mp4" if r.kind == "video" else "audio/mp4"
            size = f' width="{r.width}" height="{r.height}"' if r.kind == "video" else ""
            rate = f' audioSamplingRate="{r.sample_rate}"' if r.kind == "audio" and r.sample_rate else ""
            lines += [
                f'        <AdaptationSet mimeType="{mime}" segmentAlignment="true" startWithSAP="1">',
                f'            <Representation id="{r.kind}" bandwidth="{r.bandwidth}" codecs="{_esc(r.codecs)}"{size}{rate}>',
                '                <SegmentTemplate initialization="$RepresentationID$-init.mp4" '
                f'media="$RepresentationID$-$Number$.m4s" startNumber="{r.start_number}" timescale="1000">',
                "                    <SegmentTimeline>",
                *(f'                        <S t="{t}" d="{d}" />' for t, d in r.timeline),
                "                    </SegmentTimeline>",
                "                </SegmentTemplate>",
                "            </Representation>",
                "        </AdaptationSet>",
            ]
        lines += ["    </Period>", "</MPD>"]
        return "\n".join(lines) + "\n"


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _seconds(v: str) -> float:
    if not (v.startswith("PT") and v.endswith("S")):
        raise ValueError(f"duration {v!r}")
    return float(v[2:-1])


def _ms(v: str) -> int:
    return int(datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() * 1000)


def parse(text: str) -> Mpd:
    """Read an MPD of the shape above (other elements are ignored)."""
    q = f"{{{NS}}}"
    try:
        root = ET.fromstring(text)
        if root.tag != q + "MPD":
            raise ParseError(f"mpd: root element {root.tag!r}")
        base = root.find(q + "BaseURL")
        out = Mpd(
            _ms(root.attrib["availabilityStartTime"]),
            _ms(root.attrib["publishTime"]),
            _seconds(root.attrib["minimumUpdatePeriod"]),
            _seconds(root.attrib["timeShiftBufferDepth"]),
            _seconds(root.attrib["minBufferTime"]),
            base.text or "" if base is not None else "",
        )
        for aset in root.iter(q + "AdaptationSet"):
            for rep in aset.iter(q + "Representation"):
                tpl = rep.find(q + "SegmentTemplate")
                if tpl is None:
                    raise ParseError("mpd: Representation without SegmentTemplate")
                timeline = tuple((int(s.attrib["t"]), int(s.attrib["d"])) for s in tpl.iter(q + "S"))
                out.representations.append(
                    Representation(
                        rep.attrib["id"],
                        rep.attrib.get("codecs", ""),
                        int(rep.attrib.get("bandwidth", "0")),
                        int(tpl.attrib.get("startNumber", "1")),
                        timeline,
                        int(rep.attrib.get("width", "0")),
                        int(rep.attrib.get("height", "0")),
                        int(rep.attrib.get("audioSamplingRate", "0")),
                    )
                )
        return out
    except ParseError:
        raise
    except (ET.ParseError, KeyError, ValueError, OverflowError, OSError) as e:
        raise ParseError(f"mpd: {e!r}") from None
