"""HTTP-TS players share one TS muxing per stream: each message is muxed once, whatever the number
of players, and every player gets a clean transport stream (no continuity errors)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from srs.format import flv
from srs.format.ts import StreamType, TsDemuxer
from srs.remux import ts as remux_ts
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags

from .conftest import start_app

AV = [t for t in flv_tags(clip("bbb.flv")) if t.tag_type != flv.TagType.SCRIPT]
TS_MOUNT = "http_remux { enabled on; mount [vhost]/[app]/[stream].ts; }"


async def test_one_mux_per_message_for_many_players(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    encode = remux_ts.TsRemuxer.encode

    def counting(self: remux_ts.TsRemuxer, msg: object) -> bytes:
        nonlocal calls
        calls += 1
        return encode(self, msg)  # type: ignore[arg-type]

    monkeypatch.setattr(remux_ts.TsRemuxer, "encode", counting)
    r = await start_app(tmp_path, vhost_body=TS_MOUNT)
    url = f"http://127.0.0.1:{r.ports.http}/live/s.ts"
    try:
        async with aiohttp.ClientSession() as http:
            players = [await http.get(url) for _ in range(8)]
            assert [(p.status, p.headers["Content-Type"]) for p in players] == [(200, "video/MP2T")] * 8
            pub = await RtmpClient.open(r.ports.rtmp)
            await pub.publish("s")
            await pub.send_tags(AV[:200])

            async def read(resp: aiohttp.ClientResponse) -> bytes:
                data = b""
                try:
                    while chunk := await asyncio.wait_for(resp.content.read(65536), 1.5):
                        data += chunk
                except TimeoutError:
                    pass  # everything published so far has arrived
                return data

            got = await asyncio.gather(*(read(p) for p in players))
            await pub.close()
            for p in players:
                p.close()
        # 200 messages, +2 sequence headers per player (the newcomer's prefix): not 8 x 200.
        assert calls <= 200 + 2 * 8, calls
        for data in got:
            d = TsDemuxer()
            frames = d.feed(data)
            assert d.errors == 0 and not any(f.discontinuity for f in frames)
            assert {s.stream_type for s in d.streams.values()} == {StreamType.H264, StreamType.AAC}
            video = [f for f in frames if f.stream_type == StreamType.H264]
            assert video and video[0].random_access  # a player starts at a keyframe
        assert len(got[0]) > 100_000
        assert len(set(got)) == 1  # the same bytes for players that came together
    finally:
        await r.app.stop(graceful=False)
