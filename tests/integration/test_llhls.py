"""Low-Latency HLS from the server: blocking playlist reloads answered as parts appear, parts and
the newest segments from memory, plain HLS on disk, bad blocking requests refused."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import aiohttp

from srs.format import flv, m3u8, mp4
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags

from .conftest import start_app

AV = [t for t in flv_tags(clip("bbb.flv")) if t.tag_type != flv.TagType.SCRIPT]
LL = """
    hls {
        enabled on;
        hls_fragment 1;
        hls_window 10;
        hls_use_fmp4 on;
        hls_ll on;
        hls_part 0.2;
        hls_ctx off;
        hls_path ./objs/nginx/html;
    }
"""


async def publish(port: int, seconds: float) -> None:
    c = await RtmpClient.open(port)
    await c.publish("s")
    await c.send_tags([t for t in AV if t.timestamp <= seconds * 1000], realtime=True)
    await c.close()


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, bytes, float]:
    async with http.get(url) as r:
        return r.status, await r.read(), time.time()


async def test_blocking_reloads_deliver_each_part(tmp_path: Path) -> None:
    r = await start_app(tmp_path, vhost_body=LL)
    base = f"http://127.0.0.1:{r.ports.http}/live"
    pub = asyncio.create_task(publish(r.ports.rtmp, 8))
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # the first playlist, once the first part exists
                status, body, _ = await get(http, f"{base}/s.m3u8")
                if status == 200 and m3u8.parse(body.decode()).tail_parts:
                    break
                await asyncio.sleep(0.05)
            delays: list[float] = []
            playlist = m3u8.parse(body.decode())
            assert playlist.part_target_s == 0.2 and playlist.preload_hint
            for _ in range(20):  # follow the live edge part by part, as an LL-HLS player does
                msn, part = _next(playlist)
                asked = time.time()
                status, body, got = await get(http, f"{base}/s.m3u8?_HLS_msn={msn}&_HLS_part={part}")
                assert status == 200, body
                playlist = m3u8.parse(body.decode())
                made = _part_end_ms(playlist, msn, part)
                assert made is not None, f"the answer lacks part {msn}.{part}"
                delays.append(got - made / 1000)
                assert got - asked > 0.02 or made / 1000 <= asked  # held until it existed
                # The part itself, from memory: one moof + mdat whose samples decode-time in order.
                status, data, _ = await get(http, f"{base}/s-{msn}.{part}.m4s")
                assert status == 200 and mp4.read_fragments(data)
            # A request for the part the preload hint names is held until it exists.
            status, data, _ = await get(http, f"{base}/{playlist.preload_hint}")
            assert status == 200 and mp4.read_fragments(data)
            print(
                f"LL-HLS part delivery after production: p50 {statistics.median(delays) * 1000:.0f} ms, "
                f"max {max(delays) * 1000:.0f} ms over {len(delays)} parts"
            )
            # The bar: each part within one part duration of its production (median, as
            # a loaded CI machine may stall a single one).
            assert statistics.median(delays) < 0.2, delays
        await pub
        disk = (tmp_path / "html" / "live" / "s.m3u8").read_text()
        assert "#EXT-X-PART" not in disk and "#EXTINF" in disk  # plain HLS for other web servers
    finally:
        pub.cancel()
        await r.app.stop(graceful=False)


def _next(p: m3u8.MediaPlaylist) -> tuple[int, int]:
    last = p.segments[-1].sequence if p.segments else p.media_sequence - 1
    if p.tail_parts:
        return last + 1, len(p.tail_parts)
    return last + 1, 0


def _part_end_ms(p: m3u8.MediaPlaylist, msn: int, part: int) -> int | None:
    """The wall clock at which part ``part`` of segment ``msn`` ended (PROGRAM-DATE-TIME)."""
    for s in p.segments:
        if s.sequence == msn and s.date_ms is not None:
            if part < len(s.parts):
                return s.date_ms + round(sum(x.duration_s for x in s.parts[: part + 1]) * 1000)
            return s.date_ms + round(s.duration_s * 1000)
    last = p.segments[-1].sequence if p.segments else -1
    if msn == last + 1 and part < len(p.tail_parts) and p.tail_date_ms is not None:
        return p.tail_date_ms + round(sum(x.duration_s for x in p.tail_parts[: part + 1]) * 1000)
    return None


async def test_bad_blocking_requests_and_timeouts(tmp_path: Path) -> None:
    r = await start_app(tmp_path, vhost_body=LL)
    base = f"http://127.0.0.1:{r.ports.http}/live"
    try:
        await publish(r.ports.rtmp, 3)
        async with aiohttp.ClientSession() as http:
            status, body, _ = await get(http, f"{base}/s.m3u8")
            assert status == 200
            p = m3u8.parse(body.decode())
            last = p.segments[-1].sequence
            assert (await get(http, f"{base}/s.m3u8?_HLS_msn={last + 5}"))[0] == 400  # too far ahead
            assert (await get(http, f"{base}/s.m3u8?_HLS_part=1"))[0] == 400  # a part without msn
            assert (await get(http, f"{base}/s.m3u8?_HLS_msn=x"))[0] == 400
            assert (await get(http, f"{base}/s-{last + 1}.7.m4s"))[0] == 404  # not the next part
            # Published and gone: the next segment never comes; 503 after 3 target durations.
            t0 = time.monotonic()
            status, _, _ = await get(http, f"{base}/s.m3u8?_HLS_msn={last + 1}")
            assert status == 503 and time.monotonic() - t0 >= 2.5
            # Segments that are complete are answered at once; older parts left memory with them.
            assert (await get(http, f"{base}/s.m3u8?_HLS_msn={last}"))[0] == 200
            status, data, _ = await get(http, f"{base}/{p.segments[-1].uri}")
            assert status == 200 and mp4.read_fragments(data)
    finally:
        await r.app.stop(graceful=False)


async def test_ll_hls_with_sessions_and_ts_parts(tmp_path: Path) -> None:
    """hls_ctx on (the default): the master playlist leads to the LL playlist, whose part URIs
    carry the session; TS parts (hls_use_fmp4 off) are slices of their segment."""
    body = LL.replace("hls_ctx off;", "").replace("hls_use_fmp4 on;", "")
    r = await start_app(tmp_path, vhost_body=body)
    base = f"http://127.0.0.1:{r.ports.http}/live"
    try:
        await publish(r.ports.rtmp, 3)
        async with aiohttp.ClientSession() as http:
            status, master, _ = await get(http, f"{base}/s.m3u8")
            assert status == 200 and b"hls_ctx=" in master
            url = next(ln for ln in master.decode().splitlines() if ln.startswith("/"))
            status, text, _ = await get(http, f"http://127.0.0.1:{r.ports.http}{url}")
            assert status == 200 and b"#EXT-X-PART-INF" in text
            part_line = next(ln for ln in text.decode().splitlines() if ln.startswith("#EXT-X-PART:"))
            assert "hls_ctx=" in part_line and ".ts" in part_line
            seg = m3u8.parse(text.decode()).segments[-1]
            parts = [await get(http, f"{base}/{x.uri.split('?')[0]}") for x in seg.parts]
            whole = await get(http, f"{base}/{seg.uri.split('?')[0]}")
            assert b"".join(p[1] for p in parts) == whole[1] and whole[1][:1] == b"\x47"
    finally:
        await r.app.stop(graceful=False)
