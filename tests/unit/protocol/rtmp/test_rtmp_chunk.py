"""Chunk stream: reader case table (every fmt, csid form, timestamps), limits, and the writer."""

from __future__ import annotations

import random
import struct

import pytest

from srs.protocol.rtmp.chunk import ChunkReader, RawMessage, encode_message
from srs.util.errors import ErrorCode, ProtocolError, SrsError
from unit.protocol.rtmp.rtmp_cases import CHUNK_CASES, CHUNK_ERROR_CASES, P300, Msg, h0, h3


def as_tuples(msgs: list[RawMessage]) -> list[Msg]:
    return [(m.csid, m.timestamp, m.msg_type, m.stream_id, m.payload) for m in msgs]


def feed_in_pieces(data: bytes, sizes: list[int]) -> list[RawMessage]:
    reader = ChunkReader()
    out: list[RawMessage] = []
    pos = 0
    for n in sizes:
        out += reader.feed(data[pos : pos + n])
        pos += n
    out += reader.feed(data[pos:])
    return out


@pytest.mark.parametrize(("name", "data", "expected"), CHUNK_CASES, ids=[c[0] for c in CHUNK_CASES])
def test_reader_case_table(name: str, data: bytes, expected: list[Msg]) -> None:
    reader = ChunkReader()
    assert as_tuples(reader.feed(data)) == expected
    assert reader.bytes_received == len(data)
    assert reader.partial_messages == 0 and reader.buffered_bytes == 0


@pytest.mark.parametrize(("name", "data", "expected"), CHUNK_CASES, ids=[c[0] for c in CHUNK_CASES])
def test_reader_byte_by_byte_equals_one_feed(name: str, data: bytes, expected: list[Msg]) -> None:
    assert as_tuples(feed_in_pieces(data, [1] * len(data))) == expected


@pytest.mark.parametrize(("name", "data", "expected"), CHUNK_CASES, ids=[c[0] for c in CHUNK_CASES])
def test_reader_random_splits_equal_one_feed(name: str, data: bytes, expected: list[Msg]) -> None:
    rng = random.Random(name)
    for _ in range(5):
        sizes = [rng.randint(0, 20) for _ in range(rng.randint(1, 30))]
        assert as_tuples(feed_in_pieces(data, sizes)) == expected


@pytest.mark.parametrize(
    ("name", "data", "code", "limit"), CHUNK_ERROR_CASES, ids=[c[0] for c in CHUNK_ERROR_CASES]
)
def test_reader_errors(name: str, data: bytes, code: ErrorCode, limit: int) -> None:
    with pytest.raises(SrsError) as ei:
        ChunkReader(max_message_size=limit).feed(data)
    assert ei.value.code == code


def test_chunk_size_applies_to_later_chunks_and_is_reported() -> None:
    reader = ChunkReader()
    msgs = reader.feed(h0(2, 0, 4, 1, 0) + struct.pack(">I", 4096))
    assert reader.chunk_size == 4096 and msgs[0].msg_type == 1


def test_declared_size_refused_before_buffering() -> None:
    reader = ChunkReader(max_message_size=1000)
    with pytest.raises(ProtocolError) as ei:
        reader.feed(h0(6, 0, 1001, 9, 1))  # header only: refused before any payload arrives
    assert ei.value.code == ErrorCode.RTMP_MSG_INVALID_SIZE


def test_too_many_chunk_streams() -> None:
    reader = ChunkReader(max_chunk_streams=4)
    data = b"".join(h0(csid, 0, 1, 8, 1) + b"x" for csid in range(3, 7))
    assert len(reader.feed(data)) == 4
    with pytest.raises(ProtocolError):
        reader.feed(h0(7, 0, 1, 8, 1))


def test_too_many_partial_messages() -> None:
    reader = ChunkReader(max_partial_messages=2)
    reader.feed(h0(4, 0, 300, 8, 1) + P300[:128] + h0(5, 0, 300, 8, 1) + P300[:128])
    assert reader.partial_messages == 2 and reader.buffered_bytes == 256
    with pytest.raises(ProtocolError):
        reader.feed(h0(6, 0, 300, 8, 1))


def test_buffered_bytes_bound() -> None:
    reader = ChunkReader(max_message_size=1000, max_buffered_bytes=600)
    data = b""
    for csid in (4, 5, 6, 7, 8):
        data += h0(csid, 0, 1000, 8, 1) + P300[:128]
    with pytest.raises(ProtocolError) as ei:
        reader.feed(data)
    assert ei.value.code == ErrorCode.RTMP_MSG_INVALID_SIZE


def test_abort_frees_the_partial_payload() -> None:
    reader = ChunkReader()
    reader.feed(h0(6, 0, 300, 9, 1) + P300[:128])
    assert reader.buffered_bytes == 128
    reader.feed(h0(2, 0, 4, 2, 0) + struct.pack(">I", 6))
    assert reader.partial_messages == 0 and reader.buffered_bytes == 0


def test_abort_of_an_idle_stream_is_harmless() -> None:
    reader = ChunkReader()
    msgs = reader.feed(h0(2, 0, 4, 2, 0) + struct.pack(">I", 9) + h0(3, 0, 1, 20, 0) + b"q")
    assert as_tuples(msgs)[-1] == (3, 0, 20, 0, b"q")


def test_header_bytes_wait_for_the_extended_field() -> None:
    data = h0(6, 0x1000000, 3, 9, 1) + b"abc"
    reader = ChunkReader()
    assert reader.feed(data[:13]) == []  # 12-byte header + 1 byte of the extended field
    assert as_tuples(reader.feed(data[13:])) == [(6, 0x1000000, 9, 1, b"abc")]


# --------------------------------------------------------------------------- writer


def test_encode_single_chunk_exact_bytes() -> None:
    out = encode_message(3, 0, 20, 0, b"abc", 128)
    assert out == bytes.fromhex("030000000000031400000000") + b"abc"


def test_encode_multi_chunk_exact_bytes() -> None:
    payload = bytes(range(256)) + b"xyz"
    out = encode_message(6, 1000, 9, 1, payload, 128)
    head = bytes.fromhex("060003e80001030901000000")
    assert out == head + payload[:128] + b"\xc6" + payload[128:256] + b"\xc6" + payload[256:]


def test_encode_extended_timestamp_repeated_in_every_chunk() -> None:
    payload = P300
    out = encode_message(6, 0x01000000, 9, 1, payload, 128)
    ext = bytes.fromhex("01000000")
    head = bytes.fromhex("06ffffff00012c0901000000") + ext
    assert out == head + payload[:128] + b"\xc6" + ext + payload[128:256] + b"\xc6" + ext + payload[256:]


@pytest.mark.parametrize(("ts", "field", "ext"), [(0xFFFFFE, "fffffe", ""), (0xFFFFFF, "ffffff", "00ffffff")])
def test_encode_extended_boundary(ts: int, field: str, ext: str) -> None:
    out = encode_message(4, ts, 8, 1, b"a", 128)
    assert out == bytes.fromhex("04" + field + "0000010801000000" + ext) + b"a"


def test_encode_timestamp_modulo_2_32() -> None:
    out = encode_message(4, (1 << 32) + 5, 8, 1, b"a", 128)
    assert out[1:4] == b"\x00\x00\x05"


@pytest.mark.parametrize("csid", [2, 63, 64, 319, 320, 65599])
def test_encode_basic_header_forms_round_trip(csid: int) -> None:
    out = encode_message(csid, 7, 9, 1, P300, 128)
    assert as_tuples(ChunkReader().feed(out)) == [(csid, 7, 9, 1, P300)]


def test_encode_rejects_oversized_and_bad_csid() -> None:
    with pytest.raises(ValueError):
        encode_message(6, 0, 9, 1, b"\x00" * 0x1000000, 60000)
    with pytest.raises(ValueError):
        encode_message(70000, 0, 9, 1, b"x", 128)


def test_round_trip_through_the_wrap() -> None:
    # Steps stay below 2^31 ms (24.8 days): the only ambiguity of a 32-bit clock.
    stamps = [
        (1 << 32) - 40,
        (1 << 32) - 7,
        (1 << 32) + 26,
        (1 << 32) + 0xFFFFFF + 3,
        (1 << 32) + 0x7000_0000,
        (1 << 32) + 0xE000_0000,
        (2 << 32) + 1,
    ]
    data = b"".join(encode_message(6, ts, 9, 1, P300, 128) for ts in stamps)
    msgs = ChunkReader().feed(data)
    assert [m.timestamp for m in msgs] == stamps
    assert all(m.payload == P300 for m in msgs)


@pytest.mark.parametrize("chunk_size", [128, 129, 4096, 60000])
@pytest.mark.parametrize("size", [0, 1, 127, 128, 129, 256, 1000, 70000])
def test_round_trip_sizes(chunk_size: int, size: int) -> None:
    payload = bytes(i & 0xFF for i in range(size))
    data = h0(2, 0, 4, 1, 0) + struct.pack(">I", chunk_size) if chunk_size != 128 else b""
    data += encode_message(5, 99, 8, 1, payload, chunk_size)
    msgs = ChunkReader().feed(data)
    assert as_tuples(msgs[-1:]) == [(5, 99, 8, 1, payload)]


def test_fmt3_repeat_header_of_the_reader_is_not_mistaken() -> None:
    # A continuation whose payload starts with the same 4 bytes as the extended field is the one
    # ambiguity SRS's tolerance has; a message sent by us always repeats the field, so it decodes.
    payload = b"\x01\x00\x00\x00" * 100
    out = encode_message(6, 0x01000000, 9, 1, payload, 128)
    assert as_tuples(ChunkReader().feed(out)) == [(6, 0x01000000, 9, 1, payload)]
    assert h3(6)  # the builder exists for the case table
