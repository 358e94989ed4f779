"""RTMP handshake: simple and complex, both sides, proxy header, fallbacks and errors."""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest

from srs.protocol.rtmp.handshake import (
    CLIENT_VERSION,
    FMS_KEY,
    FMS_KEY_OPEN,
    FP_KEY,
    FP_KEY_OPEN,
    HANDSHAKE_SIZE,
    SCHEMA0,
    SCHEMA1,
    SERVER_VERSION,
    ClientHandshake,
    ServerHandshake,
    digest_position,
    make_c0c1,
    make_c2,
    make_s0s1s2,
    validate_digest,
)
from srs.protocol.rtmp.testing import EPOCH_MS, seeded_random
from srs.util.errors import ErrorCode, LocalProtocolError, ProtocolError

EPOCH_S = EPOCH_MS // 1000


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def signed_c1(schema: int, seed: int = 7) -> bytes:
    """A C1 signed like Flash (schema 0) or FFmpeg/librtmp (schema 1), built independently."""
    buf = bytearray(seeded_random(seed)(HANDSHAKE_SIZE))
    buf[0:8] = struct.pack(">II", 0, 0x09007C02)  # FFmpeg puts time 0 and version 9.0.124.2
    block = 772 if schema == SCHEMA0 else 8
    pos = block + 4 + sum(buf[block : block + 4]) % 728
    buf[pos : pos + 32] = _hmac(FP_KEY[:30], bytes(buf[:pos]) + bytes(buf[pos + 32 :]))
    return bytes(buf)


def test_keys_are_adobes() -> None:
    assert FMS_KEY[:36] == b"Genuine Adobe Flash Media Server 001" and len(FMS_KEY) == 68
    assert FP_KEY[:30] == b"Genuine Adobe Flash Player 001" and len(FP_KEY) == 62
    assert FMS_KEY[36:] == FP_KEY[30:]
    assert FMS_KEY[:36] == FMS_KEY_OPEN and FP_KEY[:30] == FP_KEY_OPEN


@pytest.mark.parametrize("schema", [SCHEMA0, SCHEMA1])
def test_validate_digest_finds_the_schema(schema: int) -> None:
    c1 = signed_c1(schema)
    assert validate_digest(c1, FP_KEY_OPEN) == schema
    assert validate_digest(c1, FMS_KEY_OPEN) is None


def test_validate_digest_rejects_broken_and_short() -> None:
    c1 = bytearray(signed_c1(SCHEMA1))
    pos = digest_position(c1, SCHEMA1)
    c1[pos] ^= 0x01
    assert validate_digest(bytes(c1), FP_KEY_OPEN) is None
    assert validate_digest(b"\x00" * 100, FP_KEY_OPEN) is None


@pytest.mark.parametrize("schema", [SCHEMA0, SCHEMA1])
def test_server_answers_a_complex_c1_with_signed_s1_and_s2(schema: int) -> None:
    c1 = signed_c1(schema)
    out, used = make_s0s1s2(c1, random_bytes=seeded_random(1), epoch_ms=EPOCH_MS)
    assert used == schema
    assert len(out) == 1 + 2 * HANDSHAKE_SIZE and out[0] == 3
    s1, s2 = out[1:1537], out[1537:]
    assert struct.unpack(">II", s1[:8]) == (EPOCH_S, SERVER_VERSION)
    # S1 is signed with the server key in the client's schema.
    assert validate_digest(s1, FMS_KEY_OPEN) == schema
    # S2 = random + HMAC(HMAC(FMS key, C1 digest), random): what FFmpeg checks for Flash >= 3.
    c1_pos = digest_position(c1, schema)
    temp = _hmac(FMS_KEY, c1[c1_pos : c1_pos + 32])
    assert s2[-32:] == _hmac(temp, s2[:-32])


def test_server_falls_back_to_simple_for_a_plain_or_broken_c1() -> None:
    c1 = bytearray(signed_c1(SCHEMA1))
    c1[digest_position(c1, SCHEMA1) + 5] ^= 0xFF  # broken digest
    out, used = make_s0s1s2(bytes(c1), random_bytes=seeded_random(1), epoch_ms=EPOCH_MS)
    assert used is None
    s1, s2 = out[1:1537], out[1537:]
    assert out[0] == 3
    assert s1[:4] == struct.pack(">I", EPOCH_S)  # our time
    assert s1[4:8] == c1[:4]  # the client's time
    assert s2 == bytes(c1)  # S2 echoes C1


def test_server_handshake_complex_with_our_client_c1() -> None:
    c0c1 = make_c0c1(random_bytes=seeded_random(3), epoch_ms=EPOCH_MS)
    assert c0c1[0] == 3 and len(c0c1) == 1537
    assert struct.unpack(">II", c0c1[1:9]) == (EPOCH_S, CLIENT_VERSION)
    assert validate_digest(c0c1[1:], FP_KEY_OPEN) == SCHEMA1  # FMS requires schema 1
    hs = ServerHandshake(random_bytes=seeded_random(4), epoch_ms=EPOCH_MS)
    hs.receive_data(c0c1)
    assert hs.complex and hs.schema == SCHEMA1
    reply = hs.data_to_send()
    assert len(reply) == 3073 and hs.data_to_send() == b""
    assert not hs.done
    hs.receive_data(b"\x00" * HANDSHAKE_SIZE + b"\xc3rest")
    assert hs.done and hs.leftover == b"\xc3rest" and hs.proxy_ip is None


def test_server_handshake_byte_by_byte_equals_one_feed() -> None:
    c0c1 = make_c0c1(random_bytes=seeded_random(3), epoch_ms=EPOCH_MS)
    data = c0c1 + b"\x01" * HANDSHAKE_SIZE + b"\x02\x03"
    one = ServerHandshake(random_bytes=seeded_random(4), epoch_ms=EPOCH_MS)
    one.receive_data(data)
    slow = ServerHandshake(random_bytes=seeded_random(4), epoch_ms=EPOCH_MS)
    sent = b""
    i = 0
    while not slow.done:
        slow.receive_data(data[i : i + 1])
        sent += slow.data_to_send()
        i += 1
    assert one.done
    assert sent == one.data_to_send()
    assert i == len(c0c1) + HANDSHAKE_SIZE  # done exactly when C2 is complete
    assert one.leftover == b"\x02\x03" and slow.leftover == b""


def test_server_handshake_proxy_header() -> None:
    c0c1 = make_c0c1(random_bytes=seeded_random(3), epoch_ms=EPOCH_MS, complex_handshake=False)
    proxy = bytes([0xF3, 0x00, 0x06, 10, 1, 2, 3, 0xAA, 0xBB])
    hs = ServerHandshake(random_bytes=seeded_random(4), epoch_ms=EPOCH_MS)
    hs.receive_data(proxy[:2])
    assert hs.data_to_send() == b""
    hs.receive_data(proxy[2:] + c0c1)
    assert hs.proxy_ip == "10.1.2.3"
    reply = hs.data_to_send()
    assert reply[1537:] == c0c1[1:]  # simple: S2 is C1, so the proxy bytes were skipped exactly
    assert not hs.complex


def test_server_handshake_proxy_header_without_ip() -> None:
    c0c1 = make_c0c1(random_bytes=seeded_random(3), epoch_ms=EPOCH_MS)
    hs = ServerHandshake(random_bytes=seeded_random(4), epoch_ms=EPOCH_MS)
    hs.receive_data(b"\xf3\x00\x02\x01\x02" + c0c1)
    assert hs.proxy_ip is None and hs.complex


def test_server_handshake_proxy_header_too_long() -> None:
    hs = ServerHandshake(random_bytes=seeded_random(4), epoch_ms=EPOCH_MS)
    with pytest.raises(ProtocolError) as ei:
        hs.receive_data(b"\xf3\x04\x01")
    assert ei.value.code == ErrorCode.RTMP_HANDSHAKE


@pytest.mark.parametrize("c0", [0x06, 0x00, 0x08])
def test_server_handshake_requires_plain_rtmp(c0: int) -> None:
    hs = ServerHandshake(random_bytes=seeded_random(4), epoch_ms=EPOCH_MS)
    with pytest.raises(ProtocolError) as ei:
        hs.receive_data(bytes([c0]))
    assert ei.value.code == ErrorCode.RTMP_PLAIN_REQUIRED


def test_client_handshake_complex() -> None:
    client = ClientHandshake(random_bytes=seeded_random(5), epoch_ms=EPOCH_MS)
    c0c1 = client.data_to_send()
    assert validate_digest(c0c1[1:], FP_KEY_OPEN) == SCHEMA1
    s0s1s2, _ = make_s0s1s2(c0c1[1:], random_bytes=seeded_random(6), epoch_ms=EPOCH_MS)
    client.receive_data(s0s1s2[:100])
    assert not client.done and client.data_to_send() == b""
    client.receive_data(s0s1s2[100:] + b"\x02more")
    assert client.done and client.leftover == b"\x02more"
    c2 = client.data_to_send()
    s1 = s0s1s2[1:1537]
    pos = digest_position(s1, SCHEMA1)
    assert c2[-32:] == _hmac(_hmac(FP_KEY, s1[pos : pos + 32]), c2[:-32])


def test_client_handshake_simple_copies_s1() -> None:
    client = ClientHandshake(random_bytes=seeded_random(5), epoch_ms=EPOCH_MS, complex_handshake=False)
    c0c1 = client.data_to_send()
    assert c0c1[1:9] == struct.pack(">II", EPOCH_S, 0)
    assert validate_digest(c0c1[1:], FP_KEY_OPEN) is None
    s0s1s2, schema = make_s0s1s2(c0c1[1:], random_bytes=seeded_random(6), epoch_ms=EPOCH_MS)
    assert schema is None
    client.receive_data(s0s1s2)
    assert client.data_to_send() == s0s1s2[1:1537]
    assert make_c2(s0s1s2[1:1537], random_bytes=seeded_random(1), complex_handshake=False) == s0s1s2[1:1537]


def test_client_handshake_rejects_bad_s0() -> None:
    client = ClientHandshake(random_bytes=seeded_random(5), epoch_ms=EPOCH_MS)
    with pytest.raises(ProtocolError) as ei:
        client.receive_data(b"\x06")
    assert ei.value.code == ErrorCode.RTMP_HANDSHAKE


def test_handshake_is_not_reusable() -> None:
    client = ClientHandshake(random_bytes=seeded_random(5), epoch_ms=EPOCH_MS)
    s0s1s2, _ = make_s0s1s2(client.data_to_send()[1:], random_bytes=seeded_random(6), epoch_ms=EPOCH_MS)
    client.receive_data(s0s1s2)
    with pytest.raises(LocalProtocolError):
        client.receive_data(b"x")


def test_short_random_source_is_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        make_c0c1(random_bytes=lambda n: b"\x00", epoch_ms=EPOCH_MS)
