"""AMF0 (Adobe "Action Message Format -- AMF 0", 2007) with AMF3 values tolerated.

Python mapping (decode -> encode round-trips byte for byte for canonical input):

========================  ==========================================
AMF0                      Python
========================  ==========================================
number (0x00)             ``float``  (``int`` is accepted on encode)
boolean (0x01)            ``bool``
string / long string      ``str`` (long string chosen when > 65535 bytes)
object (0x03)             ``dict[str, Any]``
null (0x05)               ``None``
undefined (0x06)          :data:`UNDEFINED`
ECMA array (0x08)         :class:`EcmaArray` (a ``dict``)
strict array (0x0A)       ``list``
date (0x0B)               :class:`AmfDate`
XML document (0x0F)       :class:`XmlDocument` (a ``str``)
typed object (0x10)       :class:`TypedObject` (a ``dict`` with ``class_name``)
AVM+ (0x11)               the AMF3 value, decoded by :mod:`srs.format.amf3`
========================  ==========================================

Strings use UTF-8 with ``surrogateescape`` so that any byte string round-trips. Only
:class:`~srs.util.errors.ParseError` escapes from decoding, whatever the input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from srs.util.errors import ErrorCode, ParseError

MAX_DEPTH = 64  # nesting guard: hostile input must not exhaust the C stack


class Marker(IntEnum):
    NUMBER = 0x00
    BOOLEAN = 0x01
    STRING = 0x02
    OBJECT = 0x03
    MOVIECLIP = 0x04
    NULL = 0x05
    UNDEFINED = 0x06
    REFERENCE = 0x07
    ECMA_ARRAY = 0x08
    OBJECT_END = 0x09
    STRICT_ARRAY = 0x0A
    DATE = 0x0B
    LONG_STRING = 0x0C
    UNSUPPORTED = 0x0D
    RECORDSET = 0x0E
    XML_DOCUMENT = 0x0F
    TYPED_OBJECT = 0x10
    AVMPLUS = 0x11


class _Undefined:
    """The AMF ``undefined`` value (distinct from ``null`` / ``None``)."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()


class EcmaArray(dict[str, Any]):
    """An associative array (marker 0x08); ``onMetaData`` is usually one."""

    def __repr__(self) -> str:
        return f"EcmaArray({dict.__repr__(self)})"


class TypedObject(dict[str, Any]):
    """A typed object (marker 0x10): an object with a class name."""

    def __init__(self, class_name: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.class_name = class_name

    def __repr__(self) -> str:
        return f"TypedObject({self.class_name!r}, {dict.__repr__(self)})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TypedObject):
            return self.class_name == other.class_name and dict.__eq__(self, other)
        return dict.__eq__(self, other)

    __hash__ = None


class XmlDocument(str):
    """An XML document (marker 0x0F), kept as text."""


@dataclass(frozen=True, slots=True)
class AmfDate:
    """AMF0 date: milliseconds since the epoch (UTC) plus a reserved time-zone field."""

    ms: float
    tz: int = 0


_F64 = struct.Struct(">d")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_DATE = struct.Struct(">dh")


def _err(msg: str) -> ParseError:
    return ParseError(f"amf0: {msg}", ErrorCode.RTMP_AMF0_DECODE)


class _Decoder:
    __slots__ = ("data", "end", "pos", "refs")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end
        self.refs: list[Any] = []

    def need(self, n: int) -> int:
        p = self.pos
        if p + n > self.end:
            raise _err(f"truncated at offset {p}: need {n} bytes, have {self.end - p}")
        self.pos = p + n
        return p

    def u8(self) -> int:
        return self.data[self.need(1)]

    def u16(self) -> int:
        return int(_U16.unpack_from(self.data, self.need(2))[0])

    def u32(self) -> int:
        return int(_U32.unpack_from(self.data, self.need(4))[0])

    def utf8(self, n: int) -> str:
        p = self.need(n)
        return self.data[p : p + n].decode("utf-8", "surrogateescape")

    def key(self) -> str:
        return self.utf8(self.u16())

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _err("nesting too deep")
        marker = self.u8()
        if marker == Marker.NUMBER:
            return float(_F64.unpack_from(self.data, self.need(8))[0])
        if marker == Marker.BOOLEAN:
            return self.u8() != 0
        if marker == Marker.STRING:
            return self.utf8(self.u16())
        if marker == Marker.OBJECT:
            obj: dict[str, Any] = {}
            self.refs.append(obj)
            self.properties(obj, depth)
            return obj
        if marker == Marker.NULL:
            return None
        if marker == Marker.UNDEFINED:
            return UNDEFINED
        if marker == Marker.REFERENCE:
            idx = self.u16()
            if idx >= len(self.refs):
                raise _err(f"reference {idx} out of range")
            return self.refs[idx]
        if marker == Marker.ECMA_ARRAY:
            self.u32()  # count is only a hint; read up to the object-end marker (SRS compat)
            arr = EcmaArray()
            self.refs.append(arr)
            self.properties(arr, depth, eof_ok=True)
            return arr
        if marker == Marker.STRICT_ARRAY:
            count = self.u32()
            if count > self.end - self.pos:  # every value takes at least one byte
                raise _err(f"strict array count {count} exceeds the data")
            items: list[Any] = []
            self.refs.append(items)
            for _ in range(count):
                items.append(self.value(depth + 1))
            return items
        if marker == Marker.DATE:
            ms, tz = _DATE.unpack_from(self.data, self.need(10))
            return AmfDate(float(ms), int(tz))
        if marker == Marker.LONG_STRING:
            return self.utf8(self.u32())
        if marker == Marker.XML_DOCUMENT:
            return XmlDocument(self.utf8(self.u32()))
        if marker == Marker.TYPED_OBJECT:
            typed = TypedObject(self.key())
            self.refs.append(typed)
            self.properties(typed, depth)
            return typed
        if marker == Marker.AVMPLUS:
            from srs.format import amf3

            value, self.pos = amf3.decode_value(self.data, self.pos, self.end)
            return value
        if marker == Marker.OBJECT_END:
            raise _err("unexpected object-end marker")
        raise _err(f"unsupported marker 0x{marker:02x}")

    def properties(self, obj: dict[str, Any], depth: int, eof_ok: bool = False) -> None:
        while True:
            if eof_ok and self.pos >= self.end:
                return  # some encoders end an ECMA array at the end of the message
            if self.pos + 3 <= self.end and self.data[self.pos : self.pos + 3] == b"\x00\x00\x09":
                self.pos += 3
                return
            name = self.key()
            if eof_ok and self.pos >= self.end:
                return
            obj[name] = self.value(depth + 1)


def decode(data: bytes, offset: int = 0) -> tuple[Any, int]:
    """Decode one value at ``offset``; return it and the offset just after it."""
    dec = _Decoder(data, offset, len(data))
    return dec.value(0), dec.pos


def decode_all(data: bytes) -> list[Any]:
    """Decode every value in ``data`` (a command or data message body)."""
    dec = _Decoder(data, 0, len(data))
    values: list[Any] = []
    while dec.pos < dec.end:
        values.append(dec.value(0))
    return values


# --------------------------------------------------------------------------- encoding


def _enc_utf8(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _encode_key(out: bytearray, key: str) -> None:
    raw = _enc_utf8(key)
    if len(raw) > 0xFFFF:
        raise ParseError("amf0: property name longer than 65535 bytes", ErrorCode.RTMP_AMF0_ENCODE)
    out += _U16.pack(len(raw))
    out += raw


def _encode_props(out: bytearray, obj: dict[str, Any], depth: int) -> None:
    for k, v in obj.items():
        _encode_key(out, str(k))
        _encode(out, v, depth + 1)
    out += b"\x00\x00\x09"


def _encode(out: bytearray, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ParseError("amf0: nesting too deep to encode", ErrorCode.RTMP_AMF0_ENCODE)
    if value is None:
        out.append(Marker.NULL)
    elif value is UNDEFINED:
        out.append(Marker.UNDEFINED)
    elif isinstance(value, bool):
        out.append(Marker.BOOLEAN)
        out.append(1 if value else 0)
    elif isinstance(value, int | float):
        out.append(Marker.NUMBER)
        out += _F64.pack(float(value))
    elif isinstance(value, XmlDocument):
        raw = _enc_utf8(value)
        out.append(Marker.XML_DOCUMENT)
        out += _U32.pack(len(raw))
        out += raw
    elif isinstance(value, str):
        raw = _enc_utf8(value)
        if len(raw) > 0xFFFF:
            out.append(Marker.LONG_STRING)
            out += _U32.pack(len(raw))
        else:
            out.append(Marker.STRING)
            out += _U16.pack(len(raw))
        out += raw
    elif isinstance(value, AmfDate):
        out.append(Marker.DATE)
        out += _DATE.pack(value.ms, value.tz)
    elif isinstance(value, EcmaArray):
        out.append(Marker.ECMA_ARRAY)
        out += _U32.pack(len(value))
        _encode_props(out, value, depth)
    elif isinstance(value, TypedObject):
        out.append(Marker.TYPED_OBJECT)
        _encode_key(out, value.class_name)
        _encode_props(out, value, depth)
    elif isinstance(value, dict):
        out.append(Marker.OBJECT)
        _encode_props(out, value, depth)
    elif isinstance(value, list | tuple):
        out.append(Marker.STRICT_ARRAY)
        out += _U32.pack(len(value))
        for item in value:
            _encode(out, item, depth + 1)
    else:
        raise ParseError(f"amf0: cannot encode {type(value).__name__}", ErrorCode.RTMP_AMF0_ENCODE)


def encode(*values: Any) -> bytes:
    """Encode values one after another (e.g. ``encode("_result", 1.0, props, info)``)."""
    out = bytearray()
    for v in values:
        _encode(out, v, 0)
    return bytes(out)
