"""Hostile and broken clients get a clean close and one log line; everyone else keeps streaming."""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import time
from pathlib import Path

import pytest

from srs.format import flv
from srs.protocol.rtmp.client import ClientSession
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags

from .conftest import Running, start_app

AV = [t for t in flv_tags(clip("bbb.flv")) if t.tag_type != flv.TagType.SCRIPT]


async def closed_within(reader: asyncio.StreamReader, timeout_s: float) -> bool:
    """True if the server closes the connection within ``timeout_s`` (reads until EOF)."""
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            data = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
            if not data:
                return True
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return False


async def handshaken(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw connection that completed a real handshake (our client's C0/C1/C2)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    s = ClientSession(random_bytes=os.urandom, epoch_ms=int(time.time() * 1000))
    writer.writelines(s.data_to_send())
    while not s.handshake_done:
        data = await asyncio.wait_for(reader.read(65536), 5)
        assert data
        s.receive_data(data)
        writer.writelines(s.data_to_send())
    return reader, writer


class Stream:
    """A publisher and a player that must keep streaming while bad clients come and go.

    ``looped``: the clip is published in real time over and over (for attacks that last longer
    than the 2.5 s the default, 4x speed, single pass takes)."""

    def __init__(self, server: Running, *, looped: bool = False) -> None:
        self.server = server
        self.looped = looped

    async def __aenter__(self) -> Stream:
        self.player = await RtmpClient.open(self.server.ports.rtmp)
        await self.player.play("good")
        self.pub = await RtmpClient.open(self.server.ports.rtmp)
        await self.pub.publish("good")
        send = self._loop() if self.looped else self.pub.send_tags(AV, realtime=True, speed=4)
        self.task = asyncio.get_running_loop().create_task(send)
        return self

    async def _loop(self) -> None:
        span = AV[-1].timestamp + 40
        n = 0
        while True:
            await self.pub.send_tags(
                [flv.FlvTag(t.tag_type, t.timestamp + n * span, t.body) for t in AV], realtime=True
            )
            n += 1

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()
        await self.pub.close()
        await self.player.close()

    async def still_flowing(self) -> None:
        n = len(self.player.media)
        await self.player.wait_media(n + 20, timeout_s=5)
        assert len(self.player.media) >= n + 20, "the good stream stalled"
        assert not self.player.closed.is_set()


@pytest.fixture
def warnings_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="srs")
    return caplog


async def test_garbage_and_truncated_handshakes(
    server: Running, warnings_log: pytest.LogCaptureFixture
) -> None:
    async with Stream(server) as good:
        # wrong RTMP version byte
        r, w = await asyncio.open_connection("127.0.0.1", server.ports.rtmp)
        w.write(b"\x07" + os.urandom(1536))
        assert await closed_within(r, 3)
        w.close()
        # HTTP to the RTMP port
        r, w = await asyncio.open_connection("127.0.0.1", server.ports.rtmp)
        w.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 2000)
        assert await closed_within(r, 3)
        w.close()
        # truncated handshake, then silence: closed by the identify deadline (2 s in tests)
        r, w = await asyncio.open_connection("127.0.0.1", server.ports.rtmp)
        w.write(b"\x03" + os.urandom(100))
        assert await closed_within(r, 5)
        w.close()
        await good.still_flowing()
    errors = [r for r in warnings_log.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert not any(r.exc_info for r in warnings_log.records)


async def test_slowloris_is_cut_off(server: Running) -> None:
    async with Stream(server) as good:
        r, w = await asyncio.open_connection("127.0.0.1", server.ports.rtmp)
        start = time.monotonic()
        closed = False
        payload = b"\x03" + os.urandom(1536)
        for b in payload:  # one byte every 100 ms: never complete within the deadline
            try:
                w.write(bytes([b]))
                await w.drain()
            except ConnectionError:
                closed = True
                break
            await asyncio.sleep(0.1)
            if r.at_eof() or time.monotonic() - start > 6:
                break
        closed = closed or await closed_within(r, 1)
        assert closed and time.monotonic() - start < 6
        w.close()
        await good.still_flowing()


@pytest.mark.parametrize(
    "chunk",
    [
        pytest.param(os.urandom(4096), id="random"),
        # fmt0 csid 3, declared length 16 MiB - 1 of type 20, then nothing: must not be buffered forever
        pytest.param(
            b"\x03" + b"\x00\x00\x00" + b"\xff\xff\xff" + b"\x14" + b"\x00" * 4 + b"A" * 1000, id="huge"
        ),
        # extended timestamp marker then truncated, then garbage basic headers on many csids
        pytest.param(b"".join(bytes([0x00, 0x40 + i % 60, 0]) + b"\x00" * 8 for i in range(300)), id="csids"),
        # set chunk size to 0 (invalid)
        pytest.param(
            b"\x02" + b"\x00" * 3 + b"\x00\x00\x04" + b"\x01" + b"\x00" * 4 + struct.pack(">I", 0),
            id="chunk0",
        ),
        # a command that is not AMF0
        pytest.param(
            b"\x03" + b"\x00" * 3 + b"\x00\x00\x10" + b"\x14" + b"\x00" * 4 + b"\xff" * 16, id="badamf"
        ),
    ],
)
async def test_bad_chunk_streams_after_handshake(server: Running, chunk: bytes) -> None:
    async with Stream(server) as good:
        r, w = await handshaken(server.ports.rtmp)
        w.write(chunk)
        assert await closed_within(r, 5)
        w.close()
        await good.still_flowing()
    assert len(server.ctx.connections) <= 2


async def test_many_bad_clients_at_once_memory_stays_bounded(server: Running) -> None:
    import psutil

    proc = psutil.Process()
    async with Stream(server) as good:
        before = proc.memory_info().rss

        async def bad(i: int) -> None:
            r, w = await handshaken(server.ports.rtmp)
            # declare a big message on a fresh csid and stop half way
            hdr = bytes([0x03]) + b"\x00\x00\x00" + (1 << 23).to_bytes(3, "big") + b"\x09" + b"\x00" * 4
            w.write(hdr + os.urandom(128) * 400)
            await closed_within(r, 4)
            w.close()

        await asyncio.gather(*(bad(i) for i in range(40)))
        grown = proc.memory_info().rss - before
        assert grown < 64 << 20, f"RSS grew by {grown >> 20} MiB"
        await good.still_flowing()


async def test_max_connections_enforced(tmp_path: Path) -> None:
    r = await start_app(tmp_path, max_connections=3)
    try:
        clients = [await RtmpClient.open(r.ports.rtmp) for _ in range(3)]
        reader, w = await asyncio.open_connection("127.0.0.1", r.ports.rtmp)
        w.write(b"\x03" + os.urandom(1536))
        assert await closed_within(reader, 3)
        w.close()
        await clients[0].close()
        await asyncio.sleep(0.2)
        again = await RtmpClient.open(r.ports.rtmp)  # a slot is free again
        await again.close()
        for c in clients[1:]:
            await c.close()
    finally:
        await r.app.stop(graceful=False)
