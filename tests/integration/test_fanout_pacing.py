"""The paced merged write through real sockets (issue 7).

``mw_cpu_budget`` (ours) lets an unloaded server deliver long before SRS's merged write would
(``mw_latency`` of media); ``mw_cpu_budget 0`` is SRS's merged write exactly. Whatever the pacing,
many RTMP and HTTP-FLV players of one stream get every tag, byte for byte and in order, while a
player that stopped reading is left behind without holding anyone up.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from srs.config import parse_text
from srs.format import flv
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags
from support.server import DEFAULT_VHOST_BODY, Ports, render_conf

from .conftest import start_app
from .test_live_core import stalled_player

AV = [t for t in flv_tags(clip("avatar.flv")) if t.tag_type != flv.TagType.SCRIPT]
# A merged write SRS would only send after 10 s of media (or 10 s of wall time, by its timer).
LONG_MW = DEFAULT_VHOST_BODY + " play { mw_latency 10000; }"


async def publish_and_count(port: int, stream: str, tags: list[flv.FlvTag], wait_s: float) -> int:
    """A player joins first, a publisher sends ``tags``; how many arrive within ``wait_s``."""
    player = await RtmpClient.open(port)
    await player.play(stream)
    pub = await RtmpClient.open(port)
    await pub.publish(stream)
    await pub.send_tags(tags)
    with contextlib.suppress(TimeoutError):
        await player.wait_media(len(tags), timeout_s=wait_s)
    n = len(player.media)
    await pub.close()
    await player.close()
    return n


async def test_an_unloaded_server_delivers_before_the_merged_write_fills(tmp_path: Path) -> None:
    r = await start_app(tmp_path, vhost_body=LONG_MW)
    try:
        # 5 messages, ~100 ms of media: far from 10 s of media and from mw_msgs (8)
        assert await publish_and_count(r.ports.rtmp, "paced", AV[:5], wait_s=5.0) == 5
        assert r.ctx.pacer.rounds > 0
    finally:
        await r.app.stop(graceful=False)


async def test_mw_cpu_budget_0_is_srs_merged_write(tmp_path: Path) -> None:
    r = await start_app(tmp_path, vhost_body=LONG_MW, extra="mw_cpu_budget 0;")
    try:
        # SRS waits for 10 s of media (or of wall time): nothing within 2 s
        assert await publish_and_count(r.ports.rtmp, "srs", AV[:5], wait_s=2.0) == 0
        # reload to the default budget: the next messages go out paced
        conf = render_conf(_ports(r.ports), vhost_body=LONG_MW).replace("./objs/nginx/html", str(tmp_path))
        result = await r.app.reload(parse_text(conf))
        assert result.ok and "mw_cpu_budget 20" in result.changes
        assert r.ctx.pacer.duty == 0.2
        assert await publish_and_count(r.ports.rtmp, "paced2", AV[:5], wait_s=5.0) == 5
    finally:
        await r.app.stop(graceful=False)


def _ports(p: Ports) -> Ports:
    q = Ports.__new__(Ports)
    q.rtmp, q.http, q.api = p.rtmp, p.http, p.api
    return q


async def test_many_players_get_every_tag_in_order_and_a_stalled_one_holds_nobody(tmp_path: Path) -> None:
    body = DEFAULT_VHOST_BODY + " play { queue_length 2; }"
    r = await start_app(tmp_path, vhost_body=body)
    loop = asyncio.get_running_loop()
    try:
        sock, _ = await loop.run_in_executor(None, stalled_player, r.ports.rtmp, "many")
        rtmp_players = [await RtmpClient.open(r.ports.rtmp) for _ in range(8)]
        for p in rtmp_players:
            await p.play("many")
        async with aiohttp.ClientSession() as http:
            flv_players = [await http.get(r.flv_url("many")) for _ in range(8)]
            reading = [loop.create_task(resp.read()) for resp in flv_players]  # they keep up
            pub = await RtmpClient.open(r.ports.rtmp)
            await pub.publish("many")
            laps = 24  # 4.6 min of media (8 MB) as fast as the socket takes it: bursts, and the
            sent = [  # stalled player falls more than queue_length behind
                flv.FlvTag(t.tag_type, t.timestamp + lap * 12000, t.body) for lap in range(laps) for t in AV
            ]
            for lap in range(laps):
                await pub.send_tags(sent[lap * len(AV) : (lap + 1) * len(AV)])
                await asyncio.sleep(0.02)
            for p in rtmp_players:
                await p.wait_media(len(sent), timeout_s=30)
                assert [(m.msg_type, m.payload) for m in p.media] == [(int(t.tag_type), t.body) for t in sent]
            src = r.ctx.registry.find("/live/many")
            assert src is not None
            behind = [c for c in src.consumers if c.dropped_msgs]
            assert len(behind) == 1 and behind[0].drops >= 1  # only the stalled player, whole GOPs
            await pub.close()  # the HTTP-FLV responses end after the tail
            for task in reading:
                data = await asyncio.wait_for(task, 30)
                header, tags = flv.parse_file(data)
                assert header.has_audio and header.has_video
                got = [(t.tag_type, t.body) for t in tags if t.tag_type != flv.TagType.SCRIPT]
                assert got == [(t.tag_type, t.body) for t in sent]
        sock.close()
        for p in rtmp_players:
            await p.close()
    finally:
        await r.app.stop(graceful=False)
