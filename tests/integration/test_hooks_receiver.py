"""A real HTTP hook server for the hook/security/heartbeat tests (an aiohttp app on loopback).

It records every request (method, path, query, headers, body) and answers what the test says:
``answer(call) -> Answer`` (status, body, delay). Also a self-signed certificate maker (openssl
CLI, files in the test's tmp dir: no key is ever committed) and an RTMP client that sets pageUrl.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from srs.protocol.rtmp.client import ClientSession
from srs.protocol.rtmp.events import Connected, HandshakeCompleted
from support.net import free_port
from support.rtmp_client import RtmpClient


@dataclass
class Call:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def action(self) -> str:
        j = self.json
        return str(j.get("action", "")) if isinstance(j, dict) else ""


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"0"
    delay_s: float = 0.0


class Receiver:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.answer: Callable[[Call], Answer] = lambda call: Answer()
        self.port = 0
        self.scheme = "http"
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        self.port = free_port()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=ssl_context)
        await site.start()
        self.scheme = "https" if ssl_context is not None else "http"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str = "/hook") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        call = Call(
            request.method,
            request.path,
            request.query_string,
            dict(request.headers),
            await request.read(),
        )
        self.calls.append(call)
        self._changed.set()
        a = self.answer(call)
        if a.delay_s:
            await asyncio.sleep(a.delay_s)
        return web.Response(status=a.status, body=a.body)

    def actions(self, action: str | None = None) -> list[Call]:
        return [c for c in self.calls if action is None or c.action == action]

    async def wait(self, action: str, n: int = 1, timeout_s: float = 5.0) -> list[Call]:
        deadline = time.monotonic() + timeout_s
        while len(self.actions(action)) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                got = [c.action for c in self.calls]
                raise TimeoutError(f"waited for {n} x {action}, got {got}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                pass
        return self.actions(action)


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A throw-away key and certificate for 127.0.0.1, made now with the openssl CLI."""
    key, crt = tmp / "hook.key", tmp / "hook.crt"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(crt),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, crt


def server_ssl(tmp: Path) -> ssl.SSLContext:
    key, crt = self_signed(tmp)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(crt), str(key))
    return ctx


async def open_rtmp(
    port: int, *, app: str = "live", tc_url: str | None = None, page_url: str = ""
) -> RtmpClient:
    """Like ``RtmpClient.open`` but the connect command carries ``pageUrl``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    session = ClientSession(random_bytes=os.urandom, epoch_ms=int(time.time() * 1000))
    client = RtmpClient(reader, writer, session)
    await client.wait_for(lambda e: isinstance(e, HandshakeCompleted), "handshake")
    session.connect(tc_url or f"rtmp://127.0.0.1:{port}/{app}", pageUrl=page_url)
    client._flush()
    await client.wait_for(lambda e: isinstance(e, Connected), "connect")
    return client


def hooks_block(**urls: str) -> str:
    """An ``http_hooks`` block: ``hooks_block(on_play="url1 url2")``."""
    lines = "".join(f"        {k} {v};\n" for k, v in urls.items())
    return f"    http_hooks {{\n        enabled on;\n{lines}    }}\n"


async def raw_get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout_s: float = 3.0
) -> bytes:
    """One plain HTTP/1.1 GET on a fresh connection; returns the first bytes of the answer (``b""``
    when the server closed the connection without answering). No retries, unlike aiohttp's client."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        return await asyncio.wait_for(reader.read(1024), timeout_s)
    except ConnectionError:
        return b""
    finally:
        writer.close()
