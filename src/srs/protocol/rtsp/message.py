"""RTSP/1.0 messages on one TCP stream, sans-IO: requests, responses and ``$`` interleaved frames.

RFC 2326: a request line ``METHOD uri RTSP/1.0``, header lines, an empty line, then ``Content-Length``
bytes of body; RTP/RTCP over the same connection come as ``$``, a channel byte, a 16-bit length and
the packet (section 10.12). SRS's ``SrsRtspStack`` reads the same; it takes only requests. We also
parse responses (a client's answers are never expected, but a stray one is not a protocol error).

Limits (ours): a header block over :data:`MAX_HEADER` bytes or a body over :data:`MAX_BODY` is refused
with :class:`RtspError`, as is anything that is neither a message nor a frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from srs.util.errors import ParseError

MAX_HEADER = 16 * 1024
MAX_BODY = 256 * 1024
VERSION = "RTSP/1.0"

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    415: "Unsupported Media Type",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


def _digits(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` accepts superscripts that ``int`` refuses)."""
    return text.isascii() and text.isdigit()


class RtspError(ParseError):
    """A byte stream that is not RTSP."""


@dataclass(slots=True)
class RtspMessage:
    """A request (``method`` set) or a response (``status`` set); header names are lower-cased."""

    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    @property
    def cseq(self) -> int:
        """The ``CSeq`` (0 when absent or not a number)."""
        v = self.headers.get("cseq", "").strip()
        return int(v) if _digits(v) and len(v) < 10 else 0

    @property
    def session(self) -> str:
        """The ``Session`` id without its ``;timeout=`` parameter."""
        return self.headers.get("session", "").split(";", 1)[0].strip()


@dataclass(frozen=True, slots=True)
class Interleaved:
    """A ``$`` frame: RTP (even channel, by convention) or RTCP (odd) on the RTSP connection."""

    channel: int
    data: bytes


class RtspParser:
    """Feed bytes, get :class:`RtspMessage` / :class:`Interleaved` in order; raises :class:`RtspError`."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[RtspMessage | Interleaved]:
        buf = self._buf
        buf += data
        out: list[RtspMessage | Interleaved] = []
        while buf:
            if buf[0] == 0x24:  # '$'
                if len(buf) < 4:
                    break
                size = (buf[2] << 8) | buf[3]
                if len(buf) < 4 + size:
                    break
                out.append(Interleaved(buf[1], bytes(buf[4 : 4 + size])))
                del buf[: 4 + size]
                continue
            if buf[0] in (0x0D, 0x0A):  # stray line ends between messages
                del buf[:1]
                continue
            end = buf.find(b"\r\n\r\n")
            sep = 4
            if end < 0:
                end = buf.find(b"\n\n")
                sep = 2
            if end < 0:
                if len(buf) > MAX_HEADER:
                    raise RtspError("RTSP header too long")
                break
            if end > MAX_HEADER:
                raise RtspError("RTSP header too long")
            msg = _head(bytes(buf[:end]))
            length_text = msg.headers.get("content-length", "0").strip() or "0"
            if not _digits(length_text) or len(length_text) > 7:
                raise RtspError(f"bad Content-Length {length_text[:20]!r}")
            length = int(length_text)
            if length > MAX_BODY:
                raise RtspError(f"RTSP body of {length} bytes is too large")
            if len(buf) < end + sep + length:
                break
            msg.body = bytes(buf[end + sep : end + sep + length])
            del buf[: end + sep + length]
            out.append(msg)
        return out


def _head(raw: bytes) -> RtspMessage:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    first = lines[0].strip()
    parts = first.split(" ", 2)
    msg = RtspMessage()
    if first.startswith("RTSP/"):
        if len(parts) < 2 or not _digits(parts[1]) or len(parts[1]) != 3:
            raise RtspError(f"bad RTSP status line {first[:80]!r}")
        msg.status = int(parts[1])
        msg.reason = parts[2] if len(parts) > 2 else ""
    else:
        if (
            len(parts) != 3
            or not parts[2].startswith("RTSP/")
            or not parts[0].replace("_", "").replace("-", "").isalpha()
        ):
            raise RtspError(f"bad RTSP request line {first[:80]!r}")
        msg.method = parts[0].upper()
        msg.uri = parts[1]
    for line in lines[1:]:
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise RtspError(f"bad RTSP header line {line[:80]!r}")
        msg.headers[name.strip().lower()] = value.strip()
    return msg


def serialize_response(
    status: int,
    cseq: int,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> bytes:
    """``RTSP/1.0 <status> <reason>`` with CSeq, the given headers, Content-Length when there is a body.

    ``headers`` may be a list of pairs when a name repeats (a 401's two ``WWW-Authenticate``)."""
    out = [f"{VERSION} {status} {REASONS.get(status, 'Unknown')}", f"CSeq: {cseq}", "Server: SRS/7.0 (py)"]
    for k, v in headers.items() if isinstance(headers, Mapping) else headers or ():
        out.append(f"{k}: {v}")
    if body:
        out.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(out) + "\r\n\r\n").encode() + body


def serialize_request(
    method: str, uri: str, cseq: int, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    out = [f"{method} {uri} {VERSION}", f"CSeq: {cseq}"]
    for k, v in (headers or {}).items():
        out.append(f"{k}: {v}")
    if body:
        out.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(out) + "\r\n\r\n").encode() + body


def interleave(channel: int, packet: bytes) -> bytes:
    return bytes((0x24, channel & 0xFF, (len(packet) >> 8) & 0xFF, len(packet) & 0xFF)) + packet


@dataclass(frozen=True, slots=True)
class Transport:
    """One ``Transport`` header spec (the first the client offers that we parse)."""

    tcp: bool
    interleaved: tuple[int, int] | None = None
    client_port: tuple[int, int] | None = None
    mode: str = "play"
    raw: str = ""


def _pair(value: str) -> tuple[int, int] | None:
    a, _, b = value.partition("-")
    if not _digits(a) or len(a) > 5 or (b and (not _digits(b) or len(b) > 5)):
        return None
    lo = int(a)
    hi = int(b) if b else lo + 1
    if lo > 65535 or hi > 65535:
        return None
    return lo, hi


def parse_transport(value: str) -> list[Transport]:
    """The specs of a ``Transport`` header (comma-separated alternatives); unknown ones are skipped."""
    out: list[Transport] = []
    for spec in value.split(","):
        parts = [p.strip() for p in spec.split(";") if p.strip()]
        if not parts:
            continue
        proto = parts[0].upper()
        if not proto.startswith("RTP/AVP"):
            continue
        tcp = proto.endswith("/TCP")
        inter = port = None
        mode = "play"
        for p in parts[1:]:
            k, _, v = p.partition("=")
            k = k.strip().lower()
            if k == "interleaved":
                inter = _pair(v.strip())
            elif k == "client_port":
                port = _pair(v.strip())
            elif k == "mode":
                mode = v.strip().strip('"').lower()
        out.append(Transport(tcp, inter, port, mode, spec.strip()))
    return out
