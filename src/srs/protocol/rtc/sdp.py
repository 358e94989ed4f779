"""SDP (RFC 8866) for WebRTC, sans-IO: parse, inspect, build and serialise offers and answers.

The model keeps every line in the order it arrived (``lines`` holds ``(type, value)`` pairs, the
``a=`` lines included), so ``str(SessionDescription.parse(text)) == text`` for well-formed CRLF input.
Typed views (``mid``, ``codecs``, ``extmaps``, ``candidates``, ``ssrcs`` ...) are computed from those
lines; :meth:`SessionDescription.parse` evaluates every typed view once, so a malformed
``a=rtpmap``/``a=candidate``/``a=ssrc``/``m=`` line is a :class:`ParseError` (code 5012,
``ERROR_RTC_SDP_DECODE``) at parse time and never an ``IndexError``/``ValueError`` later.

SRS (``srs_app_rtc_sdp.cpp``) parses into fixed fields and re-encodes in its own order, silently
dropping lines it does not know; we keep everything so an offer can be logged, inspected and
re-emitted verbatim. Line endings: CRLF or bare LF are accepted; output is always CRLF.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from srs.util.errors import ErrorCode, ParseError

CRLF = "\r\n"
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_SESSION_TYPES = set("vosiuepcbtrzka")
_MEDIA_TYPES = set("icbka")


def _err(msg: str) -> ParseError:
    return ParseError(f"sdp: {msg}", ErrorCode.RTC_SDP_DECODE)


def _int(text: str, what: str, lo: int = 0, hi: int = 2**32 - 1) -> int:
    if not text.isascii() or not text.isdigit():
        raise _err(f"{what} is not a number: {text!r}")
    v = int(text)
    if not lo <= v <= hi:
        raise _err(f"{what} out of range: {v}")
    return v


def _split_attr(value: str) -> tuple[str, str | None]:
    name, sep, rest = value.partition(":")
    return name, (rest if sep else None)


@dataclass
class Codec:
    """One payload type of an m-line: ``a=rtpmap`` + ``a=fmtp`` + ``a=rtcp-fb`` lines."""

    pt: int
    name: str
    clock_rate: int
    channels: int | None = None
    fmtp: str | None = None
    rtcp_fbs: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict[str, str]:
        """``a=fmtp`` as a dict (``key=value;key=value``; keys lower-cased)."""
        out: dict[str, str] = {}
        for part in (self.fmtp or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k:
                out[k.strip().lower()] = v.strip()
        return out

    def rtpmap(self) -> str:
        chans = f"/{self.channels}" if self.channels is not None else ""
        return f"{self.pt} {self.name}/{self.clock_rate}{chans}"

    def attributes(self) -> list[str]:
        """The ``a=`` values for this codec, in Chrome's order (rtpmap, rtcp-fb..., fmtp)."""
        out = [f"rtpmap:{self.rtpmap()}"]
        out += [f"rtcp-fb:{self.pt} {fb}" for fb in self.rtcp_fbs]
        if self.fmtp is not None:
            out.append(f"fmtp:{self.pt} {self.fmtp}")
        return out


@dataclass
class ExtMap:
    """``a=extmap:<id>[/<direction>] <uri> [<attributes>]`` (RFC 8285)."""

    id: int
    uri: str
    direction: str | None = None
    attrs: str | None = None

    def __str__(self) -> str:
        d = f"/{self.direction}" if self.direction else ""
        a = f" {self.attrs}" if self.attrs else ""
        return f"extmap:{self.id}{d} {self.uri}{a}"


@dataclass
class Candidate:
    """``a=candidate`` (RFC 8839 section 5.1, TCP per RFC 6544)."""

    foundation: str
    component: int
    transport: str
    priority: int
    address: str
    port: int
    type: str
    related_address: str | None = None
    related_port: int | None = None
    tcptype: str | None = None
    extensions: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, value: str) -> Candidate:
        """Parse the value after ``candidate:``."""
        p = value.split()
        if len(p) < 8 or p[6] != "typ":
            raise _err(f"bad candidate: {value!r}")
        c = cls(
            foundation=p[0],
            component=_int(p[1], "candidate component", 1, 256),
            transport=p[2].lower(),
            priority=_int(p[3], "candidate priority"),
            address=p[4],
            port=_int(p[5], "candidate port", 0, 65535),
            type=p[7],
        )
        rest = p[8:]
        if len(rest) % 2:
            raise _err(f"candidate extension without value: {value!r}")
        for k, v in zip(rest[::2], rest[1::2], strict=True):
            if k == "raddr":
                c.related_address = v
            elif k == "rport":
                c.related_port = _int(v, "candidate rport", 0, 65535)
            elif k == "tcptype":
                c.tcptype = v
            else:
                c.extensions.append((k, v))
        return c

    def __str__(self) -> str:
        s = (
            f"candidate:{self.foundation} {self.component} {self.transport} {self.priority} "
            f"{self.address} {self.port} typ {self.type}"
        )
        if self.related_address is not None:
            s += f" raddr {self.related_address}"
        if self.related_port is not None:
            s += f" rport {self.related_port}"
        if self.tcptype is not None:
            s += f" tcptype {self.tcptype}"
        for k, v in self.extensions:
            s += f" {k} {v}"
        return s


@dataclass
class SsrcAttr:
    """``a=ssrc:<ssrc> <attribute>[:<value>]`` (RFC 5576)."""

    ssrc: int
    attribute: str
    value: str | None = None


class _Lines:
    """Ordered ``(type, value)`` lines with attribute helpers shared by session and media."""

    lines: list[tuple[str, str]]

    def attributes(self) -> Iterator[tuple[str, str | None]]:
        for t, v in self.lines:
            if t == "a":
                yield _split_attr(v)

    def attr(self, name: str) -> str | None:
        """Value of the first ``a=name:value`` (``""`` for a flag ``a=name``), else None."""
        for n, v in self.attributes():
            if n == name:
                return "" if v is None else v
        return None

    def attrs(self, name: str) -> list[str]:
        return ["" if v is None else v for n, v in self.attributes() if n == name]

    def has(self, name: str) -> bool:
        return self.attr(name) is not None

    def add(self, value: str, type_: str = "a") -> None:
        """Append a line (``add("rtcp-mux")`` appends ``a=rtcp-mux``)."""
        self.lines.append((type_, value))

    @property
    def ice_ufrag(self) -> str | None:
        return self.attr("ice-ufrag")

    @property
    def ice_pwd(self) -> str | None:
        return self.attr("ice-pwd")

    @property
    def ice_options(self) -> list[str]:
        """RFC 8839 says space-separated; libdatachannel (OBS) writes ``ice2,trickle``: both work."""
        v = self.attr("ice-options")
        return v.replace(",", " ").split() if v else []

    @property
    def ice_lite(self) -> bool:
        return self.has("ice-lite")

    @property
    def fingerprint(self) -> tuple[str, str] | None:
        """``(algorithm, hex)`` of the first ``a=fingerprint``, algorithm lower-cased."""
        v = self.attr("fingerprint")
        if v is None:
            return None
        algo, _, fp = v.strip().partition(" ")
        if not algo or not fp.strip():
            raise _err(f"bad fingerprint: {v!r}")
        return algo.lower(), fp.strip()

    @property
    def setup(self) -> str | None:
        v = self.attr("setup")
        if v is not None and v not in ("actpass", "active", "passive", "holdconn"):
            raise _err(f"bad setup: {v!r}")
        return v


class MediaDescription(_Lines):
    """One ``m=`` section: ``m=<kind> <port>[/<n>] <proto> <fmt>...`` and its lines."""

    def __init__(
        self,
        kind: str,
        port: int,
        proto: str,
        fmts: list[str],
        port_count: int | None = None,
        lines: list[tuple[str, str]] | None = None,
    ) -> None:
        self.kind = kind
        self.port = port
        self.port_count = port_count
        self.proto = proto
        self.fmts = fmts
        self.lines = lines if lines is not None else []

    @classmethod
    def parse_m(cls, value: str) -> MediaDescription:
        p = value.split(" ")
        if len(p) < 3 or not all(p[:3]):
            raise _err(f"bad m= line: {value!r}")
        port_s, _, count_s = p[1].partition("/")
        port = _int(port_s, "m= port", 0, 65535)
        count = _int(count_s, "m= port count", 1, 65535) if count_s else None
        return cls(p[0], port, p[2], p[3:], count)

    def m_line(self) -> str:
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        return " ".join([self.kind, port, self.proto, *self.fmts])

    def __str__(self) -> str:
        return "".join(f"{t}={v}{CRLF}" for t, v in [("m", self.m_line()), *self.lines])

    def __repr__(self) -> str:
        return f"<MediaDescription {self.kind} mid={self.mid!r} {self.direction} pts={self.fmts}>"

    @property
    def rejected(self) -> bool:
        return self.port == 0

    @property
    def mid(self) -> str | None:
        return self.attr("mid")

    @property
    def direction(self) -> str:
        """The last direction attribute, ``sendrecv`` when none (RFC 8866 6.7)."""
        d = "sendrecv"
        for n, v in self.attributes():
            if n in DIRECTIONS and v is None:
                d = n
        return d

    @property
    def rtcp_mux(self) -> bool:
        return self.has("rtcp-mux")

    @property
    def rtcp_rsize(self) -> bool:
        return self.has("rtcp-rsize")

    @property
    def end_of_candidates(self) -> bool:
        return self.has("end-of-candidates")

    @property
    def msid(self) -> tuple[str, str | None] | None:
        """``(stream id, track id)`` of ``a=msid`` (RFC 8830)."""
        v = self.attr("msid")
        if v is None:
            return None
        sid, _, tid = v.partition(" ")
        return sid, (tid or None)

    @property
    def extmaps(self) -> list[ExtMap]:
        out = []
        for v in self.attrs("extmap"):
            head, _, rest = v.partition(" ")
            uri, _, more = rest.strip().partition(" ")
            ident, _, direction = head.partition("/")
            if not uri:
                raise _err(f"bad extmap: {v!r}")
            out.append(ExtMap(_int(ident, "extmap id", 1, 255), uri, direction or None, more or None))
        return out

    @property
    def codecs(self) -> list[Codec]:
        """Payload types of the ``m=`` line that have an ``a=rtpmap``, in ``m=`` order."""
        by_pt: dict[int, Codec] = {}
        for v in self.attrs("rtpmap"):
            pt_s, _, enc = v.partition(" ")
            parts = enc.strip().split("/")
            pt = _int(pt_s, "rtpmap payload type", 0, 127)
            if len(parts) not in (2, 3) or not parts[0]:
                raise _err(f"bad rtpmap: {v!r}")
            chans = _int(parts[2], "rtpmap channels", 1, 255) if len(parts) == 3 else None
            by_pt[pt] = Codec(pt, parts[0], _int(parts[1], "rtpmap clock rate", 1), chans)
        for v in self.attrs("fmtp"):
            pt_s, _, params = v.partition(" ")
            c = by_pt.get(_int(pt_s, "fmtp payload type", 0, 127))
            if c is not None:
                c.fmtp = params.strip()
        for v in self.attrs("rtcp-fb"):
            pt_s, _, fb = v.partition(" ")
            if pt_s == "*":
                for c in by_pt.values():
                    c.rtcp_fbs.append(fb.strip())
                continue
            c = by_pt.get(_int(pt_s, "rtcp-fb payload type", 0, 127))
            if c is not None:
                c.rtcp_fbs.append(fb.strip())
        order = [int(f) for f in self.fmts if f.isascii() and f.isdigit()]
        return [by_pt[pt] for pt in order if pt in by_pt]

    def codecs_named(self, name: str) -> list[Codec]:
        return [c for c in self.codecs if c.name.lower() == name.lower()]

    @property
    def ssrcs(self) -> list[SsrcAttr]:
        out = []
        for v in self.attrs("ssrc"):
            s, _, rest = v.partition(" ")
            a, sep, val = rest.partition(":")
            out.append(SsrcAttr(_int(s, "ssrc"), a, val if sep else None))
        return out

    @property
    def ssrc_groups(self) -> list[tuple[str, list[int]]]:
        """``a=ssrc-group:<semantics> <ssrc>...`` (FID, SIM, FEC-FR)."""
        out = []
        for v in self.attrs("ssrc-group"):
            p = v.split()
            if len(p) < 2:
                raise _err(f"bad ssrc-group: {v!r}")
            out.append((p[0], [_int(s, "ssrc-group ssrc") for s in p[1:]]))
        return out

    @property
    def candidates(self) -> list[Candidate]:
        return [Candidate.parse(v) for v in self.attrs("candidate")]

    def validate(self) -> None:
        """Evaluate every typed view once (raises ParseError on a malformed line)."""
        _ = (self.extmaps, self.codecs, self.ssrcs, self.ssrc_groups, self.candidates)
        _ = (self.fingerprint, self.setup)


@dataclass
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>``."""

    username: str = "-"
    session_id: str = "0"
    session_version: str = "2"
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "0.0.0.0"

    @classmethod
    def parse(cls, value: str) -> Origin:
        p = value.split(" ")
        if len(p) != 6 or not all(p):
            raise _err(f"bad o= line: {value!r}")
        return cls(*p)

    def __str__(self) -> str:
        return " ".join(
            [self.username, self.session_id, self.session_version, self.nettype, self.addrtype, self.address]
        )


class SessionDescription(_Lines):
    """A whole SDP. ``lines`` are the session-level lines after ``o=`` and ``s=`` (``t=``, ``a=`` ...)."""

    def __init__(
        self,
        origin: Origin | None = None,
        name: str = "-",
        lines: list[tuple[str, str]] | None = None,
        media: list[MediaDescription] | None = None,
        version: int = 0,
    ) -> None:
        self.version = version
        self.origin = origin or Origin()
        self.name = name
        self.lines = lines if lines is not None else []
        self.media = media if media is not None else []

    @classmethod
    def parse(cls, data: str | bytes) -> SessionDescription:
        """Parse an SDP; raises only :class:`ParseError` (code 5012)."""
        if isinstance(data, (bytes, bytearray)):
            try:
                data = bytes(data).decode("utf-8")
            except UnicodeDecodeError as e:
                raise _err(f"not UTF-8 ({e.reason})") from None
        raw = data.split("\n")
        if raw and raw[-1] == "":
            raw.pop()
        if not raw:
            raise _err("empty")
        parsed: list[tuple[str, str]] = []
        for n, line in enumerate(raw, 1):
            if line.endswith("\r"):
                line = line[:-1]
            if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
                raise _err(f"line {n}: not <type>=<value>: {line[:40]!r}")
            if "\r" in line or "\x00" in line:
                raise _err(f"line {n}: CR or NUL inside a line")
            parsed.append((line[0], line[2:]))
        if parsed[0] != ("v", "0"):
            raise _err(f"first line must be v=0, got {parsed[0][0]}={parsed[0][1][:20]!r}")
        if len(parsed) < 3 or parsed[1][0] != "o" or parsed[2][0] != "s":
            raise _err("o= and s= must follow v=")
        sdp = cls(Origin.parse(parsed[1][1]), parsed[2][1])
        cur: _Lines = sdp
        for n, (t, v) in enumerate(parsed[3:], 4):
            if t == "m":
                m = MediaDescription.parse_m(v)
                sdp.media.append(m)
                cur = m
            elif t in (_MEDIA_TYPES if cur is not sdp else _SESSION_TYPES) and t not in "vos":
                cur.lines.append((t, v))
            else:
                raise _err(f"line {n}: {t}= not allowed here")
        sdp.validate()
        return sdp

    def validate(self) -> None:
        _ = (self.groups, self.msid_semantic, self.fingerprint, self.setup)
        for m in self.media:
            m.validate()

    def __str__(self) -> str:
        head = [("v", str(self.version)), ("o", str(self.origin)), ("s", self.name), *self.lines]
        return "".join(f"{t}={v}{CRLF}" for t, v in head) + "".join(str(m) for m in self.media)

    def __bytes__(self) -> bytes:
        return str(self).encode()

    def __repr__(self) -> str:
        return f"<SessionDescription {len(self.media)} media {[m.kind for m in self.media]} groups={self.groups}>"

    @property
    def groups(self) -> list[tuple[str, list[str]]]:
        """``a=group:<semantics> <mid>...`` (RFC 5888, BUNDLE per RFC 9143)."""
        out = []
        for v in self.attrs("group"):
            p = v.split()
            if not p:
                raise _err("empty a=group")
            out.append((p[0], p[1:]))
        return out

    @property
    def bundle(self) -> list[str] | None:
        for sem, mids in self.groups:
            if sem == "BUNDLE":
                return mids
        return None

    @property
    def msid_semantic(self) -> tuple[str, list[str]] | None:
        """``a=msid-semantic: WMS <id>...`` (Chrome writes a space after the colon)."""
        v = self.attr("msid-semantic")
        if v is None:
            return None
        p = v.split()
        if not p:
            raise _err("empty a=msid-semantic")
        return p[0], p[1:]

    @property
    def extmap_allow_mixed(self) -> bool:
        return self.has("extmap-allow-mixed")

    def media_attr(self, m: MediaDescription, name: str) -> str | None:
        """An attribute of ``m``, else of the session (ICE and DTLS lines may be at either level)."""
        v = m.attr(name)
        return v if v is not None else self.attr(name)
