"""An asyncio RTMP client over our sans-IO ClientSession, for integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path

from srs.format import flv
from srs.protocol.rtmp.client import ClientSession
from srs.protocol.rtmp.events import (
    ClientType,
    Connected,
    Event,
    HandshakeCompleted,
    MediaReceived,
    MetadataReceived,
    StatusReceived,
)


class RtmpClient:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: ClientSession
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.session = session
        self.events: asyncio.Queue[Event | None] = asyncio.Queue()
        self.media: list[MediaReceived] = []
        self.metadata: list[MetadataReceived] = []
        self.statuses: list[dict[str, object]] = []
        self.closed = asyncio.Event()
        self.error: BaseException | None = None
        self._task = asyncio.get_running_loop().create_task(self._read_loop())
        self._flush()

    @classmethod
    async def open(
        cls,
        port: int,
        *,
        host: str = "127.0.0.1",
        app: str = "live",
        tc_url: str | None = None,
        complex_handshake: bool = True,
        sock: socket.socket | None = None,
    ) -> RtmpClient:
        """``sock``: an already connected socket to use (e.g. with a small receive buffer)."""
        if sock is not None:
            reader, writer = await asyncio.open_connection(sock=sock)
        else:
            reader, writer = await asyncio.open_connection(host, port)
        session = ClientSession(
            random_bytes=os.urandom, epoch_ms=int(time.time() * 1000), complex_handshake=complex_handshake
        )
        client = cls(reader, writer, session)
        await client.wait_for(lambda e: isinstance(e, HandshakeCompleted), "handshake")
        h = f"[{host}]" if ":" in host else host
        session.connect(tc_url or f"rtmp://{h}:{port}/{app}")
        client._flush()
        await client.wait_for(lambda e: isinstance(e, Connected), "connect")
        return client

    def stop_reading(self) -> None:
        """Play a peer that stops reading: the socket buffers fill and the server's writes stall."""
        self._task.cancel()

    def _flush(self) -> None:
        out = self.session.data_to_send()
        if out and not self.writer.is_closing():
            self.writer.writelines(out)

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for e in self.session.receive_data(data):
                    if isinstance(e, MediaReceived):
                        self.media.append(e)
                    elif isinstance(e, MetadataReceived):
                        self.metadata.append(e)
                    elif isinstance(e, StatusReceived):
                        self.statuses.append(e.info)
                    await self.events.put(e)
                self._flush()
        except (ConnectionError, OSError) as e:
            self.error = e
        except Exception as e:  # protocol errors are recorded for the test to see
            self.error = e
        finally:
            self.closed.set()
            await self.events.put(None)

    async def wait_for(self, pred: object, what: str, timeout_s: float = 10.0) -> Event:
        assert callable(pred)
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timeout waiting for {what}")
            e = await asyncio.wait_for(self.events.get(), left)
            if e is None:
                raise ConnectionError(f"connection closed while waiting for {what}: {self.error!r}")
            if pred(e):
                return e

    async def wait_status(self, code: str, timeout_s: float = 10.0) -> dict[str, object]:
        e = await self.wait_for(
            lambda e: isinstance(e, StatusReceived) and e.info.get("code") == code, code, timeout_s
        )
        assert isinstance(e, StatusReceived)
        return e.info

    async def publish(self, stream: str, client_type: ClientType = ClientType.FMLE_PUBLISH) -> None:
        self.session.publish(stream, client_type=client_type)
        self._flush()
        await self.wait_status("NetStream.Publish.Start")

    async def play(self, stream: str, **kwargs: object) -> None:
        self.session.play(stream, **kwargs)  # type: ignore[arg-type]
        self._flush()
        await self.wait_status("NetStream.Play.Start")

    def send(self, tag_type: int, timestamp: int, payload: bytes) -> None:
        if tag_type == flv.TagType.SCRIPT:
            self.session.send_message(18, payload, csid=4, stream_id=1, timestamp=timestamp)
        else:
            self.session.send_media(tag_type, timestamp, payload)
        self._flush()

    async def send_tags(
        self, tags: Iterable[flv.FlvTag], *, realtime: bool = False, speed: float = 1.0
    ) -> None:
        start = time.monotonic()
        first: int | None = None
        for tag in tags:
            if realtime:
                first = tag.timestamp if first is None else first
                due = start + (tag.timestamp - first) / 1000 / speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            self.send(tag.tag_type, tag.timestamp, tag.body)
            await self.writer.drain()

    async def wait_media(self, count: int, timeout_s: float = 10.0) -> list[MediaReceived]:
        deadline = time.monotonic() + timeout_s
        while len(self.media) < count:
            if self.closed.is_set() or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        return self.media

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
            await self.writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


def flv_tags(path: Path | str) -> list[flv.FlvTag]:
    _, tags = flv.parse_file(Path(path).read_bytes())
    return tags
