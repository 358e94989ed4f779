"""The SDP a DESCRIBE answers (RFC 2326 appendix C) and the one an ANNOUNCE brings.

SRS (``SrsRtspConnection::do_describe``) announces the live source's tracks, audio first
(``trackID=0``) then video, each ``m=<kind> 0 RTP/AVP <pt>`` with ``a=control:<uri>/trackID=<n>``;
AAC is ``MPEG4-GENERIC`` with ``streamtype=5;mode=AAC-hbr;sizelength=13;indexlength=3;config=<ASC hex>``.
We add what players use to start decoding before the first keyframe's in-band parameter sets:
H.264 ``packetization-mode=1;profile-level-id;sprop-parameter-sets`` (RFC 6184), H.265
``sprop-vps/sps/pps`` (RFC 7798), and ``a=range:npt=0-`` (live).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from srs.codec import aac, h264, h265
from srs.format.flv import AudioCodec, VideoCodec, parse_audio, parse_video
from srs.util.errors import ParseError, SrsError

VIDEO_PT = 96
AUDIO_PT = 97


@dataclass(frozen=True, slots=True)
class Track:
    """One announced track: ``kind`` "audio"/"video", its rtpmap, fmtp and clock rate."""

    kind: str
    codec: str  # "H264", "H265", "MPEG4-GENERIC", "opus"
    pt: int
    clock: int
    channels: int = 0
    fmtp: str = ""
    control: str = ""  # the track's control suffix, "trackID=<n>"

    def media(self, base: str) -> list[str]:
        rtpmap = f"{self.codec}/{self.clock}" + (f"/{self.channels}" if self.channels else "")
        lines = [f"m={self.kind} 0 RTP/AVP {self.pt}", f"a=rtpmap:{self.pt} {rtpmap}"]
        if self.fmtp:
            lines.append(f"a=fmtp:{self.pt} {self.fmtp}")
        lines.append(f"a=control:{base.rstrip('/')}/{self.control}")
        return lines


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def video_track(payload: bytes | None) -> Track | None:
    """The video track of a sequence-header message body (FLV video tag body), None if unusable."""
    if not payload:
        return None
    try:
        info = parse_video(payload)
        data = payload[info.data_offset :]
        if info.codec == VideoCodec.AVC:
            avc = h264.parse_avc_config(data)
            fmtp = "packetization-mode=1"
            if avc.sps and len(avc.sps[0]) >= 4:
                fmtp += f";profile-level-id={avc.sps[0][1:4].hex().upper()}"
            if avc.sps or avc.pps:
                fmtp += ";sprop-parameter-sets=" + ",".join(_b64(x) for x in (*avc.sps, *avc.pps))
            return Track("video", "H264", VIDEO_PT, 90000, fmtp=fmtp)
        if info.codec == VideoCodec.HEVC:
            hevc = h265.parse_hevc_config(data)
            parts = []
            for name, sets in (("vps", hevc.vps), ("sps", hevc.sps), ("pps", hevc.pps)):
                if sets:
                    parts.append(f"sprop-{name}=" + ",".join(_b64(x) for x in sets))
            return Track("video", "H265", VIDEO_PT, 90000, fmtp=";".join(parts))
    except (SrsError, ValueError, IndexError):
        return None
    return None


def audio_track(payload: bytes | None) -> Track | None:
    """The audio track of an audio sequence header (AAC's AudioSpecificConfig) or Opus message."""
    if not payload:
        return None
    try:
        info = parse_audio(payload)
        if info.codec == AudioCodec.AAC and info.is_sequence_header:
            asc = payload[info.data_offset :]
            cfg = aac.parse_asc(asc)
            fmtp = (
                "profile-level-id=1;streamtype=5;mode=AAC-hbr;sizelength=13;indexlength=3;"
                f"indexdeltalength=3;config={asc.hex().upper()}"
            )
            return Track("audio", "MPEG4-GENERIC", AUDIO_PT, cfg.sample_rate, cfg.channels or 2, fmtp)
        if info.codec == AudioCodec.OPUS:
            return Track("audio", "opus", AUDIO_PT, 48000, 2)
    except (SrsError, ValueError, IndexError):
        return None
    return None


def describe(uri: str, tracks: list[Track], origin: str = "0.0.0.0") -> str:
    """The DESCRIBE answer for ``tracks`` (their ``control`` already set); CRLF line ends."""
    lines = [
        "v=0",
        f"o=- 0 0 IN IP4 {origin}",
        "s=Play",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=tool:SRS",
        "a=range:npt=0-",
        f"a=control:{uri}",
    ]
    for t in tracks:
        lines.extend(t.media(uri))
    return "\r\n".join(lines) + "\r\n"


@dataclass(frozen=True, slots=True)
class AnnouncedTrack:
    """A track of an ANNOUNCE: codec, payload type, clock, fmtp parameters, control."""

    kind: str
    codec: str  # upper case: H264, H265, MPEG4-GENERIC, OPUS
    pt: int
    clock: int
    channels: int
    fmtp: dict[str, str]
    control: str


def parse_announce(text: str) -> list[AnnouncedTrack]:
    """The audio/video tracks of a publisher's SDP; tracks we cannot read are left out."""
    out: list[AnnouncedTrack] = []
    cur: dict[str, object] | None = None

    def close() -> None:
        if cur is not None and cur.get("codec"):
            out.append(
                AnnouncedTrack(
                    str(cur["kind"]),
                    str(cur["codec"]),
                    int(cur["pt"]),  # type: ignore[call-overload]
                    int(cur.get("clock", 90000)),  # type: ignore[call-overload]
                    int(cur.get("channels", 0)),  # type: ignore[call-overload]
                    dict(cur.get("fmtp", {})),  # type: ignore[call-overload]
                    str(cur.get("control", "")),
                )
            )

    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if line.startswith("m="):
            close()
            parts = line[2:].split()
            if (
                len(parts) < 4
                or parts[0] not in ("audio", "video")
                or not (parts[3].isascii() and parts[3].isdigit())
                or len(parts[3]) > 3
            ):
                cur = None
                continue
            cur = {"kind": parts[0], "pt": int(parts[3]) & 0x7F}
        elif cur is not None and line.startswith("a=rtpmap:"):
            pt, _, spec = line[9:].partition(" ")
            if pt.strip() != str(cur["pt"]):
                continue
            fields = spec.strip().split("/")
            cur["codec"] = fields[0].upper()
            if len(fields) > 1 and fields[1].isascii() and fields[1].isdigit() and len(fields[1]) < 8:
                cur["clock"] = int(fields[1])
            if len(fields) > 2 and fields[2].isascii() and fields[2].isdigit() and len(fields[2]) < 3:
                cur["channels"] = int(fields[2])
        elif cur is not None and line.startswith("a=fmtp:"):
            _, _, params = line[7:].partition(" ")
            fmtp: dict[str, str] = {}
            for p in params.split(";"):
                k, eq, v = p.strip().partition("=")
                if eq:
                    fmtp[k.strip().lower()] = v.strip()
            cur["fmtp"] = fmtp
        elif cur is not None and line.startswith("a=control:"):
            cur["control"] = line[10:].strip()
    close()
    return out


def b64_sets(value: str) -> list[bytes]:
    """The parameter sets of a ``sprop-*`` value; bad base64 raises :class:`ParseError`."""
    out = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(base64.b64decode(part + "=" * (-len(part) % 4), validate=False))
        except ValueError as e:
            raise ParseError(f"bad sprop base64: {e}") from None
    return out
