"""Case tables for the RTMP chunk reader and message structs; they also seed the fuzzers.

Chunk bytes are built here by hand (not with ``encode_message``) so that the reader is checked
against the specification (Adobe RTMP 1.0, 5.3.1), not against our own writer.
"""

from __future__ import annotations

import struct
from typing import Any

from srs.format.amf0 import UNDEFINED, EcmaArray
from srs.protocol.rtmp.message import (
    AbortMessage,
    Acknowledgement,
    Command,
    DataMessage,
    SetChunkSize,
    SetPeerBandwidth,
    UserControlMessage,
    WindowAckSize,
)
from srs.util.errors import ErrorCode

Msg = tuple[int, int, int, int, bytes]  # csid, timestamp, type, stream id, payload


def basic(fmt: int, csid: int) -> bytes:
    if csid < 64:
        return bytes([(fmt << 6) | csid])
    if csid < 320:
        return bytes([fmt << 6, csid - 64])
    v = csid - 64
    return bytes([(fmt << 6) | 1, v & 0xFF, v >> 8])


def _ts(value: int) -> tuple[bytes, bytes]:
    if value >= 0xFFFFFF:
        return b"\xff\xff\xff", struct.pack(">I", value)
    return value.to_bytes(3, "big"), b""


def h0(csid: int, ts: int, length: int, msg_type: int, sid: int = 0) -> bytes:
    field, ext = _ts(ts)
    return (
        basic(0, csid) + field + length.to_bytes(3, "big") + bytes([msg_type]) + struct.pack("<I", sid) + ext
    )


def h1(csid: int, delta: int, length: int, msg_type: int) -> bytes:
    field, ext = _ts(delta)
    return basic(1, csid) + field + length.to_bytes(3, "big") + bytes([msg_type]) + ext


def h2(csid: int, delta: int) -> bytes:
    field, ext = _ts(delta)
    return basic(2, csid) + field + ext


def h3(csid: int, ext: int | None = None) -> bytes:
    return basic(3, csid) + (struct.pack(">I", ext) if ext is not None else b"")


def payload(n: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) & 0xFF for i in range(n))


P300 = payload(300, 1)
P200 = payload(200, 2)
BIG = 0x01000000  # above 0xFFFFFF: needs the extended field
WRAP = 0xFFFFFF00

# (name, bytes, expected messages); initial chunk size 128 on both sides.
CHUNK_CASES: list[tuple[str, bytes, list[Msg]]] = [
    ("fmt0-1byte-csid", h0(3, 1000, 3, 20, 0) + b"abc", [(3, 1000, 20, 0, b"abc")]),
    ("fmt0-2byte-csid-64", h0(64, 5, 2, 9, 1) + b"hi", [(64, 5, 9, 1, b"hi")]),
    ("fmt0-2byte-csid-319", h0(319, 5, 2, 9, 1) + b"hi", [(319, 5, 9, 1, b"hi")]),
    ("fmt0-3byte-csid-320", h0(320, 5, 2, 8, 1) + b"yo", [(320, 5, 8, 1, b"yo")]),
    ("fmt0-3byte-csid-65599", h0(65599, 5, 2, 8, 1) + b"yo", [(65599, 5, 8, 1, b"yo")]),
    ("stream-id-little-endian", h0(4, 0, 1, 8, 0x01020304) + b"x", [(4, 0, 8, 0x01020304, b"x")]),
    (
        "fmt1-fmt2-fmt3-deltas",
        h0(4, 100, 2, 8, 1)
        + b"a1"
        + h1(4, 20, 3, 8)
        + b"b22"
        + h2(4, 23)
        + b"c33"
        + h3(4)
        + b"d44"  # fmt 3 new message: same length, type and delta (23)
        + h3(4)
        + b"e55",
        [
            (4, 100, 8, 1, b"a1"),
            (4, 120, 8, 1, b"b22"),
            (4, 143, 8, 1, b"c33"),
            (4, 166, 8, 1, b"d44"),
            (4, 189, 8, 1, b"e55"),
        ],
    ),
    (
        "fmt3-after-fmt0-repeats-the-absolute-as-delta",  # spec 5.3.1.2.4
        h0(4, 26, 1, 8, 1) + b"a" + h3(4) + b"b",
        [(4, 26, 8, 1, b"a"), (4, 52, 8, 1, b"b")],
    ),
    (
        "multi-chunk-fmt3-continuations",
        h0(6, 40, 300, 9, 1) + P300[:128] + h3(6) + P300[128:256] + h3(6) + P300[256:],
        [(6, 40, 9, 1, P300)],
    ),
    (
        "continuation-with-fmt2-like-srs",  # SRS accepts fmt 1/2 inside a message if the size is kept
        h0(6, 40, 200, 9, 1) + P200[:128] + h2(6, 0) + P200[128:],
        [(6, 40, 9, 1, P200)],
    ),
    (
        "interleaved-chunk-streams",
        h0(6, 0, 300, 9, 1)
        + P300[:128]
        + h0(4, 0, 200, 8, 1)
        + P200[:128]
        + h3(6)
        + P300[128:256]
        + h3(4)
        + P200[128:]
        + h3(6)
        + P300[256:],
        [(4, 0, 8, 1, P200), (6, 0, 9, 1, P300)],
    ),
    ("timestamp-0xfffffe-no-extended", h0(4, 0xFFFFFE, 1, 8, 1) + b"a", [(4, 0xFFFFFE, 8, 1, b"a")]),
    ("timestamp-0xffffff-extended", h0(4, 0xFFFFFF, 1, 8, 1) + b"a", [(4, 0xFFFFFF, 8, 1, b"a")]),
    (
        "extended-repeated-in-continuations",  # what SRS, FFmpeg and Adobe send
        h0(6, BIG, 300, 9, 1) + P300[:128] + h3(6, BIG) + P300[128:256] + h3(6, BIG) + P300[256:],
        [(6, BIG, 9, 1, P300)],
    ),
    (
        "extended-not-repeated-in-continuations",  # tolerated as SRS does
        h0(6, BIG, 300, 9, 1) + P300[:128] + h3(6) + P300[128:256] + h3(6) + P300[256:],
        [(6, BIG, 9, 1, P300)],
    ),
    (
        "fmt1-extended-field-is-a-delta",
        h0(4, 1000, 1, 8, 1) + b"a" + h1(4, BIG, 1, 8) + b"b",
        [(4, 1000, 8, 1, b"a"), (4, 1000 + BIG, 8, 1, b"b")],
    ),
    (
        "fmt2-extended-field-is-a-delta",
        h0(4, 7, 1, 8, 1) + b"a" + h2(4, 0xFFFFFF) + b"b",
        [(4, 7, 8, 1, b"a"), (4, 7 + 0xFFFFFF, 8, 1, b"b")],
    ),
    (
        "fmt3-message-start-repeats-extended-delta",
        h0(4, 1, 1, 8, 1) + b"a" + h1(4, BIG, 1, 8) + b"b" + h3(4, BIG) + b"c",
        [(4, 1, 8, 1, b"a"), (4, 1 + BIG, 8, 1, b"b"), (4, 1 + 2 * BIG, 8, 1, b"c")],
    ),
    (
        "fmt3-message-start-with-other-extended-value-is-absolute",  # SRS compat
        h0(4, BIG, 1, 8, 1) + b"a" + h3(4, BIG + 40) + b"b",
        [(4, BIG, 8, 1, b"a"), (4, BIG + 40, 8, 1, b"b")],
    ),
    (
        "32bit-wrap-unwrapped-to-64bit",
        h0(4, WRAP, 1, 8, 1)
        + b"a"
        + h0(4, 0x100, 1, 8, 1)
        + b"b"
        + h1(4, 10, 1, 8)
        + b"c"
        + h0(6, 0x200, 1, 9, 1)
        + b"d",
        [
            (4, WRAP, 8, 1, b"a"),
            (4, 0x1_0000_0100, 8, 1, b"b"),
            (4, 0x1_0000_010A, 8, 1, b"c"),
            (6, 0x1_0000_0200, 9, 1, b"d"),
        ],
    ),
    (
        "backward-jump-across-the-wrap",
        h0(4, WRAP, 1, 8, 1) + b"a" + h0(4, 0x100, 1, 8, 1) + b"b" + h0(4, WRAP + 0x80, 1, 8, 1) + b"c",
        [(4, WRAP, 8, 1, b"a"), (4, 0x1_0000_0100, 8, 1, b"b"), (4, WRAP + 0x80, 8, 1, b"c")],
    ),
    (
        "small-backward-jump-is-not-a-wrap",
        h0(4, 5000, 1, 8, 1) + b"a" + h0(4, 1000, 1, 8, 1) + b"b",
        [(4, 5000, 8, 1, b"a"), (4, 1000, 8, 1, b"b")],
    ),
    (
        "set-chunk-size-mid-stream",
        h0(2, 0, 4, 1, 0) + struct.pack(">I", 256) + h0(6, 0, 300, 9, 1) + P300[:256] + h3(6) + P300[256:],
        [(2, 0, 1, 0, struct.pack(">I", 256)), (6, 0, 9, 1, P300)],
    ),
    (
        "chunk-size-above-65536-accepted-like-srs",
        h0(2, 0, 4, 1, 0) + struct.pack(">I", 100000) + h0(6, 0, 300, 9, 1) + P300,
        [(2, 0, 1, 0, struct.pack(">I", 100000)), (6, 0, 9, 1, P300)],
    ),
    (
        "abort-drops-the-partial-message",
        h0(6, 0, 300, 9, 1)
        + P300[:128]
        + h0(2, 0, 4, 2, 0)
        + struct.pack(">I", 6)
        + h1(6, 40, 2, 9)  # a new message may start with fmt 1 after the abort
        + b"ok",
        [(2, 0, 2, 0, struct.pack(">I", 6)), (6, 40, 9, 1, b"ok")],
    ),
    (
        "empty-message",
        h0(3, 0, 0, 20, 0) + h0(3, 1, 1, 20, 0) + b"z",
        [(3, 0, 20, 0, b""), (3, 1, 20, 0, b"z")],
    ),
    (
        "fresh-stream-starting-with-fmt1-librtmp-ping",
        h1(2, 0, 6, 4) + b"\x00\x06\x00\x00\x0d\x0f",
        [(2, 0, 4, 0, b"\x00\x06\x00\x00\x0d\x0f")],
    ),
]

# (name, bytes, error code, max_message_size)
CHUNK_ERROR_CASES: list[tuple[str, bytes, ErrorCode, int]] = [
    ("fresh-stream-fmt2", h2(4, 10) + b"x", ErrorCode.RTMP_CHUNK_START, 16 << 20),
    ("fresh-stream-fmt3", h3(4), ErrorCode.RTMP_CHUNK_START, 16 << 20),
    (
        "fmt0-inside-partial-message",
        h0(6, 0, 300, 9, 1) + P300[:128] + h0(6, 0, 300, 9, 1),
        ErrorCode.RTMP_CHUNK_START,
        16 << 20,
    ),
    (
        "size-change-inside-message",
        h0(6, 0, 300, 9, 1) + P300[:128] + h1(6, 0, 301, 9),
        ErrorCode.RTMP_PACKET_SIZE,
        16 << 20,
    ),
    ("chunk-size-below-128", h0(2, 0, 4, 1, 0) + struct.pack(">I", 127), ErrorCode.RTMP_CHUNK_SIZE, 16 << 20),
    (
        "chunk-size-negative",
        h0(2, 0, 4, 1, 0) + struct.pack(">I", 0x80000080),
        ErrorCode.RTMP_CHUNK_SIZE,
        16 << 20,
    ),
    ("chunk-size-short", h0(2, 0, 2, 1, 0) + b"\x00\x01", ErrorCode.RTMP_MESSAGE_DECODE, 16 << 20),
    ("abort-short", h0(2, 0, 2, 2, 0) + b"\x00\x06", ErrorCode.RTMP_MESSAGE_DECODE, 16 << 20),
    ("declared-size-over-limit", h0(6, 0, 0xFFFFFF, 9, 1), ErrorCode.RTMP_MSG_INVALID_SIZE, 1 << 20),
]

# (name, struct, bytes): control messages, byte for byte.
CONTROL_CASES: list[tuple[str, Any, bytes]] = [
    ("set-chunk-size", SetChunkSize(60000), bytes.fromhex("0000ea60")),
    ("abort", AbortMessage(6), bytes.fromhex("00000006")),
    ("ack", Acknowledgement(1250000), bytes.fromhex("001312d0")),
    ("window-ack-size", WindowAckSize(2500000), bytes.fromhex("002625a0")),
    ("peer-bandwidth", SetPeerBandwidth(2500000, 2), bytes.fromhex("002625a002")),
    ("stream-begin", UserControlMessage(0, 1), bytes.fromhex("000000000001")),
    ("stream-eof", UserControlMessage(1, 1), bytes.fromhex("000100000001")),
    ("set-buffer-length", UserControlMessage(3, 1, 1000), bytes.fromhex("000300000001000003e8")),
    ("ping-request", UserControlMessage(6, 0xD0F), bytes.fromhex("000600000d0f")),
    ("ping-response", UserControlMessage(7, 0xD0F), bytes.fromhex("000700000d0f")),
    ("fms-event0", UserControlMessage(0x1A, 5), bytes.fromhex("001a05")),
]

# (name, value, amf3, bytes) for commands and data messages.
COMMAND_CASES: list[tuple[str, Any, bool, bytes]] = [
    (
        "createStream",
        Command("createStream", 4.0, None),
        False,
        b"\x02\x00\x0ccreateStream\x00\x40\x10\x00\x00\x00\x00\x00\x00\x05",
    ),
    (
        "createStream-amf3",
        Command("createStream", 4.0, None),
        True,
        b"\x00\x02\x00\x0ccreateStream\x00\x40\x10\x00\x00\x00\x00\x00\x00\x05",
    ),
    (
        "releaseStream",
        Command("releaseStream", 2.0, None, ("livestream",)),
        False,
        b"\x02\x00\x0dreleaseStream\x00\x40\x00\x00\x00\x00\x00\x00\x00\x05\x02\x00\x0alivestream",
    ),
    (
        "fmle-start-result",
        Command("_result", 2.0, None, (UNDEFINED,)),
        False,
        b"\x02\x00\x07_result\x00\x40\x00\x00\x00\x00\x00\x00\x00\x05\x06",
    ),
    (
        "connect",
        Command("connect", 1.0, {"app": "live", "tcUrl": "rtmp://h/live"}),
        False,
        b"\x02\x00\x07connect\x00\x3f\xf0\x00\x00\x00\x00\x00\x00\x03"
        b"\x00\x03app\x02\x00\x04live\x00\x05tcUrl\x02\x00\x0drtmp://h/live\x00\x00\x09",
    ),
]

DATA_CASES: list[tuple[str, DataMessage, bool, bytes]] = [
    (
        "set-data-frame",
        DataMessage("@setDataFrame", ("onMetaData", EcmaArray(width=640.0))),
        False,
        b"\x02\x00\x0d@setDataFrame\x02\x00\x0aonMetaData\x08\x00\x00\x00\x01"
        b"\x00\x05width\x00\x40\x84\x00\x00\x00\x00\x00\x00\x00\x00\x09",
    ),
    (
        "sample-access",
        DataMessage("|RtmpSampleAccess", (True, True)),
        False,
        b"\x02\x00\x11|RtmpSampleAccess\x01\x01\x01\x01",
    ),
    ("amf3-data", DataMessage("onTextData", ("hi",)), True, b"\x00\x02\x00\x0aonTextData\x02\x00\x02hi"),
]
