"""Bounds-checked reading of binary data.

Parsers use :class:`ByteReader` so that truncated or hostile input raises :class:`ParseError` and
never ``IndexError`` or ``struct.error``.
"""

from __future__ import annotations

import struct

from srs.util.errors import ParseError

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_F64 = struct.Struct(">d")
_I16 = struct.Struct(">h")


class ByteReader:
    """A cursor over an immutable byte string."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes | bytearray | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.data = bytes(data) if not isinstance(data, bytes) else data
        self.pos = pos
        self.end = len(self.data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def eof(self) -> bool:
        return self.pos >= self.end

    def _need(self, n: int) -> int:
        if n < 0 or self.pos + n > self.end:
            raise ParseError(f"truncated: need {n} bytes at offset {self.pos}, have {self.end - self.pos}")
        p = self.pos
        self.pos = p + n
        return p

    def read(self, n: int) -> bytes:
        p = self._need(n)
        return self.data[p : p + n]

    def skip(self, n: int) -> None:
        self._need(n)

    def rest(self) -> bytes:
        p = self.pos
        self.pos = self.end
        return self.data[p : self.end]

    def peek_u8(self) -> int:
        if self.pos >= self.end:
            raise ParseError(f"truncated: need 1 byte at offset {self.pos}")
        return self.data[self.pos]

    def u8(self) -> int:
        return self.data[self._need(1)]

    def u16(self) -> int:
        return int(_U16.unpack_from(self.data, self._need(2))[0])

    def i16(self) -> int:
        return int(_I16.unpack_from(self.data, self._need(2))[0])

    def u24(self) -> int:
        p = self._need(3)
        d = self.data
        return (d[p] << 16) | (d[p + 1] << 8) | d[p + 2]

    def i24(self) -> int:
        v = self.u24()
        return v - 0x1000000 if v & 0x800000 else v

    def u32(self) -> int:
        return int(_U32.unpack_from(self.data, self._need(4))[0])

    def u32le(self) -> int:
        return int.from_bytes(self.data[self._need(4) : self.pos], "little")

    def f64(self) -> float:
        return float(_F64.unpack_from(self.data, self._need(8))[0])


class BitReader:
    """MSB-first bit reader with Exp-Golomb helpers (H.264/H.265 RBSP, AAC ASC)."""

    __slots__ = ("_bit", "_data", "_nbits")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._bit = 0
        self._nbits = len(data) * 8

    @property
    def bits_left(self) -> int:
        return self._nbits - self._bit

    def u(self, n: int) -> int:
        """Read ``n`` bits as an unsigned integer."""
        if n < 0 or self._bit + n > self._nbits:
            raise ParseError(f"truncated bitstream: need {n} bits, have {self._nbits - self._bit}")
        v = 0
        data = self._data
        bit = self._bit
        for _ in range(n):
            v = (v << 1) | ((data[bit >> 3] >> (7 - (bit & 7))) & 1)
            bit += 1
        self._bit = bit
        return v

    def flag(self) -> bool:
        return self.u(1) == 1

    def skip(self, n: int) -> None:
        if n < 0 or self._bit + n > self._nbits:
            raise ParseError("truncated bitstream")
        self._bit += n

    def ue(self) -> int:
        """Unsigned Exp-Golomb (ITU-T H.264 9.1)."""
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ParseError("exp-golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        """Signed Exp-Golomb (ITU-T H.264 9.1.1)."""
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)
