"""Fuzz the RTMP core: handshake, chunk reader, message parsers, and whole sessions.

Invariant: whatever bytes arrive, only SrsError subclasses escape, and memory stays bounded (a huge
declared message is refused at its header; partial messages never exceed the configured budget).
Seeds are the case tables of ``tests/unit/protocol/rtmp/rtmp_cases.py`` and real command flows.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srs.format import amf0
from srs.protocol.rtmp import commands
from srs.protocol.rtmp.chunk import ChunkReader, encode_message
from srs.protocol.rtmp.client import ClientSession
from srs.protocol.rtmp.handshake import ClientHandshake, ServerHandshake, make_c0c1, make_s0s1s2
from srs.protocol.rtmp.message import (
    AbortMessage,
    Acknowledgement,
    Command,
    DataMessage,
    SetChunkSize,
    SetPeerBandwidth,
    UserControlMessage,
    WindowAckSize,
    unpack_aggregate,
)
from srs.protocol.rtmp.server import ServerSession
from srs.protocol.rtmp.testing import EPOCH_MS, seeded_random
from srs.util.errors import SrsError
from unit.protocol.rtmp import rtmp_cases as cases

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

CHUNK_SEEDS = [data for _, data, _ in cases.CHUNK_CASES] + [data for _, data, _, _ in cases.CHUNK_ERROR_CASES]
COMMAND_SEEDS = [raw for *_, raw in cases.COMMAND_CASES] + [raw for *_, raw in cases.DATA_CASES]


def mutations(seeds: list[bytes], max_random: int = 200) -> st.SearchStrategy[bytes]:
    """A seed with some bytes replaced, then cut or extended; or plain random bytes."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(0, 6))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(data)))
        tail = draw(st.binary(max_size=16)) if draw(st.booleans()) else b""
        return bytes(data[:cut]) + tail if draw(st.booleans()) else bytes(data) + tail

    return st.one_of(st.binary(max_size=max_random), mutate())


def ours(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except SrsError:
        return None


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, prev = [], 0
    for p in points:
        pieces.append(data[prev:p])
        prev = p
    pieces.append(data[prev:])
    return pieces


# --------------------------------------------------------------------------- handshake

C0C1 = make_c0c1(random_bytes=seeded_random(1), epoch_ms=EPOCH_MS)
S0S1S2, _ = make_s0s1s2(C0C1[1:], random_bytes=seeded_random(2), epoch_ms=EPOCH_MS)


@FUZZ
@given(
    mutations([C0C1 + bytes(1536), b"\xf3\x00\x04\x01\x02\x03\x04" + C0C1], max_random=4000),
    st.lists(st.integers(0, 5000), max_size=5),
)
def test_server_handshake(data: bytes, cuts: list[int]) -> None:
    hs = ServerHandshake(random_bytes=seeded_random(3), epoch_ms=EPOCH_MS)

    def run() -> None:
        for piece in split(data, cuts):
            if hs.done:
                break
            hs.receive_data(piece)

    ours(run)
    out = hs.data_to_send()
    assert out == b"" or len(out) == 3073


@FUZZ
@given(mutations([S0S1S2], max_random=4000))
def test_client_handshake(data: bytes) -> None:
    hs = ClientHandshake(random_bytes=seeded_random(3), epoch_ms=EPOCH_MS)
    ours(lambda: hs.receive_data(data))
    assert hs.done == (len(data) >= 3073 and data[0] == 3)


# --------------------------------------------------------------------------- chunk reader


@FUZZ
@given(mutations(CHUNK_SEEDS, max_random=600), st.lists(st.integers(0, 2000), max_size=6))
def test_chunk_reader(data: bytes, cuts: list[int]) -> None:
    reader = ChunkReader(
        max_message_size=4096, max_buffered_bytes=8192, max_chunk_streams=16, max_partial_messages=8
    )

    def run() -> None:
        for piece in split(data, cuts):
            for msg in reader.feed(piece):
                assert len(msg.payload) <= 4096 and msg.timestamp >= 0
            assert reader.buffered_bytes <= 8192 + 18  # partial payload plus one partial header

    ours(run)


@FUZZ
@given(st.sampled_from(cases.CHUNK_CASES), st.lists(st.integers(0, 2000), min_size=1, max_size=8))
def test_chunk_reader_splits_never_change_the_result(case: Any, cuts: list[int]) -> None:
    _, data, expected = case
    reader = ChunkReader()
    got = [m for piece in split(data, cuts) for m in reader.feed(piece)]
    assert [(m.csid, m.timestamp, m.msg_type, m.stream_id, m.payload) for m in got] == expected


def test_huge_declared_message_is_refused_at_its_header() -> None:
    reader = ChunkReader(max_message_size=1 << 20)
    try:
        reader.feed(cases.h0(6, 0, 0xFFFFFF, 9, 1))
    except SrsError:
        pass
    else:  # pragma: no cover
        raise AssertionError("a 16 MiB declared message was accepted")
    assert reader.buffered_bytes == 0


@FUZZ
@given(
    st.integers(2, 65599),
    st.integers(0, (1 << 40)),
    st.integers(3, 255),  # 1 and 2 (chunk size, abort) act on the reader itself
    st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=3000),
    st.integers(128, 5000),
)
def test_encode_decode_round_trip(
    csid: int, ts: int, msg_type: int, sid: int, payload: bytes, chunk_size: int
) -> None:
    data = b""
    reader = ChunkReader()
    if chunk_size != 128:
        data += encode_message(2, 0, 1, 0, bytes(SetChunkSize(chunk_size)), 128)
    data += encode_message(csid, ts, msg_type, sid, payload, chunk_size)
    msgs = reader.feed(data)
    last = msgs[-1] if msgs else None
    if not payload:
        assert last is not None and last.payload == b""
        return
    assert last is not None
    assert (last.csid, last.timestamp, last.msg_type, last.stream_id, last.payload) == (
        csid,
        ts & 0xFFFFFFFF,
        msg_type,
        sid,
        payload,
    )


# --------------------------------------------------------------------------- message parsers

PARSERS: list[Callable[[bytes], Any]] = [
    SetChunkSize.parse,
    AbortMessage.parse,
    Acknowledgement.parse,
    WindowAckSize.parse,
    SetPeerBandwidth.parse,
    UserControlMessage.parse,
    lambda b: Command.parse(b),
    lambda b: Command.parse(b, amf3=True),
    lambda b: DataMessage.parse(b),
    lambda b: DataMessage.parse(b, amf3=True),
    lambda b: unpack_aggregate(b, 1000),
    lambda b: commands.decode_command(Command.parse(b)),
]


@FUZZ
@given(mutations(COMMAND_SEEDS + [raw for _, _, raw in cases.CONTROL_CASES]), st.sampled_from(PARSERS))
def test_message_parsers(data: bytes, parser: Callable[[bytes], Any]) -> None:
    ours(lambda: parser(data))


# --------------------------------------------------------------------------- whole sessions


def chunked(cmds: list[Command]) -> bytes:
    return b"".join(encode_message(3, 0, 20, 0, c.encode(), 128) for c in cmds)


FLOW = chunked(
    [
        Command("connect", 1.0, {"app": "live", "tcUrl": "rtmp://h/live"}),
        Command("releaseStream", 2.0, None, ("s",)),
        Command("FCPublish", 3.0, None, ("s",)),
        Command("createStream", 4.0, None),
        Command("publish", 5.0, None, ("s",)),
    ]
) + encode_message(6, 0, 9, 1, b"\x17\x00" + bytes(300), 128)


def _drive_server(data: bytes, cuts: list[int]) -> ServerSession:
    s = ServerSession(random_bytes=seeded_random(4), epoch_ms=EPOCH_MS, max_message_size=8192)
    s.receive_data(C0C1 + bytes(1536))

    def run() -> None:
        for piece in split(data, cuts):
            for e in s.receive_data(piece):
                name = type(e).__name__
                if name == "ConnectRequested":
                    s.accept_connect(
                        chunk_size=4096, out_ack_size=1000, server_ip="1.1.1.1", client_id="c", pid=1
                    )
                elif name == "PlayRequested":
                    s.start_play()
                elif name == "PublishRequested":
                    s.accept_publish()
                s.pending_events()

    ours(run)
    s.data_to_send()
    return s


@FUZZ
@given(mutations([FLOW], max_random=800), st.lists(st.integers(0, 3000), max_size=5))
def test_server_session(data: bytes, cuts: list[int]) -> None:
    _drive_server(data, cuts)


COMMAND_NAMES = [
    "connect",
    "createStream",
    "releaseStream",
    "FCPublish",
    "FCUnpublish",
    "publish",
    "play",
    "play2",
    "pause",
    "closeStream",
    "deleteStream",
    "_checkbw",
    "_result",
    "_error",
    "@setDataFrame",
    "getStreamLength",
]
AMF_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.dictionaries(st.text(max_size=5), inner, max_size=3) | st.lists(inner, max_size=3),
    max_leaves=4,
)


@st.composite
def command_flows(draw: st.DrawFn) -> bytes:
    """Well-formed chunks carrying commands of random names and shapes, plus media and data."""
    out = [chunked([Command("connect", 1.0, {"tcUrl": "rtmp://h/live"})])]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.integers(0, 5))
        if kind <= 3:
            name = draw(st.sampled_from(COMMAND_NAMES))
            obj = draw(st.none() | AMF_VALUES)
            args = tuple(draw(st.lists(AMF_VALUES, max_size=4)))
            body = Command(name, float(draw(st.integers(0, 9))), obj, args).encode(amf3=kind == 3)
            out.append(encode_message(3, 0, 17 if kind == 3 else 20, draw(st.integers(0, 1)), body, 128))
        elif kind == 4:
            body = amf0.encode(
                draw(st.sampled_from(["@setDataFrame", "onMetaData", "x"])),
                *draw(st.lists(AMF_VALUES, max_size=3)),
            )
            out.append(
                encode_message(
                    4, draw(st.integers(0, 1 << 33)), draw(st.sampled_from([15, 18])), 1, body, 128
                )
            )
        else:
            t = draw(st.sampled_from([8, 9, 22, 4, 5, 1, 3]))
            out.append(
                encode_message(
                    6, draw(st.integers(0, 1 << 33)), t, 1, draw(st.binary(min_size=1, max_size=40)), 128
                )
            )
    return b"".join(out)


@settings(FUZZ, max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "120")))
@given(command_flows(), st.lists(st.integers(0, 3000), max_size=4))
def test_server_session_command_flows(data: bytes, cuts: list[int]) -> None:
    _drive_server(data, cuts)


@FUZZ
@given(mutations([FLOW], max_random=800))
def test_client_session(data: bytes) -> None:
    c = ClientSession(random_bytes=seeded_random(5), epoch_ms=EPOCH_MS, max_message_size=8192)
    c.receive_data(S0S1S2)
    c.connect("rtmp://h/live")
    c.publish("s")
    ours(lambda: c.receive_data(data))
