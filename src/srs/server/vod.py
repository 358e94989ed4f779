"""HTTP VOD of files under ``http_server.dir`` (SRS's ``SrsVodStream``): the sans-IO decisions.

What SRS 7 does (``srs_protocol_http_stack.cpp`` ``SrsHttpFileServer::serve_http`` and
``srs_app_http_static.cpp`` ``SrsVodStream``), and what this module reproduces:

* ``.flv`` (and ``.fhv``) with ``?start=<byte offset>``: the offset is C ``atoll`` of the value;
  empty, not a number, zero or negative serves the whole file. Otherwise the answer is the file's
  FLV header (13 bytes), then its *sequence headers*, then the file from the offset to its end,
  ``200 OK`` with the exact ``Content-Length``. The sequence headers are SRS's
  ``SrsFlvVodStreamDecoder::read_sequence_header_summary``: the contiguous span of the file from
  its first audio/video tag to the end of the first video tag and the first audio tag (script tags
  before the first audio/video tag, i.e. ``onMetaData``, are *not* sent: their duration and
  keyframe positions describe the whole file, not the part a player gets). The offset is trusted
  to be a tag boundary (a player computes it from ``onMetaData``'s keyframe positions).
* ``.mp4``: a byte range from ``?range=a-b``, else ``?bytes=a-b`` (Flash players), else the
  ``Range`` header; answered ``206`` with ``Content-Range``.

Where we differ, on purpose:

* A start offset beyond the file, or a range starting beyond it: SRS returns an error from the
  handler, which closes the connection without any response; we answer ``416 Range Not
  Satisfiable`` with ``Content-Range: bytes */<size>``.
* ``Range`` headers (on every static file: ``.mp4``, ``.ts``, ``.m4s``, ...) follow RFC 9110
  (``bytes=-n`` is the last *n* bytes; SRS reads it as bytes 0..n, and only for ``.mp4``); an
  end beyond the file is clamped to its last byte (SRS: error). The query forms keep SRS's
  reading (``?range=-n`` is 0..n) since only SRS clients send them.
* The FLV scan checks the ``FLV`` signature and honours the header's DataOffset (SRS reads 13
  bytes blindly); a tag running past the end of the file ends the scan instead of failing the
  request, and at most :data:`MAX_SCAN_TAGS` tags are looked at. A file with no audio/video tag
  gets the header and the requested bytes (SRS: error, connection closed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from srs.util.errors import ErrorCode, ParseError

FLV_HEADER_SIZE = 9
PREVIOUS_TAG_SIZE = 4
TAG_HEADER_SIZE = 11
MAX_DATA_OFFSET = 4096  # a header claiming more than this is not an FLV file we serve
MAX_SCAN_TAGS = 256  # tags looked at before giving up on finding both sequence headers
INT64_MAX = (1 << 63) - 1

FLV_EXTENSIONS = (".flv", ".fhv")
MP4_EXTENSIONS = (".mp4",)

ReadAt = Callable[[int, int], bytes]
"""``read_at(offset, n)``: up to ``n`` bytes of the file from ``offset`` (fewer at its end)."""


def atoll(text: str) -> int:
    """C ``atoll``: leading whitespace, an optional sign, decimal digits; 0 when there are none.

    SRS parses ``start`` and range bounds with it, so ``"12abc"`` is 12 and ``"abc"`` is 0. The
    result is clamped to int64 (C's overflow is undefined).
    """
    s = text.lstrip(" \t\n\v\f\r")
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    n = 0
    for ch in s:
        if not ("0" <= ch <= "9"):
            break
        n = n * 10 + (ord(ch) - 48)
        if n > INT64_MAX:
            n = INT64_MAX + (1 if sign < 0 else 0)
            break
    return sign * n


def flv_start(query: Mapping[str, str]) -> int:
    """The byte offset of ``?start=``; 0 means "serve the whole file" (SRS's ``serve_flv_file``)."""
    value = query.get("start", "")
    if not value:
        return 0
    return max(0, atoll(value))


@dataclass(frozen=True)
class QueryRange:
    """A byte range from SRS's query form; ``end`` is inclusive, ``None`` runs to the end."""

    start: int
    end: int | None

    def header(self) -> str:
        """The same range as an RFC 9110 ``Range`` header value."""
        return f"bytes={self.start}-" if self.end is None else f"bytes={self.start}-{self.end}"


def parse_query_range(value: str) -> QueryRange | None:
    """SRS's ``serve_mp4_file`` reading of ``?range=`` / ``?bytes=`` (``a-b``, ``a-``, ``-b``).

    ``None`` means "no usable range: serve the whole file" (no ``-``, a negative start, or a start
    after the end). A ``bytes=`` prefix is accepted as SRS strips it from the header form.
    """
    if value.startswith("bytes="):
        value = value[6:]
    pos = value.find("-")
    if pos < 0:
        return None
    start = atoll(value[:pos]) if pos > 0 else 0
    end = atoll(value[pos + 1 :]) if pos < len(value) - 1 else -1
    if start < 0 or (end != -1 and start > end):
        return None
    return QueryRange(start, None if end == -1 else end)


def mp4_range_override(query: Mapping[str, str]) -> str | None:
    """The ``Range`` a ``.mp4`` request's query asks for (``range`` first, then ``bytes``).

    ``None``: the query has neither, the request's own ``Range`` header decides. ``""``: the query
    has one SRS cannot use, so the whole file is served and the header is ignored (as SRS does).
    Otherwise the equivalent RFC 9110 ``Range`` header value.
    """
    value = query.get("range", "") or query.get("bytes", "")
    if not value:
        return None
    rng = parse_query_range(value)
    return rng.header() if rng is not None else ""


@dataclass(frozen=True)
class FlvHead:
    """What an FLV VOD response puts before the requested bytes.

    ``header_size`` bytes of the file (FLV header + PreviousTagSize0), then the file's bytes
    ``[sh_start, sh_end)`` (the sequence headers, empty when none were found).
    """

    header_size: int
    sh_start: int
    sh_end: int
    has_video: bool = False
    has_audio: bool = False

    @property
    def sh_size(self) -> int:
        return self.sh_end - self.sh_start


def scan_flv_head(read_at: ReadAt, size: int) -> FlvHead:
    """Find the FLV header and the sequence-header span of a file of ``size`` bytes.

    Only tag headers are read (11 bytes each), never tag bodies. Raises :class:`ParseError` when
    the file does not start with an FLV header.
    """
    head = read_at(0, FLV_HEADER_SIZE)
    if len(head) < FLV_HEADER_SIZE or head[:3] != b"FLV":
        raise ParseError("not an FLV file (no FLV header)", ErrorCode.KERNEL_FLV_HEADER)
    data_offset = int.from_bytes(head[5:9], "big")
    if data_offset < FLV_HEADER_SIZE or data_offset > MAX_DATA_OFFSET:
        raise ParseError(f"FLV header DataOffset {data_offset} is invalid", ErrorCode.KERNEL_FLV_HEADER)
    header_size = data_offset + PREVIOUS_TAG_SIZE
    if header_size > size:
        raise ParseError("FLV file shorter than its header", ErrorCode.KERNEL_FLV_HEADER)
    pos = header_size
    got_video = got_audio = False
    sh_start = sh_end = -1
    for _ in range(MAX_SCAN_TAGS):
        tag = read_at(pos, TAG_HEADER_SIZE)
        if len(tag) < TAG_HEADER_SIZE:
            break
        tag_type = tag[0] & 0x1F  # the Filter/reserved bits are not part of the type
        end = pos + TAG_HEADER_SIZE + int.from_bytes(tag[1:4], "big") + PREVIOUS_TAG_SIZE
        if end > size:
            break  # a truncated last tag is not a sequence header we can send
        is_video, is_audio = tag_type == 9, tag_type == 8
        if not is_video and not is_audio:
            pos = end
            continue
        if (is_video and got_video) or (is_audio and got_audio):
            break  # the second tag of one kind: the stream has no tag of the other kind here
        got_video = got_video or is_video
        got_audio = got_audio or is_audio
        if sh_start < 0:
            sh_start = pos
        sh_end = pos = end
        if got_video and got_audio:
            break
    if sh_start < 0:
        sh_start = sh_end = header_size
    return FlvHead(header_size, sh_start, sh_end, got_video, got_audio)


@dataclass(frozen=True)
class FlvPlan:
    """An FLV ``?start=`` answer: ``status`` 200 with the pieces, or 416 (offset past the end)."""

    status: int
    size: int
    offset: int = 0
    head: FlvHead | None = None

    @property
    def content_length(self) -> int:
        if self.head is None:
            return 0
        return self.head.header_size + self.head.sh_size + (self.size - self.offset)

    def pieces(self) -> list[tuple[int, int]]:
        """The file spans ``(offset, length)`` the body is made of, in order."""
        if self.head is None:
            return []
        spans = [(0, self.head.header_size), (self.head.sh_start, self.head.sh_size)]
        spans.append((self.offset, self.size - self.offset))
        return [s for s in spans if s[1] > 0]


def plan_flv_start(offset: int, size: int, read_at: ReadAt) -> FlvPlan:
    """The response to ``?start=offset`` (``offset`` > 0) on an FLV file of ``size`` bytes.

    Raises :class:`ParseError` when the file is not FLV.
    """
    if offset > size:
        return FlvPlan(416, size, offset)
    return FlvPlan(200, size, offset, scan_flv_head(read_at, size))


def unsatisfiable_range(size: int) -> str:
    """The ``Content-Range`` value of a 416 answer."""
    return f"bytes */{size}"
