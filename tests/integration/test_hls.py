"""HLS (MPEG-TS segments) from an RTMP publish: files appear atomically under hls_path, the
playlist is served without caching, a republish continues after a discontinuity."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest

from srs.format import flv, m3u8
from srs.format.ts import TsDemuxer
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags

from .conftest import start_app
from .test_hooks_receiver import Receiver

AV = [t for t in flv_tags(clip("bbb.flv")) if t.tag_type != flv.TagType.SCRIPT]


def hls_body(path: Path) -> str:
    return f"""
    hls {{
        enabled on;
        hls_fragment 2;
        hls_window 60;
        hls_path {path};
    }}
    """


async def publish(port: int, offset_ms: int = 0) -> None:
    c = await RtmpClient.open(port)
    await c.publish("s")
    await c.send_tags([flv.FlvTag(t.tag_type, t.timestamp + offset_ms, t.body) for t in AV])
    await asyncio.sleep(0.2)
    await c.close()


async def wait_playlist(path: Path, seconds: float, timeout_s: float = 5) -> m3u8.MediaPlaylist:
    """The playlist once its segments hold ``seconds`` of media."""
    for _ in range(int(timeout_s / 0.05)):
        if path.exists():
            p = m3u8.parse(path.read_text())
            if sum(s.duration_s for s in p.segments) >= seconds:
                return p
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{path} with {seconds} s")


async def test_hls_files_playlist_and_republish(tmp_path: Path) -> None:
    html = tmp_path / "html"
    r = await start_app(tmp_path, vhost_body=hls_body(html))
    try:
        await publish(r.ports.rtmp)
        m3u8_path = html / "live" / "s.m3u8"
        playlist = await wait_playlist(m3u8_path, 9.5)  # the whole 10 s clip, the last segment at unpublish
        assert [s.uri for s in playlist.segments][:2] == ["s-0.ts", "s-1.ts"]
        assert not any(p.name.endswith(".tmp") for p in (html / "live").iterdir())  # atomic writes
        total_video = 0
        for s in playlist.segments:
            d = TsDemuxer()
            frames = d.feed((html / "live" / s.uri).read_bytes()) + d.flush()
            video = [f for f in frames if f.stream_type == 0x1B]
            assert d.errors == 0 and video[0].random_access
            total_video += len(video)
        assert total_video == sum(1 for t in AV if t.tag_type == flv.TagType.VIDEO and t.body[1] == 1)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{r.ports.http}/live/s.m3u8") as resp:
                variant = (await resp.text()).splitlines()[-1]  # hls_ctx on: the session's master playlist
            async with http.get(f"http://127.0.0.1:{r.ports.http}{variant}") as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "application/vnd.apple.mpegurl"
                assert resp.headers["Cache-Control"] == "no-cache"
                sid = variant.split("hls_ctx=")[1]
                assert (await resp.text()).replace(f"?hls_ctx={sid}", "") == m3u8_path.read_text()
            async with http.get(f"http://127.0.0.1:{r.ports.http}/live/s-0.ts") as resp:
                assert resp.headers["Content-Type"] == "video/MP2T"
        # Republish: the sequence goes on after a discontinuity.
        n = len(playlist.segments)
        await publish(r.ports.rtmp, offset_ms=60_000)
        again = await wait_playlist(m3u8_path, 19)
        assert [s.sequence for s in again.segments] == list(range(len(again.segments)))
        assert [s.sequence for s in again.segments if s.discontinuity] == [n]
    finally:
        await r.app.stop(graceful=False)


async def test_on_hls_and_on_hls_notify_fire_per_segment(tmp_path: Path) -> None:
    receiver = await Receiver().start()
    html = tmp_path / "html"
    hooks = f"""
    http_hooks {{
        enabled on;
        on_hls {receiver.url("/api/on_hls")};
        on_hls_notify {receiver.url("/cdn/[app]/[ts_url]?[param]")};
    }}
    """
    r = await start_app(tmp_path, vhost_body=hls_body(html) + hooks)
    try:
        await publish(r.ports.rtmp)
        playlist = await wait_playlist(html / "live" / "s.m3u8", 9.5)
        n = len(playlist.segments)
        calls = await receiver.wait("on_hls", n)
        first = calls[0].json
        assert isinstance(first, dict)
        assert (first["app"], first["stream"], first["seq_no"]) == ("live", "s", 0)
        assert first["url"] == "live/s-0.ts" and first["m3u8_url"] == "live/s.m3u8"  # as SRS reports it
        assert first["file"].endswith("live/s-0.ts") and first["m3u8"].endswith("live/s.m3u8")
        assert abs(first["duration"] - playlist.segments[0].duration_s) < 0.002
        assert [c.json["seq_no"] for c in calls] == list(range(n))  # type: ignore[index]
        gets = [c for c in receiver.calls if c.method == "GET"]
        assert [c.path for c in gets][:2] == ["/cdn/live/s-0.ts", "/cdn/live/s-1.ts"]
    finally:
        await r.app.stop(graceful=False)
        await receiver.stop()


async def test_unwritable_hls_path_one_error_line_and_the_stream_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="srs")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where hls_path wants a directory")
    r = await start_app(tmp_path, vhost_body=hls_body(blocker / "html"))
    try:
        player = await RtmpClient.open(r.ports.rtmp)
        await player.play("s")
        await publish(r.ports.rtmp)
        await player.wait_media(len(AV) - 5, timeout_s=5)
        assert len(player.media) >= len(AV) - 5  # RTMP players got the whole stream
        errors = [rec for rec in caplog.records if "HLS: /live/s cannot write" in rec.getMessage()]
        assert len(errors) == 1 and "hls_on_error continue" in errors[0].getMessage()
        await player.close()
    finally:
        await r.app.stop(graceful=False)


async def test_hls_on_error_disconnect_closes_the_publisher(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    body = hls_body(blocker / "html").replace("enabled on;", "enabled on;\n        hls_on_error disconnect;")
    r = await start_app(tmp_path, vhost_body=body)
    try:
        c = await RtmpClient.open(r.ports.rtmp)
        await c.publish("s")
        await c.send_tags(AV[:400])  # ~6 s: the first segment is reaped (and fails) on the way
        await asyncio.wait_for(c.closed.wait(), 5)
        await c.close()
    finally:
        await r.app.stop(graceful=False)


async def test_hls_dispose_removes_the_files_of_a_stream_gone_quiet(tmp_path: Path) -> None:
    html = tmp_path / "html"
    body = hls_body(html).replace("enabled on;", "enabled on;\n        hls_dispose 1;")
    r = await start_app(tmp_path, vhost_body=body)
    try:
        await publish(r.ports.rtmp)
        playlist = await wait_playlist(html / "live" / "s.m3u8", 9.5)
        assert (html / "live" / playlist.segments[0].uri).exists()
        for _ in range(60):
            if not (html / "live" / "s.m3u8").exists():
                break
            await asyncio.sleep(0.05)
        assert not (html / "live" / "s.m3u8").exists()
        assert not list((html / "live").glob("*.ts"))
        # A new publish after the dispose starts again at sequence 0.
        await publish(r.ports.rtmp)
        again = await wait_playlist(html / "live" / "s.m3u8", 9.5)
        assert again.segments[0].sequence == 0 and not again.segments[0].discontinuity
    finally:
        await r.app.stop(graceful=False)
