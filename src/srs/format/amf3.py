"""AMF3 decoding (Adobe "AMF 3 Specification", 2013), enough to tolerate AMF3 data messages.

RTMP peers may send data (type 15) and commands (type 17) whose values are AMF3, or AMF0 values
switched to AMF3 with the AVM+ marker. We decode them into the same Python values as AMF0
(``dict`` for objects, ``list`` for dense arrays, ``EcmaArray`` when an array has associative
keys), so metadata from such publishers is understood. We never send AMF3.
"""

from __future__ import annotations

import struct
from typing import Any

from srs.format.amf0 import MAX_DEPTH, UNDEFINED, AmfDate, EcmaArray, XmlDocument
from srs.util.errors import ErrorCode, ParseError

_F64 = struct.Struct(">d")


def _err(msg: str) -> ParseError:
    return ParseError(f"amf3: {msg}", ErrorCode.RTMP_AMF0_DECODE)


class _Traits:
    __slots__ = ("dynamic", "externalizable", "names")

    def __init__(self, names: list[str], dynamic: bool, externalizable: bool) -> None:
        self.names = names
        self.dynamic = dynamic
        self.externalizable = externalizable


class _Decoder:
    __slots__ = ("data", "end", "objects", "pos", "strings", "traits")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end
        self.strings: list[str] = []
        self.objects: list[Any] = []
        self.traits: list[_Traits] = []

    def need(self, n: int) -> int:
        p = self.pos
        if n < 0 or p + n > self.end:
            raise _err(f"truncated at offset {p}")
        self.pos = p + n
        return p

    def u8(self) -> int:
        return self.data[self.need(1)]

    def u29(self) -> int:
        """Variable-length 29-bit unsigned integer (AMF3 1.3.1)."""
        v = 0
        for i in range(4):
            b = self.u8()
            if i == 3:
                return (v << 8) | b
            v = (v << 7) | (b & 0x7F)
            if not b & 0x80:
                return v
        return v  # pragma: no cover - loop always returns

    def string(self) -> str:
        ref = self.u29()
        if not ref & 1:
            idx = ref >> 1
            if idx >= len(self.strings):
                raise _err(f"string reference {idx} out of range")
            return self.strings[idx]
        n = ref >> 1
        p = self.need(n)
        s = self.data[p : p + n].decode("utf-8", "surrogateescape")
        if s:  # the empty string is never sent by reference
            self.strings.append(s)
        return s

    def object_ref(self, ref: int) -> Any:
        idx = ref >> 1
        if idx >= len(self.objects):
            raise _err(f"object reference {idx} out of range")
        return self.objects[idx]

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _err("nesting too deep")
        m = self.u8()
        if m == 0x00:
            return UNDEFINED
        if m == 0x01:
            return None
        if m == 0x02:
            return False
        if m == 0x03:
            return True
        if m == 0x04:
            v = self.u29()
            return float(v - (1 << 29) if v & (1 << 28) else v)
        if m == 0x05:
            return float(_F64.unpack_from(self.data, self.need(8))[0])
        if m == 0x06:
            return self.string()
        if m in (0x07, 0x0B):  # XMLDocument / XML
            ref = self.u29()
            if not ref & 1:
                return self.object_ref(ref)
            n = ref >> 1
            p = self.need(n)
            xml = XmlDocument(self.data[p : p + n].decode("utf-8", "surrogateescape"))
            self.objects.append(xml)
            return xml
        if m == 0x08:  # date
            ref = self.u29()
            if not ref & 1:
                return self.object_ref(ref)
            date = AmfDate(float(_F64.unpack_from(self.data, self.need(8))[0]))
            self.objects.append(date)
            return date
        if m == 0x09:
            return self.array(depth)
        if m == 0x0A:
            return self.obj(depth)
        if m == 0x0C:  # ByteArray
            ref = self.u29()
            if not ref & 1:
                return self.object_ref(ref)
            n = ref >> 1
            p = self.need(n)
            raw = self.data[p : p + n]
            self.objects.append(raw)
            return raw
        if m in (0x0D, 0x0E, 0x0F):  # vectors of int / uint / double
            ref = self.u29()
            if not ref & 1:
                return self.object_ref(ref)
            count = ref >> 1
            self.u8()  # fixed-length flag
            size = 8 if m == 0x0F else 4
            if count * size > self.end - self.pos:
                raise _err("vector longer than the data")
            fmt = {0x0D: ">i", 0x0E: ">I", 0x0F: ">d"}[m]
            vec = [
                float(x) for (x,) in struct.iter_unpack(fmt, self.data[self.need(count * size) : self.pos])
            ]
            self.objects.append(vec)
            return vec
        if m == 0x10:  # vector of objects
            ref = self.u29()
            if not ref & 1:
                return self.object_ref(ref)
            count = ref >> 1
            if count > self.end - self.pos:
                raise _err("vector longer than the data")
            self.u8()
            self.string()  # object type name
            items: list[Any] = []
            self.objects.append(items)
            for _ in range(count):
                items.append(self.value(depth + 1))
            return items
        if m == 0x11:  # dictionary
            ref = self.u29()
            if not ref & 1:
                return self.object_ref(ref)
            count = ref >> 1
            if count > self.end - self.pos:
                raise _err("dictionary longer than the data")
            self.u8()  # weak keys flag
            d: dict[str, Any] = {}
            self.objects.append(d)
            for _ in range(count):
                k = self.value(depth + 1)
                d[str(k)] = self.value(depth + 1)
            return d
        raise _err(f"unsupported marker 0x{m:02x}")

    def array(self, depth: int) -> Any:
        ref = self.u29()
        if not ref & 1:
            return self.object_ref(ref)
        count = ref >> 1
        if count > self.end - self.pos:
            raise _err("array count exceeds the data")
        assoc = EcmaArray()
        dense: list[Any] = []
        self.objects.append(dense)
        slot = len(self.objects) - 1
        while True:
            key = self.string()
            if key == "":
                break
            assoc[key] = self.value(depth + 1)
        for _ in range(count):
            dense.append(self.value(depth + 1))
        if assoc:
            for i, item in enumerate(dense):
                assoc[str(i)] = item
            self.objects[slot] = assoc
            return assoc
        return dense

    def obj(self, depth: int) -> Any:
        ref = self.u29()
        if not ref & 1:
            return self.object_ref(ref)
        if not ref & 2:
            idx = ref >> 2
            if idx >= len(self.traits):
                raise _err(f"traits reference {idx} out of range")
            traits = self.traits[idx]
        else:
            externalizable = bool(ref & 4)
            dynamic = bool(ref & 8)
            count = ref >> 4
            if count > self.end - self.pos:
                raise _err("traits count exceeds the data")
            self.string()  # class name
            names = [self.string() for _ in range(count)]
            traits = _Traits(names, dynamic, externalizable)
            self.traits.append(traits)
        if traits.externalizable:
            raise _err("externalizable objects are not supported")
        out: dict[str, Any] = {}
        self.objects.append(out)
        for name in traits.names:
            out[name] = self.value(depth + 1)
        if traits.dynamic:
            while True:
                key = self.string()
                if key == "":
                    break
                out[key] = self.value(depth + 1)
        return out


def decode_value(data: bytes, pos: int = 0, end: int | None = None) -> tuple[Any, int]:
    """Decode one AMF3 value at ``pos``; return it and the offset after it."""
    dec = _Decoder(data, pos, len(data) if end is None else end)
    return dec.value(0), dec.pos


def decode_all(data: bytes) -> list[Any]:
    """Decode consecutive AMF3 values sharing one set of reference tables."""
    dec = _Decoder(data, 0, len(data))
    out: list[Any] = []
    while dec.pos < dec.end:
        out.append(dec.value(0))
    return out
