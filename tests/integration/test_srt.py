"""The SRT server in-process (ffmpeg/ffprobe as the SRT peers): hooks in SRS's order with the
streamid's parameters, stats client types, a hook refusing a publisher, a busy stream, kick."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from srs.server.srt import libsrt
from support.media import clip
from support.server import DEFAULT_VHOST_BODY

from .conftest import Running, start_app
from .test_hooks_receiver import Answer, Receiver, hooks_block

ALL_HOOKS = ("on_connect", "on_close", "on_publish", "on_unpublish", "on_play", "on_stop")
SRT_VHOST = DEFAULT_VHOST_BODY + "    srt { enabled on; srt_to_rtmp on; }\n"
SRT_SERVER = "srt_server { enabled on; listen 0; }"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.stop()


async def start(tmp_path: Path, receiver: Receiver) -> Running:
    urls = {h: receiver.url(f"/{h}") for h in ALL_HOOKS}
    r = await start_app(tmp_path, vhost_body=SRT_VHOST + hooks_block(**urls), extra=SRT_SERVER)
    assert r.app.srt is not None and r.app.srt.port > 0
    r.app.hooks.timeout_s = 3.0
    return r


def srt_url(r: Running, streamid: str) -> str:
    assert r.app.srt is not None
    return f"srt://127.0.0.1:{r.app.srt.port}?streamid={streamid}"


async def ffmpeg_publish(url: str, seconds: float = 30) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *("ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", str(clip("bbb.flv"))),
        *("-t", str(seconds), "-c", "copy", "-f", "mpegts", url),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def until(cond: object, timeout_s: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not cond():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


def kinds(r: Running) -> dict[str, str]:
    return {c.client.kind: c.client.cid for c in r.app.stats.clients()}


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
    await proc.wait()


async def test_publish_and_play_hooks_and_stats(tmp_path: Path, receiver: Receiver) -> None:
    r = await start(tmp_path, receiver)
    pub = None
    try:
        pub = await ffmpeg_publish(srt_url(r, "#!::h=__defaultVhost__,r=live/cam,token=abc,m=publish"))
        [connect] = await receiver.wait("on_connect", timeout_s=10)
        [publish] = await receiver.wait("on_publish")
        for call in (connect, publish):
            body = call.json
            assert (body["app"], body["stream"], body["ip"]) == ("live", "cam", "127.0.0.1")
            assert body["param"] == "?vhost=__defaultVhost__&token=abc"
            assert body["tcUrl"] == "srt://__defaultVhost__/live"
        await until(lambda: "srt-publish" in kinds(r))
        src = r.ctx.registry.find("/live/cam")
        assert src is not None
        await until(lambda: src.publishing and src.head is not None)
        # a player over SRT
        probe = await asyncio.create_subprocess_exec(
            *("ffprobe", "-v", "error", "-read_intervals", "%+#30", "-show_entries", "stream=codec_name"),
            *("-of", "csv", srt_url(r, "#!::r=live/cam,m=request")),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(probe.communicate(), 30)
        assert probe.returncode == 0, err
        assert set(re.findall(r"stream,(\w+)", out.decode())) == {"h264", "aac"}
        [play] = await receiver.wait("on_play")
        await receiver.wait("on_stop")
        assert play.json["stream"] == "cam" and play.json["param"] == ""
        # kick the publisher: on_unpublish, then on_close; the stream is free again
        assert r.app.srt is not None
        cid = kinds(r)["srt-publish"]
        r.ctx.connections[cid].close("kicked")
        await receiver.wait("on_unpublish")
        await receiver.wait("on_close", 2)
        await until(lambda: not src.publishing)
        order = [c.action for c in receiver.calls]
        assert order.index("on_connect") < order.index("on_publish") < order.index("on_unpublish")
    finally:
        if pub is not None:
            await stop(pub)
        await r.app.stop(graceful=False)


async def test_refused_publisher_and_busy_stream(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answer = lambda call: (
        Answer(200, b'{"code":1}')
        if call.action == "on_publish" and "nope" in call.body.decode()
        else Answer()
    )
    r = await start(tmp_path, receiver)
    procs: list[asyncio.subprocess.Process] = []
    try:
        refused = await ffmpeg_publish(srt_url(r, "#!::r=live/nope,m=publish"), seconds=5)
        procs.append(refused)
        await receiver.wait("on_close", timeout_s=10)
        await until(lambda: not r.ctx.connections)
        assert r.ctx.registry.find("/live/nope") is None or not r.ctx.registry.find("/live/nope").publishing
        # the first publisher of /live/busy keeps it; a second is closed (SRS: busy)
        first = await ffmpeg_publish(srt_url(r, "#!::r=live/busy,m=publish"))
        procs.append(first)
        await receiver.wait("on_publish", 2, timeout_s=10)
        await until(lambda: "srt-publish" in kinds(r))
        second = await ffmpeg_publish(srt_url(r, "#!::r=live/busy,m=publish"))
        procs.append(second)
        await receiver.wait("on_publish", 3, timeout_s=10)
        await receiver.wait("on_close", 2, timeout_s=10)
        src = r.ctx.registry.find("/live/busy")
        assert src is not None and src.publishing
        assert len([c for c in r.ctx.connections.values() if c.kind == "srt-publish"]) == 1
    finally:
        for p in procs:
            await stop(p)
        await r.app.stop(graceful=False)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_a_publisher_sending_something_else_than_ts_is_closed(
    tmp_path: Path, receiver: Receiver
) -> None:
    r = await start(tmp_path, receiver)
    seen = _Lines()
    logging.getLogger("srs").addHandler(seen)
    srt = libsrt.load()
    assert srt is not None and r.app.srt is not None
    s = srt.create_socket()
    try:
        srt.set_str(s, libsrt.SRTO_STREAMID, "#!::r=live/junk,m=publish")
        await asyncio.to_thread(srt.connect, s, "127.0.0.1", r.app.srt.port)
        await receiver.wait("on_publish")
        assert srt.sendmsg(s, bytes(range(188)) * 7) == 1316  # not TS: the first byte is not 0x47
        await receiver.wait("on_unpublish")
        await receiver.wait("on_close")
        await until(lambda: not r.ctx.connections)
        assert any("invalid ts packet len=1316 first=0x0" in line for line in seen.lines), seen.lines
        src = r.ctx.registry.find("/live/junk")
        assert src is None or not src.publishing
    finally:
        logging.getLogger("srs").removeHandler(seen)
        srt.close(s)
        await r.app.stop(graceful=False)
