"""RTSP credentials (ours, ``rtsp_server.auth``) in a real App: 401 challenges, Basic and Digest
players/publishers, ``user=`` in the hooks' param, a hook denying one user, failures closing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from srs.protocol.rtsp.auth import MAX_FAILURES, basic_header, digest_response
from srs.protocol.rtsp.message import Interleaved, RtspMessage, RtspParser
from support.net import free_port

from .conftest import Running, start_app
from .test_hooks_receiver import Answer, Receiver, hooks_block
from .test_rtsp_publish import TAGS, _announce_sdp, _interleaved

VHOST = "rtsp { enabled on; rtmp_to_rtsp on; }"
AUTH = "auth { enabled on; realm SRS; user admin secret; user cam1 pass1; user bob bobpw; }"


class Client:
    """A raw RTSP client keeping each answer's raw head (repeated headers are lost in the parsed one)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = RtspParser()
        self.cseq = 0
        self.frames: list[Interleaved] = []
        self.raw = b""

    @classmethod
    async def open(cls, port: int) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def ask(self, method: str, uri: str, body: bytes = b"", **headers: str) -> tuple[RtspMessage, str]:
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        while True:
            data = await asyncio.wait_for(self.reader.read(65536), 10)
            assert data, f"connection closed waiting for {method}"
            self.raw += data
            for it in self.parser.feed(data):
                if isinstance(it, Interleaved):
                    self.frames.append(it)
                elif it.cseq == self.cseq:
                    head = self.raw.decode("latin-1")
                    start = head.rfind("RTSP/1.0 ", 0, head.find(f"CSeq: {self.cseq}\r\n"))
                    self.raw = b""
                    return it, head[start:]

    async def closed(self) -> bool:
        try:
            while await asyncio.wait_for(self.reader.read(65536), 10):
                pass
        except (ConnectionError, TimeoutError):
            return False
        return True

    def close(self) -> None:
        self.writer.close()


def _nonce(head: str) -> str:
    found = re.search(r'WWW-Authenticate: Digest realm="SRS", nonce="([0-9a-f]+)"', head)
    assert found, head
    return found.group(1)


def _digest(user: str, password: str, method: str, uri: str, nonce: str) -> str:
    r = digest_response(user, "SRS", password, method, uri, nonce)
    return f'Digest username="{user}", realm="SRS", nonce="{nonce}", uri="{uri}", response="{r}"'


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


@pytest.fixture
async def app(tmp_path: Path, receiver: Receiver) -> AsyncIterator[tuple[Running, int]]:
    port = free_port()
    hooks = hooks_block(**{k: receiver.url() for k in ("on_publish", "on_unpublish", "on_play", "on_stop")})
    r = await start_app(
        tmp_path, vhost_body=VHOST + hooks, extra=f"rtsp_server {{ enabled on; listen {port}; {AUTH} }}"
    )
    r.app.hooks.timeout_s = 3.0
    try:
        yield r, port
    finally:
        await r.app.stop(graceful=False)


async def test_challenge_then_digest_player_and_basic_publisher(
    app: tuple[Running, int], receiver: Receiver
) -> None:
    _, port = app
    url = f"rtsp://127.0.0.1:{port}/live/a"
    # a publisher with Basic credentials (and a client-side user= claim that is replaced)
    pub = await Client.open(port)
    m, head = await pub.ask("OPTIONS", url)
    assert m.status == 200 and "DESCRIBE" in m.headers["public"]  # OPTIONS needs no credentials
    sdp = _announce_sdp(url).encode()
    m, head = await pub.ask("ANNOUNCE", url + "?user=cam1&k=v", sdp, Content_Type="application/sdp")
    assert m.status == 401
    assert head.count("WWW-Authenticate:") == 2 and 'WWW-Authenticate: Basic realm="SRS"' in head
    assert head.index("Digest") < head.index("Basic")
    basic = basic_header("admin", "secret")
    m, _ = await pub.ask("ANNOUNCE", url + "?user=cam1&k=v", sdp, Content_Type="application/sdp",
                         Authorization=basic)  # fmt: skip
    assert m.status == 200, m
    (call,) = await receiver.wait("on_publish")
    assert call.json["param"] == "?k=v&user=admin"
    for i, ch in ((0, "0-1"), (1, "2-3")):
        transport = f"RTP/AVP/TCP;unicast;interleaved={ch};mode=record"
        m, _ = await pub.ask("SETUP", f"{url}/trackID={i}", Transport=transport, Authorization=basic)
        assert m.status == 200
    m, _ = await pub.ask("RECORD", url, Session=m.session, Authorization=basic)
    assert m.status == 200
    pub.writer.write(_interleaved(TAGS[:150]))

    # a player with Digest credentials (the uri is the full URL, as ffmpeg sends)
    c = await Client.open(port)
    m, head = await c.ask("DESCRIBE", url)
    assert m.status == 401
    nonce = _nonce(head)
    m, _ = await c.ask("DESCRIBE", url, Authorization=_digest("cam1", "pass1", "DESCRIBE", url, nonce))
    assert m.status == 200 and b"m=video" in m.body, m
    (call,) = await receiver.wait("on_play")
    assert call.json["param"] == "?user=cam1"
    m, _ = await c.ask("SETUP", url + "/trackID=1", Transport="RTP/AVP/TCP;interleaved=0-1")
    assert m.status == 401 and c.frames == []  # every request needs credentials
    track = url + "/trackID=1"
    m, _ = await c.ask("SETUP", track, Transport="RTP/AVP/TCP;interleaved=0-1",
                       Authorization=_digest("cam1", "pass1", "SETUP", track, nonce))  # fmt: skip
    assert m.status == 200
    m, _ = await c.ask(
        "PLAY", url, Session=m.session, Authorization=_digest("cam1", "pass1", "PLAY", url, nonce)
    )
    assert m.status == 200
    pub.writer.write(_interleaved(TAGS[150:]))
    while not any(f.channel == 0 for f in c.frames):
        data = await asyncio.wait_for(c.reader.read(65536), 10)
        assert data
        c.frames += [it for it in c.parser.feed(data) if isinstance(it, Interleaved)]
    c.close()
    await receiver.wait("on_stop")
    pub.close()
    await receiver.wait("on_unpublish")


async def test_hook_denies_one_user(app: tuple[Running, int], receiver: Receiver) -> None:
    _, port = app
    url = f"rtsp://127.0.0.1:{port}/live/b"
    receiver.answer = lambda call: Answer(status=403) if "user=bob" in call.json["param"] else Answer()
    c = await Client.open(port)
    m, head = await c.ask("DESCRIBE", url, Authorization=basic_header("bob", "bobpw"))
    assert m.status == 401 and "WWW-Authenticate" not in head  # the hook's refusal, as without auth
    (call,) = await receiver.wait("on_play")
    assert call.json["param"] == "?user=bob"
    c.close()
    c = await Client.open(port)
    m, _ = await c.ask("DESCRIBE", url, Authorization=basic_header("cam1", "pass1"))
    assert m.status == 404  # allowed by the hook; not published
    c.close()


async def test_wrong_credentials_then_closed(app: tuple[Running, int], receiver: Receiver) -> None:
    _, port = app
    url = f"rtsp://127.0.0.1:{port}/live/c"
    c = await Client.open(port)
    m, head = await c.ask("DESCRIBE", url)
    nonce = _nonce(head)
    for i in range(MAX_FAILURES - 1):
        wrong = _digest("cam1", "nope", "DESCRIBE", url, nonce) if i % 2 else basic_header("cam1", "x")
        m, head = await c.ask("DESCRIBE", url, Authorization=wrong)
        assert m.status == 401 and _nonce(head) == nonce  # the same nonce for the connection's life
    c.writer.write(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 99\r\nAuthorization: Basic eDp5\r\n\r\n".encode())
    rest = b""
    while chunk := await asyncio.wait_for(c.reader.read(65536), 10):
        rest += chunk
    assert rest.startswith(b"RTSP/1.0 401 ")  # the last answer, then the server closes
    assert receiver.actions("on_play") == []
    # a new connection gets a new nonce; its valid credentials pass
    c = await Client.open(port)
    m, head = await c.ask("DESCRIBE", url)
    assert _nonce(head) != nonce
    m, _ = await c.ask(
        "DESCRIBE", url, Authorization=_digest("admin", "secret", "DESCRIBE", url, _nonce(head))
    )
    assert m.status == 404
    c.close()
