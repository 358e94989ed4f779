"""Publish, unpublish and play in tight random interleavings: no crash, no leak, no error log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import aiohttp
import pytest

from srs.format import flv
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags

from .conftest import Running

AV = [t for t in flv_tags(clip("bbb.flv")) if t.tag_type != flv.TagType.SCRIPT][:120]


async def publisher(port: int, stream: str, rng: random.Random) -> None:
    with contextlib.suppress(ConnectionError, TimeoutError, OSError):
        c = await RtmpClient.open(port)
        try:
            c.session.publish(stream)
            c._flush()
            await asyncio.sleep(rng.random() * 0.02)
            with contextlib.suppress(ConnectionError, TimeoutError):
                await c.wait_status("NetStream.Publish.Start", timeout_s=2)
                n = rng.randrange(0, len(AV))
                await c.send_tags(AV[:n])
            if rng.random() < 0.3:  # sometimes unpublish politely first
                c.session.unpublish(stream)
                c._flush()
            await asyncio.sleep(rng.random() * 0.03)
        finally:
            await c.close()


async def rtmp_player(port: int, stream: str, rng: random.Random) -> None:
    with contextlib.suppress(ConnectionError, TimeoutError, OSError):
        c = await RtmpClient.open(port)
        try:
            c.session.play(stream)
            c._flush()
            await asyncio.sleep(rng.random() * 0.05)
        finally:
            await c.close()


async def flv_player(url: str, rng: random.Random) -> None:
    with contextlib.suppress(aiohttp.ClientError, TimeoutError, asyncio.TimeoutError, ConnectionError):
        async with aiohttp.ClientSession() as http:
            resp = await http.get(url, timeout=aiohttp.ClientTimeout(total=2))
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(
                    resp.content.read(rng.randrange(1, 50000)), rng.random() * 0.05 + 0.001
                )
            resp.close()


@pytest.mark.parametrize("seed", range(4))
async def test_random_interleavings_never_crash_or_leak(
    server: Running, caplog: pytest.LogCaptureFixture, seed: int
) -> None:
    caplog.set_level(logging.WARNING)  # every logger: asyncio's "exception never retrieved" too
    rng = random.Random(seed)
    port = server.ports.rtmp
    for round_ in range(12):
        stream = f"race{seed}_{round_ % 3}"
        jobs = []
        for _ in range(rng.randrange(4, 10)):
            kind = rng.random()
            delay = rng.random() * 0.03

            async def job(kind: float = kind, delay: float = delay, stream: str = stream) -> None:
                await asyncio.sleep(delay)
                if kind < 0.35:
                    await publisher(port, stream, rng)
                elif kind < 0.7:
                    await rtmp_player(port, stream, rng)
                else:
                    await flv_player(server.flv_url(stream), rng)

            jobs.append(job())
        await asyncio.gather(*jobs)
    # everything is gone once all clients left
    for _ in range(100):
        if not server.ctx.connections and len(server.ctx.registry) == 0:
            break
        await asyncio.sleep(0.05)
    assert not server.ctx.connections, list(server.ctx.connections.values())
    assert len(server.ctx.registry) == 0, list(server.ctx.registry)
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]
