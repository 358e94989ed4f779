"""AMF0/AMF3 case table: (name, bytes, value). Drives decode, encode and the fuzz seeds."""

from __future__ import annotations

import struct
from typing import Any

from srs.format.amf0 import UNDEFINED, AmfDate, EcmaArray, TypedObject, XmlDocument


def s16(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def num(v: float) -> bytes:
    return b"\x00" + struct.pack(">d", v)


END = b"\x00\x00\x09"

# Canonical AMF0: decode gives the value, encode gives the bytes back.
AMF0_CASES: list[tuple[str, bytes, Any]] = [
    ("number", num(1.5), 1.5),
    ("number-zero", num(0.0), 0.0),
    ("number-negative", num(-3.0), -3.0),
    ("true", b"\x01\x01", True),
    ("false", b"\x01\x00", False),
    ("string", b"\x02" + s16("connect"), "connect"),
    ("string-empty", b"\x02\x00\x00", ""),
    ("string-utf8", b"\x02" + s16("h\u00e9llo \u4e16\u754c"), "h\u00e9llo \u4e16\u754c"),
    ("long-string", b"\x0c" + struct.pack(">I", 70000) + b"x" * 70000, "x" * 70000),
    ("null", b"\x05", None),
    ("undefined", b"\x06", UNDEFINED),
    (
        "object",
        b"\x03" + s16("app") + b"\x02" + s16("live") + s16("capabilities") + num(239.0) + END,
        {"app": "live", "capabilities": 239.0},
    ),
    ("object-empty", b"\x03" + END, {}),
    (
        "object-nested",
        b"\x03" + s16("data") + b"\x03" + s16("k") + b"\x01\x01" + END + END,
        {"data": {"k": True}},
    ),
    (
        "ecma-array",
        b"\x08" + struct.pack(">I", 2) + s16("width") + num(768.0) + s16("height") + num(320.0) + END,
        EcmaArray(width=768.0, height=320.0),
    ),
    ("ecma-array-empty", b"\x08" + struct.pack(">I", 0) + END, EcmaArray()),
    (
        "strict-array",
        b"\x0a" + struct.pack(">I", 3) + num(1.0) + b"\x02" + s16("a") + b"\x05",
        [1.0, "a", None],
    ),
    ("date", b"\x0b" + struct.pack(">dh", 1700000000000.0, 0), AmfDate(1700000000000.0, 0)),
    ("xml-document", b"\x0f" + struct.pack(">I", 8) + b"<a>b</a>", XmlDocument("<a>b</a>")),
    (
        "typed-object",
        b"\x10" + s16("flash.Point") + s16("x") + num(1.0) + END,
        TypedObject("flash.Point", x=1.0),
    ),
]

# Decodes to the value but is not what we would encode (tolerance cases).
AMF0_DECODE_ONLY: list[tuple[str, bytes, Any]] = [
    # SRS compat: an ECMA array's count is only a hint; some encoders get it wrong
    (
        "ecma-array-wrong-count",
        b"\x08" + struct.pack(">I", 9) + s16("a") + num(1.0) + END,
        EcmaArray(a=1.0),
    ),
    # ...and some end it with the message instead of an object-end marker
    ("ecma-array-no-end", b"\x08" + struct.pack(">I", 1) + s16("a") + num(1.0), EcmaArray(a=1.0)),
    ("boolean-nonzero", b"\x01\x07", True),
    # references point at earlier complex values
    (
        "reference",
        b"\x0a" + struct.pack(">I", 2) + b"\x03" + s16("k") + num(1.0) + END + b"\x07\x00\x01",
        [{"k": 1.0}, {"k": 1.0}],
    ),
    # AMF3 inside AMF0 (the AVM+ marker): an anonymous dynamic object {foo: "bar"}
    (
        "avmplus-object",
        bytes([0x11, 0x0A, 0x0B, 0x01, 0x07]) + b"foo" + bytes([0x06, 0x07]) + b"bar" + b"\x01",
        {"foo": "bar"},
    ),
]

AMF0_ERRORS: list[tuple[str, bytes]] = [
    ("empty-number", b"\x00\x00\x00"),
    ("truncated-string", b"\x02\x00\x10abc"),
    ("truncated-long-string", b"\x0c\xff\xff\xff\xffabc"),
    ("unknown-marker", b"\x0d"),
    ("movieclip", b"\x04"),
    ("recordset", b"\x0e"),
    ("bare-object-end", b"\x09"),
    ("object-no-end", b"\x03" + s16("k") + num(1.0)),
    ("strict-array-huge-count", b"\x0a\xff\xff\xff\xff\x05"),
    ("bad-reference", b"\x07\x00\x05"),
    ("deep-nesting", b"\x0a\x00\x00\x00\x01" * 200 + b"\x05"),
    ("truncated-date", b"\x0b\x00\x00"),
]

# AMF3 values (decoded by srs.format.amf3): (name, bytes, value)
AMF3_CASES: list[tuple[str, bytes, Any]] = [
    ("undefined", b"\x00", UNDEFINED),
    ("null", b"\x01", None),
    ("false", b"\x02", False),
    ("true", b"\x03", True),
    ("int-small", b"\x04\x05", 5.0),
    ("int-two-bytes", b"\x04\x81\x00", 128.0),
    ("int-negative", b"\x04\xff\xff\xff\xff", -1.0),
    ("int-max", b"\x04\xbf\xff\xff\xff", float((1 << 28) - 1)),
    ("double", b"\x05" + struct.pack(">d", 2.5), 2.5),
    ("string", b"\x06\x0bhello", "hello"),
    ("string-empty", b"\x06\x01", ""),
    ("date", b"\x08\x01" + struct.pack(">d", 1000.0), AmfDate(1000.0)),
    ("dense-array", b"\x09\x05\x01\x04\x01\x04\x02", [1.0, 2.0]),
    ("assoc-array", b"\x09\x01\x03k\x04\x07\x01", EcmaArray(k=7.0)),
    ("bytearray", b"\x0c\x07abc", b"abc"),
    (
        "sealed-object",
        # traits inline, not externalizable, not dynamic, 2 sealed members: U29O-traits = 0b10011 = 0x23
        b"\x0a\x23\x01\x03x\x03y\x04\x01\x04\x02",
        {"x": 1.0, "y": 2.0},
    ),
    ("string-reference", b"\x09\x05\x01\x06\x05ab\x06\x00", ["ab", "ab"]),
    ("vector-int", b"\x0d\x05\x00" + struct.pack(">ii", -1, 7), [-1.0, 7.0]),
    ("vector-double", b"\x0f\x03\x00" + struct.pack(">d", 1.25), [1.25]),
    ("dictionary", b"\x11\x03\x00\x06\x03k\x04\x09", {"k": 9.0}),
]

AMF3_ERRORS: list[tuple[str, bytes]] = [
    ("truncated-double", b"\x05\x00\x00"),
    ("bad-string-ref", b"\x06\x08"),
    ("bad-object-ref", b"\x0a\x04"),
    ("bad-traits-ref", b"\x0a\x05"),
    ("externalizable", b"\x0a\x07\x01"),
    ("unknown-marker", b"\x13"),
    ("array-huge-count", b"\x09\xff\xff\xff\x7f\x01"),
    ("vector-longer-than-data", b"\x0d\x7f\x00"),
]
