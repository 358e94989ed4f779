"""ISO BMFF (MP4) boxes for fragmented MP4, written and read back (ISO/IEC 14496-12, -14, -15).

The writer builds what HLS fMP4, DASH and DVR need: an init segment (``ftyp`` + ``moov`` with one
``trak`` per track and ``mvex``) and fragments (``moof`` + ``mdat``), for H.264 (``avc1``), H.265
(``hvc1``), AAC and MP3 (``mp4a``). The reader walks any box tree and pulls out the tracks and the
samples of fragments; tests and tools use it, and it is fuzzed: whatever bytes arrive, only
:class:`~srs.util.errors.ParseError` escapes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from srs.util.errors import ParseError

VIDE = "vide"
SOUN = "soun"

SAMPLE_SYNC = 0x02000000  # sample_depends_on = 2 (depends on no other sample)
SAMPLE_NON_SYNC = 0x01010000  # sample_depends_on = 1, sample_is_non_sync_sample = 1

_U32 = struct.Struct(">I")


def box(kind: str, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return _U32.pack(8 + len(body)) + kind.encode("latin-1") + body


def full_box(kind: str, version: int, flags: int, *parts: bytes) -> bytes:
    return box(kind, _U32.pack(version << 24 | flags), *parts)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


@dataclass(frozen=True, slots=True)
class Track:
    """One track of the init segment."""

    track_id: int
    handler: str  # VIDE | SOUN
    timescale: int
    codec: str  # "avc1" | "hvc1" | "mp4a"
    config: bytes = b""  # avcC / hvcC record, or the AAC AudioSpecificConfig (b"" for MP3)
    width: int = 0
    height: int = 0
    channels: int = 2
    sample_rate: int = 0
    object_type: int = 0x40  # mp4a: 0x40 AAC, 0x6B MP3


@dataclass(frozen=True, slots=True)
class Sample:
    duration: int  # in the track's timescale
    data: bytes
    keyframe: bool = True
    cts: int = 0  # composition offset (PTS - DTS), signed


# ---------------------------------------------------------------------------------------- writer


def _descriptor(tag: int, body: bytes) -> bytes:
    n = len(body)
    size = bytes([0x80 | (n >> 21) & 0x7F, 0x80 | (n >> 14) & 0x7F, 0x80 | (n >> 7) & 0x7F, n & 0x7F])
    return bytes([tag]) + size + body


def _esds(t: Track) -> bytes:
    dsi = _descriptor(5, t.config) if t.config else b""
    dec = _descriptor(4, bytes([t.object_type, 0x15]) + b"\x00\x00\x00" + struct.pack(">II", 0, 0) + dsi)
    es = _descriptor(3, struct.pack(">HB", t.track_id, 0) + dec + _descriptor(6, b"\x02"))
    return full_box("esds", 0, 0, es)


def _sample_entry(t: Track) -> bytes:
    if t.handler == VIDE:
        body = (
            b"\x00" * 6
            + struct.pack(">H", 1)
            + b"\x00" * 16
            + struct.pack(">HHII", t.width, t.height, 0x00480000, 0x00480000)
            + b"\x00" * 4
            + struct.pack(">H", 1)
            + b"\x00" * 32
            + struct.pack(">Hh", 0x18, -1)
        )
        return box(t.codec, body, box("avcC" if t.codec == "avc1" else "hvcC", t.config))
    body = (
        b"\x00" * 6
        + struct.pack(">H", 1)
        + b"\x00" * 8
        + struct.pack(">HHHHI", t.channels, 16, 0, 0, (t.sample_rate & 0xFFFF) << 16)
    )
    return box("mp4a", body, _esds(t))


def _trak(t: Track) -> bytes:
    video = t.handler == VIDE
    tkhd = full_box(
        "tkhd",
        0,
        3,
        struct.pack(">IIIII", 0, 0, t.track_id, 0, 0),
        b"\x00" * 8,
        struct.pack(">hhhH", 0, 0, 0 if video else 0x0100, 0),
        _MATRIX,
        struct.pack(">II", t.width << 16 if video else 0, t.height << 16 if video else 0),
    )
    mdhd = full_box("mdhd", 0, 0, struct.pack(">IIII", 0, 0, t.timescale, 0), struct.pack(">HH", 0x55C4, 0))
    name = b"VideoHandler\x00" if video else b"SoundHandler\x00"
    hdlr = full_box("hdlr", 0, 0, struct.pack(">I", 0), t.handler.encode(), b"\x00" * 12, name)
    media_header = full_box("vmhd", 0, 1, b"\x00" * 8) if video else full_box("smhd", 0, 0, b"\x00" * 4)
    dinf = box("dinf", full_box("dref", 0, 0, _U32.pack(1), full_box("url ", 0, 1)))
    stbl = box(
        "stbl",
        full_box("stsd", 0, 0, _U32.pack(1), _sample_entry(t)),
        full_box("stts", 0, 0, _U32.pack(0)),
        full_box("stsc", 0, 0, _U32.pack(0)),
        full_box("stsz", 0, 0, _U32.pack(0), _U32.pack(0)),
        full_box("stco", 0, 0, _U32.pack(0)),
    )
    return box("trak", tkhd, box("mdia", mdhd, hdlr, box("minf", media_header, dinf, stbl)))


def init_segment(tracks: Sequence[Track], brands: Sequence[str] = ("iso6", "mp41")) -> bytes:
    """``ftyp`` + ``moov`` (no samples; ``mvex`` announces fragments)."""
    ftyp = box("ftyp", b"iso5", _U32.pack(512), b"".join(b.encode() for b in ("iso5", *brands)))
    mvhd = full_box(
        "mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, 1000, 0),
        struct.pack(">IH", 0x00010000, 0x0100),
        b"\x00" * 10,
        _MATRIX,
        b"\x00" * 24,
        _U32.pack(max((t.track_id for t in tracks), default=0) + 1),
    )
    trex = b"".join(full_box("trex", 0, 0, struct.pack(">IIIII", t.track_id, 1, 0, 0, 0)) for t in tracks)
    return ftyp + box("moov", mvhd, *(_trak(t) for t in tracks), box("mvex", trex))


@dataclass(slots=True)
class Run:
    """One track's samples in a fragment, from ``base_time`` (its first sample's decode time)."""

    track_id: int
    base_time: int
    samples: list[Sample] = field(default_factory=list)


_TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800  # offset, duration, size, flags, cts


def fragment(sequence: int, runs: Sequence[Run]) -> bytes:
    """``moof`` + ``mdat`` with the runs' samples, one after the other in ``mdat``."""
    runs = [r for r in runs if r.samples]
    trafs: list[bytes] = []
    offsets: list[int] = []  # where each trun's data_offset field sits inside its traf
    for r in runs:
        tfhd = full_box("tfhd", 0, 0x020000, _U32.pack(r.track_id))  # default-base-is-moof
        tfdt = full_box("tfdt", 1, 0, struct.pack(">Q", r.base_time))
        entries = b"".join(
            struct.pack(
                ">IIIi", s.duration, len(s.data), SAMPLE_SYNC if s.keyframe else SAMPLE_NON_SYNC, s.cts
            )
            for s in r.samples
        )
        trun = full_box("trun", 1, _TRUN_FLAGS, struct.pack(">Ii", len(r.samples), 0), entries)
        offsets.append(8 + len(tfhd) + len(tfdt) + 16)  # traf header, tfhd, tfdt, trun header+count
        trafs.append(box("traf", tfhd, tfdt, trun))
    mfhd = full_box("mfhd", 0, 0, _U32.pack(sequence))
    moof_size = 8 + len(mfhd) + sum(len(t) for t in trafs)
    data_at = moof_size + 8  # first byte of mdat's payload, from the start of moof
    patched: list[bytes] = []
    for traf, at, r in zip(trafs, offsets, runs, strict=True):
        buf = bytearray(traf)
        struct.pack_into(">i", buf, at, data_at)
        data_at += sum(len(s.data) for s in r.samples)
        patched.append(bytes(buf))
    moof = box("moof", mfhd, *patched)
    return moof + box("mdat", *(s.data for r in runs for s in r.samples))


# ---------------------------------------------------------------------------------------- reader

_CONTAINERS = frozenset({"moov", "trak", "mdia", "minf", "stbl", "dinf", "mvex", "moof", "traf", "edts"})


@dataclass(frozen=True, slots=True)
class Box:
    kind: str
    start: int  # offset of the box header in the buffer
    body: memoryview
    children: tuple[Box, ...] = ()

    def find(self, kind: str) -> Box | None:
        return next((c for c in self.children if c.kind == kind), None)

    def find_all(self, kind: str) -> list[Box]:
        return [c for c in self.children if c.kind == kind]


def parse_boxes(data: bytes | memoryview, base: int = 0) -> list[Box]:
    """The boxes in ``data`` (container boxes with their children); a truncated last box is an error."""
    view = memoryview(data)
    out: list[Box] = []
    pos = 0
    while pos < len(view):
        if len(view) - pos < 8:
            raise ParseError(f"mp4: {len(view) - pos} stray bytes at {base + pos}")
        size = _U32.unpack_from(view, pos)[0]
        kind = bytes(view[pos + 4 : pos + 8]).decode("latin-1")
        header = 8
        if size == 1:
            if len(view) - pos < 16:
                raise ParseError("mp4: truncated largesize")
            size = struct.unpack_from(">Q", view, pos + 8)[0]
            header = 16
        elif size == 0:
            size = len(view) - pos
        if size < header or pos + size > len(view):
            raise ParseError(f"mp4: box {kind!r} of {size} bytes at {base + pos} overruns the data")
        body = view[pos + header : pos + size]
        children = tuple(parse_boxes(body, base + pos + header)) if kind in _CONTAINERS else ()
        out.append(Box(kind, base + pos, body, children))
        pos += size
    return out


def iter_boxes(boxes: Sequence[Box]) -> Iterator[Box]:
    for b in boxes:
        yield b
        yield from iter_boxes(b.children)


def _need(b: Box | None, what: str) -> Box:
    if b is None:
        raise ParseError(f"mp4: missing {what}")
    return b


def _read_track(trak: Box) -> Track:
    try:
        tkhd = _need(trak.find("tkhd"), "tkhd").body
        version = tkhd[0]
        track_id = _U32.unpack_from(tkhd, 20 if version == 1 else 12)[0]
        mdia = _need(trak.find("mdia"), "mdia")
        mdhd = _need(mdia.find("mdhd"), "mdhd").body
        timescale = _U32.unpack_from(mdhd, 20 if mdhd[0] == 1 else 12)[0]
        handler = bytes(_need(mdia.find("hdlr"), "hdlr").body[8:12]).decode("latin-1")
        minf = _need(mdia.find("minf"), "minf")
        stbl = _need(minf.find("stbl"), "stbl")
        stsd = _need(stbl.find("stsd"), "stsd").body
        entry = parse_boxes(stsd[8:])[0]
        e = entry.body
        if handler == VIDE:
            width, height = struct.unpack_from(">HH", e, 24)
            inner = parse_boxes(e[78:])
            cfg = next((b for b in inner if b.kind in ("avcC", "hvcC")), None)
            return Track(
                track_id, handler, timescale, entry.kind, bytes(cfg.body) if cfg else b"", width, height
            )
        channels = struct.unpack_from(">H", e, 16)[0]
        rate = struct.unpack_from(">I", e, 24)[0] >> 16
        esds = next((b for b in parse_boxes(e[28:]) if b.kind == "esds"), None)
        object_type, dsi = _read_esds(bytes(esds.body[4:])) if esds else (0, b"")
        return Track(
            track_id,
            handler,
            timescale,
            entry.kind,
            dsi,
            channels=channels,
            sample_rate=rate,
            object_type=object_type,
        )
    except (struct.error, IndexError) as e:
        raise ParseError(f"mp4: bad track: {e}") from None


def _read_descriptor(data: bytes, pos: int) -> tuple[int, bytes, int]:
    tag = data[pos]
    pos += 1
    size = 0
    for _ in range(4):
        b = data[pos]
        pos += 1
        size = size << 7 | b & 0x7F
        if not b & 0x80:
            break
    if pos + size > len(data):
        raise ParseError("mp4: descriptor overruns esds")
    return tag, data[pos : pos + size], pos + size


def _read_esds(data: bytes) -> tuple[int, bytes]:
    tag, es, _ = _read_descriptor(data, 0)
    if tag != 3 or len(es) < 3:
        raise ParseError("mp4: esds without ES_Descriptor")
    flags = es[2]
    pos = 3 + (2 if flags & 0x80 else 0)
    if flags & 0x40:
        pos += 1 + es[pos]
    if flags & 0x20:
        pos += 2
    tag, dec, _ = _read_descriptor(es, pos)
    if tag != 4 or len(dec) < 13:
        raise ParseError("mp4: esds without DecoderConfigDescriptor")
    dsi = b""
    if len(dec) > 13:
        tag, dsi, _ = _read_descriptor(dec, 13)
        if tag != 5:
            dsi = b""
    return dec[0], dsi


def read_init(data: bytes) -> list[Track]:
    """The tracks of an init segment (or of any file with a ``moov``)."""
    moov = next((b for b in parse_boxes(data) if b.kind == "moov"), None)
    return [_read_track(t) for t in _need(moov, "moov").find_all("trak")]


@dataclass(frozen=True, slots=True)
class ReadSample:
    track_id: int
    dts: int
    duration: int
    cts: int
    keyframe: bool
    data: bytes


def read_fragments(data: bytes) -> list[ReadSample]:
    """Every sample of every ``moof`` in ``data`` (an init segment before them is skipped)."""
    out: list[ReadSample] = []
    try:
        for moof in parse_boxes(data):
            if moof.kind != "moof":
                continue
            for traf in moof.find_all("traf"):
                tfhd = _need(traf.find("tfhd"), "tfhd").body
                flags = _U32.unpack_from(tfhd, 0)[0] & 0xFFFFFF
                track_id = _U32.unpack_from(tfhd, 4)[0]
                base = moof.start
                pos = 8
                if flags & 0x000001:
                    base = struct.unpack_from(">Q", tfhd, pos)[0]
                    pos += 8
                pos += 4 if flags & 0x000002 else 0
                default_duration = default_size = default_flags = 0
                if flags & 0x000008:
                    default_duration = _U32.unpack_from(tfhd, pos)[0]
                    pos += 4
                if flags & 0x000010:
                    default_size = _U32.unpack_from(tfhd, pos)[0]
                    pos += 4
                if flags & 0x000020:
                    default_flags = _U32.unpack_from(tfhd, pos)[0]
                tfdt = traf.find("tfdt")
                t = 0
                if tfdt is not None:
                    t = struct.unpack_from(">Q" if tfdt.body[0] == 1 else ">I", tfdt.body, 4)[0]
                for trun in traf.find_all("trun"):
                    b = trun.body
                    tflags = _U32.unpack_from(b, 0)[0] & 0xFFFFFF
                    count = _U32.unpack_from(b, 4)[0]
                    p = 8
                    offset = 0
                    if tflags & 0x1:
                        offset = struct.unpack_from(">i", b, p)[0]
                        p += 4
                    first_flags = None
                    if tflags & 0x4:
                        first_flags = _U32.unpack_from(b, p)[0]
                        p += 4
                    at = base + offset
                    if count > len(b):
                        raise ParseError("mp4: trun sample count overruns the box")
                    for i in range(count):
                        dur, size, sflags, cts = default_duration, default_size, default_flags, 0
                        if tflags & 0x100:
                            dur = _U32.unpack_from(b, p)[0]
                            p += 4
                        if tflags & 0x200:
                            size = _U32.unpack_from(b, p)[0]
                            p += 4
                        if tflags & 0x400:
                            sflags = _U32.unpack_from(b, p)[0]
                            p += 4
                        elif i == 0 and first_flags is not None:
                            sflags = first_flags
                        if tflags & 0x800:
                            cts = struct.unpack_from(">i" if b[0] else ">I", b, p)[0]
                            p += 4
                        if at < 0 or at + size > len(data):
                            raise ParseError("mp4: sample data outside the file")
                        key = not sflags & 0x00010000
                        out.append(ReadSample(track_id, t, dur, cts, key, bytes(data[at : at + size])))
                        at += size
                        t += dur
    except (struct.error, IndexError) as e:
        raise ParseError(f"mp4: bad fragment: {e}") from None
    return out


def codec_string(t: Track) -> str:
    """The RFC 6381 ``codecs`` value of a track (DASH's Representation, HLS's CODECS)."""
    c = t.config
    if t.codec == "avc1" and len(c) >= 4:
        return f"avc1.{c[1]:02x}{c[2]:02x}{c[3]:02x}"
    if t.codec == "hvc1" and len(c) >= 13:
        space = ("", "A", "B", "C")[c[1] >> 6]
        tier = "H" if c[1] & 0x20 else "L"
        compat = int(f"{int.from_bytes(c[2:6], 'big'):032b}"[::-1], 2)
        constraints = bytes(c[6:12]).rstrip(b"\x00")
        parts = [f"hvc1.{space}{c[1] & 0x1F}", f"{compat:X}", f"{tier}{c[12]}"]
        parts += [f"{b:X}" for b in constraints]
        return ".".join(parts)
    if t.codec == "mp4a":
        if t.object_type == 0x40 and c:
            return f"mp4a.40.{c[0] >> 3}"
        return f"mp4a.{t.object_type:X}"
    return t.codec
