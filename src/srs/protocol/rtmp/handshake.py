"""The RTMP handshake, server and client side (sans-IO).

Simple handshake (Adobe RTMP specification 1.0, section 5.2): C0/S0 is the version byte 3, C1/S1
are 1536 bytes (time, zero, random), C2/S2 echo the peer's C1/S1.

Complex ("digest") handshake, used by Flash, FFmpeg and librtmp and required by some of them: C1/S1
carry a 764-byte key block and a 764-byte digest block after time and version; schema 0 puts the
key first, schema 1 the digest first. The digest block starts with 4 offset bytes; the 32-byte
digest sits at ``block + 4 + sum(offset bytes) % 728`` and is the HMAC-SHA256 of the other 1504
bytes, keyed with the first 30 bytes of the "Genuine Adobe Flash Player 001" key (C1) or the first
36 bytes of the "Genuine Adobe Flash Media Server 001" key (S1). S2's last 32 bytes are
HMAC(HMAC(full FMS key, C1 digest), first 1504 bytes of S2); C2 likewise with the full player key
and the S1 digest. (As implemented by SRS ``srs_protocol_rtmp_handshake.cpp`` and FFmpeg
``rtmpproto.c``.)

The server tries schema 0, then schema 1, and falls back to the simple handshake when neither
digest validates. C2 is never validated (FFmpeg's does not validate; SRS does not check it either).
An RTMP proxy may put ``0xF3, length (2 bytes), payload`` before C0, the payload starting with the
real client IPv4 (SRS / go-oryx RtmpProxy).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable

from srs.util.errors import ErrorCode, LocalProtocolError, ProtocolError

RandomBytes = Callable[[int], bytes]

RTMP_VERSION = 3
HANDSHAKE_SIZE = 1536
PROXY_MARKER = 0xF3
MAX_PROXY_PAYLOAD = 1024

SCHEMA0 = 0  # key block, then digest block
SCHEMA1 = 1  # digest block, then key block

# "Genuine Adobe Flash Media Server 001" + 32 bytes: signs server packets (S1 with 36 bytes, S2 with all).
FMS_KEY = b"Genuine Adobe Flash Media Server 001" + bytes.fromhex(
    "f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae"
)
# "Genuine Adobe Flash Player 001" + the same 32 bytes: signs client packets (C1 with 30 bytes, C2 with all).
FP_KEY = b"Genuine Adobe Flash Player 001" + bytes.fromhex(
    "f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae"
)
FMS_KEY_OPEN = FMS_KEY[:36]
FP_KEY_OPEN = FP_KEY[:30]

SERVER_VERSION = 0x01000504  # what SRS puts in S1
CLIENT_VERSION = 0x80000702  # what SRS puts in C1

_U32 = struct.Struct(">I")
_DIGEST_BLOCKS = {SCHEMA0: 8 + 764, SCHEMA1: 8}


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def digest_position(c1s1: bytes | bytearray, schema: int) -> int:
    """Where the 32-byte digest sits in a 1536-byte C1/S1 of ``schema``."""
    block = _DIGEST_BLOCKS[schema]
    return block + 4 + sum(c1s1[block : block + 4]) % 728


def _joined(c1s1: bytes | bytearray, pos: int) -> bytes:
    return bytes(c1s1[:pos]) + bytes(c1s1[pos + 32 :])


def validate_digest(c1s1: bytes, key: bytes) -> int | None:
    """The schema (0 first, then 1, as SRS) whose digest validates with ``key``, else None."""
    if len(c1s1) != HANDSHAKE_SIZE:
        return None
    for schema in (SCHEMA0, SCHEMA1):
        pos = digest_position(c1s1, schema)
        if hmac.compare_digest(_hmac(key, _joined(c1s1, pos)), c1s1[pos : pos + 32]):
            return schema
    return None


def _signed_c1s1(random_bytes: RandomBytes, time_s: int, version: int, schema: int, key: bytes) -> bytes:
    # Key block and padding stay random: the key only matters for RTMPE, which we do not support
    # (SRS fills it from a DH exchange that no plain-RTMP client checks).
    buf = bytearray(_random(random_bytes, HANDSHAKE_SIZE))
    buf[0:8] = _U32.pack(time_s & 0xFFFFFFFF) + _U32.pack(version)
    pos = digest_position(buf, schema)
    buf[pos : pos + 32] = _hmac(key, _joined(buf, pos))
    return bytes(buf)


def _signed_c2s2(random_bytes: RandomBytes, key: bytes, peer_digest: bytes) -> bytes:
    body = _random(random_bytes, HANDSHAKE_SIZE - 32)
    return body + _hmac(_hmac(key, peer_digest), body)


def _random(random_bytes: RandomBytes, n: int) -> bytes:
    data = random_bytes(n)
    if len(data) != n:
        raise LocalProtocolError(f"random_bytes({n}) returned {len(data)} bytes")
    return bytes(data)


def make_s0s1s2(c1: bytes, *, random_bytes: RandomBytes, epoch_ms: int) -> tuple[bytes, int | None]:
    """The server's reply to ``c1``: S0+S1+S2 (3073 bytes) and the schema used (None = simple)."""
    time_s = epoch_ms // 1000
    schema = validate_digest(c1, FP_KEY_OPEN)
    if schema is None:
        # Simple: S1 = our time, the client's time, random; S2 = C1 (SRS create_s0s1s2, ossrs/srs#46).
        s1 = _U32.pack(time_s & 0xFFFFFFFF) + c1[0:4] + _random(random_bytes, HANDSHAKE_SIZE - 8)
        return bytes((RTMP_VERSION,)) + s1 + c1, None
    c1_pos = digest_position(c1, schema)
    s1 = _signed_c1s1(random_bytes, time_s, SERVER_VERSION, schema, FMS_KEY_OPEN)
    s2 = _signed_c2s2(random_bytes, FMS_KEY, c1[c1_pos : c1_pos + 32])
    return bytes((RTMP_VERSION,)) + s1 + s2, schema


def make_c0c1(*, random_bytes: RandomBytes, epoch_ms: int, complex_handshake: bool = True) -> bytes:
    """C0+C1 (1537 bytes). Complex uses schema 1 like SRS and FFmpeg (FMS requires it)."""
    time_s = epoch_ms // 1000
    if complex_handshake:
        c1 = _signed_c1s1(random_bytes, time_s, CLIENT_VERSION, SCHEMA1, FP_KEY_OPEN)
    else:
        c1 = _U32.pack(time_s & 0xFFFFFFFF) + b"\x00\x00\x00\x00" + _random(random_bytes, HANDSHAKE_SIZE - 8)
    return bytes((RTMP_VERSION,)) + c1


def make_c2(s1: bytes, *, random_bytes: RandomBytes, complex_handshake: bool = True) -> bytes:
    """C2 for ``s1``: signed from the S1 digest (schema 1, never verified, as SRS) or a copy of S1."""
    if not complex_handshake:
        return bytes(s1)  # SRS copies S1 into C2 for the simple handshake (ossrs/srs#418)
    pos = digest_position(s1, SCHEMA1)
    return _signed_c2s2(random_bytes, FP_KEY, s1[pos : pos + 32])


def _ipv4(b: bytes) -> str:
    return ".".join(str(x) for x in b[:4])


class ServerHandshake:
    """Server side: read [proxy header] C0 C1, answer S0 S1 S2, read C2."""

    def __init__(self, *, random_bytes: RandomBytes, epoch_ms: int) -> None:
        self._random_bytes = random_bytes
        self._epoch_ms = epoch_ms
        self._buf = b""
        self._out = b""
        self._proxy_checked = False
        self._replied = False
        self.done = False
        self.leftover = b""  # bytes after C2: the start of the chunk stream
        self.proxy_ip: str | None = None
        self.schema: int | None = None  # None: simple handshake

    @property
    def complex(self) -> bool:
        return self.schema is not None

    def data_to_send(self) -> bytes:
        out, self._out = self._out, b""
        return out

    def receive_data(self, data: bytes) -> None:
        if self.done:
            raise LocalProtocolError("handshake already completed")
        self._buf += data
        buf = self._buf
        if not self._proxy_checked:
            if not buf:
                return
            if buf[0] == PROXY_MARKER:
                if len(buf) < 3:
                    return
                nn = (buf[1] << 8) | buf[2]
                if nn > MAX_PROXY_PAYLOAD:
                    raise ProtocolError(
                        f"rtmp proxy header exceeds max size, nn={nn}", ErrorCode.RTMP_HANDSHAKE
                    )
                if len(buf) < 3 + nn:
                    return
                if nn >= 4:
                    self.proxy_ip = _ipv4(buf[3:7])
                buf = buf[3 + nn :]
            self._proxy_checked = True
        if not self._replied:
            if not buf:
                self._buf = buf
                return
            if buf[0] != RTMP_VERSION:
                raise ProtocolError(
                    f"rtmp: only support rtmp plain text, version={buf[0]:#x}", ErrorCode.RTMP_PLAIN_REQUIRED
                )
            if len(buf) < 1 + HANDSHAKE_SIZE:
                self._buf = buf
                return
            c1 = buf[1 : 1 + HANDSHAKE_SIZE]
            self._out, self.schema = make_s0s1s2(c1, random_bytes=self._random_bytes, epoch_ms=self._epoch_ms)
            self._replied = True
            buf = buf[1 + HANDSHAKE_SIZE :]
        if len(buf) < HANDSHAKE_SIZE:
            self._buf = buf
            return
        # C2 is read and ignored: FFmpeg's C2 would not validate (SRS: "never verify c2").
        self.leftover = buf[HANDSHAKE_SIZE:]
        self._buf = b""
        self.done = True


class ClientHandshake:
    """Client side: send C0 C1, read S0 S1 S2, send C2 (S1/S2 not verified, as SRS's client)."""

    def __init__(self, *, random_bytes: RandomBytes, epoch_ms: int, complex_handshake: bool = True) -> None:
        self._random_bytes = random_bytes
        self.complex = complex_handshake
        self._out = make_c0c1(
            random_bytes=random_bytes, epoch_ms=epoch_ms, complex_handshake=complex_handshake
        )
        self._buf = b""
        self.done = False
        self.leftover = b""

    def data_to_send(self) -> bytes:
        out, self._out = self._out, b""
        return out

    def receive_data(self, data: bytes) -> None:
        if self.done:
            raise LocalProtocolError("handshake already completed")
        buf = self._buf + data
        if buf and buf[0] != RTMP_VERSION:
            raise ProtocolError(
                f"rtmp: handshake failed, plain text required, version={buf[0]:#x}", ErrorCode.RTMP_HANDSHAKE
            )
        if len(buf) < 1 + 2 * HANDSHAKE_SIZE:
            self._buf = buf
            return
        s1 = buf[1 : 1 + HANDSHAKE_SIZE]
        self._out += make_c2(s1, random_bytes=self._random_bytes, complex_handshake=self.complex)
        self.leftover = buf[1 + 2 * HANDSHAKE_SIZE :]
        self._buf = b""
        self.done = True
