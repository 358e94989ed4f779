"""Reload turns HLS and DASH on and off for the streams being published, and a changed config
takes over at the next keyframe (the HLS sequence going on after a discontinuity); RTMP and
HTTP-FLV players of those streams never notice."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from srs.app import App
from srs.config import parse_text
from srs.format import flv, m3u8
from srs.format.ts import TsDemuxer
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags
from support.server import DEFAULT_VHOST_BODY, Ports, render_conf

AV = [t for t in flv_tags(clip("bbb.flv")) if t.tag_type != flv.TagType.SCRIPT]
META = next(t for t in flv_tags(clip("bbb.flv")) if t.tag_type == flv.TagType.SCRIPT)


def conf(ports: Ports, html: Path, body: str = "") -> str:
    return render_conf(ports, vhost_body=DEFAULT_VHOST_BODY + body).replace("./objs/nginx/html", str(html))


def hls(html: Path, fragment: float = 2, enabled: str = "on", dispose: int = 0) -> str:
    # Reaped at the first keyframe after hls_fragment (never on audio: this clip's GOPs are ~3 s).
    return f"""hls {{ enabled {enabled}; hls_fragment {fragment}; hls_td_ratio 1; hls_aof_ratio 100;
        hls_window 60; hls_path {html}; hls_dispose {dispose}; }}"""


def dash(html: Path, fragment: float = 2) -> str:
    return f"dash {{ enabled on; dash_fragment {fragment}; dash_path {html}; dash_dispose 0; }}"


class FlvPlayer:
    """An HTTP-FLV player counting what it receives."""

    async def start(self, url: str) -> FlvPlayer:
        self.http = aiohttp.ClientSession()
        self.resp = await self.http.get(url)
        assert self.resp.status == 200
        self.nbytes = 0
        self.task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        while chunk := await self.resp.content.read(65536):
            self.nbytes += len(chunk)

    async def grows(self, since: int) -> None:
        for _ in range(200):
            if self.nbytes > since:
                return
            assert not self.task.done(), "the HTTP-FLV player was dropped"
            await asyncio.sleep(0.025)
        raise AssertionError("the HTTP-FLV player stalled")

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.resp.close()
        await self.http.close()


class Live:
    """A publisher (sent in bursts, not in real time), an RTMP player and an HTTP-FLV player."""

    def __init__(self, app: App, ports: Ports) -> None:
        self.app, self.ports = app, ports

    async def start(self) -> Live:
        self.player = await RtmpClient.open(self.ports.rtmp)
        await self.player.play("s")
        self.flv = await FlvPlayer().start(f"http://127.0.0.1:{self.ports.http}/live/s.flv")
        self.pub = await RtmpClient.open(self.ports.rtmp)
        await self.pub.publish("s")
        await self.pub.send_tags([META])
        self.sent = 0
        return self

    async def send(self, tags: list[flv.FlvTag]) -> None:
        before = self.flv.nbytes
        await self.pub.send_tags(tags)
        self.sent += len(tags)
        await self.player.wait_media(self.sent - 5, timeout_s=5)  # the RTMP player keeps receiving
        assert not self.player.closed.is_set()
        await self.flv.grows(before)  # and so does the HTTP-FLV player

    async def reload(self, text: str, section: str) -> None:
        res = await self.app.reload(parse_text(text))
        assert res.ok and any(section in c for c in res.changes), res.changes

    async def close(self) -> None:
        await self.pub.close()
        await self.player.close()
        await self.flv.close()


async def wait_for(what: str, check: object, timeout_s: float = 5) -> None:
    assert callable(check)
    for _ in range(int(timeout_s / 0.025)):
        if check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


def playlist(path: Path) -> m3u8.MediaPlaylist:
    return m3u8.parse(path.read_text())


async def test_reload_turns_hls_on_and_off_for_a_live_stream(tmp_path: Path) -> None:
    html = tmp_path / "html"
    ports = Ports()
    app = App(parse_text(conf(ports, html)))
    await app.start()
    try:
        live = await Live(app, ports).start()
        await live.send(AV[:150])
        m3u8_path = html / "live" / "s.m3u8"
        assert not m3u8_path.exists()
        await live.reload(conf(ports, html, hls(html)), "hls")  # on: the stream's HLS starts now
        await live.send(AV[150:400])
        await wait_for("two segments", lambda: m3u8_path.exists() and len(playlist(m3u8_path).segments) >= 2)
        first = html / "live" / playlist(m3u8_path).segments[0].uri
        d = TsDemuxer()
        video = [f for f in d.feed(first.read_bytes()) + d.flush() if f.stream_type == 0x1B]
        assert d.errors == 0 and video[0].random_access  # from the GOP cache's keyframe
        await live.reload(conf(ports, html, hls(html, enabled="off")), "hls")  # off: the segment closes
        await wait_for("the last segment", lambda: len(playlist(m3u8_path).segments) == 3)
        await asyncio.wait_for(app.hls.pending(), 5)
        files = sorted(p.name for p in (html / "live").iterdir())
        text = m3u8_path.read_text()
        await live.send(AV[400:])  # the players go on; HLS writes nothing more
        await asyncio.wait_for(app.hls.pending(), 5)
        assert sorted(p.name for p in (html / "live").iterdir()) == files
        assert m3u8_path.read_text() == text
        # On again: the sequence goes on after a discontinuity, as after a republish.
        await live.reload(conf(ports, html, hls(html)), "hls")
        await live.send([flv.FlvTag(t.tag_type, t.timestamp + 10_080, t.body) for t in AV[:400]])
        await wait_for("more segments", lambda: len(playlist(m3u8_path).segments) >= 4)
        segs = playlist(m3u8_path).segments
        assert [s.sequence for s in segs] == list(range(len(segs)))
        assert [s.sequence for s in segs if s.discontinuity] == [3]
        await live.close()
    finally:
        await app.stop(graceful=False)


async def test_reload_turns_dash_on_and_off_for_a_live_stream(tmp_path: Path) -> None:
    html = tmp_path / "html"
    ports = Ports()
    app = App(parse_text(conf(ports, html)))
    await app.start()
    try:
        live = await Live(app, ports).start()
        await live.send(AV[:150])
        mpd_path = html / "live" / "s.mpd"
        await live.reload(conf(ports, html, dash(html)), "dash")  # on: the MPD appears
        await live.send(AV[150:400])
        await wait_for("the MPD", mpd_path.exists)
        assert b"<MPD" in mpd_path.read_bytes()
        await live.reload(conf(ports, html, ""), "dash")  # off
        await asyncio.wait_for(app.dash.pending(), 5)
        files = sorted(p.name for p in (html / "live" / "s").iterdir())
        assert any(f.startswith("video-") and f.endswith(".m4s") for f in files)
        await live.send(AV[400:])
        await asyncio.wait_for(app.dash.pending(), 5)
        assert sorted(p.name for p in (html / "live" / "s").iterdir()) == files  # no more fragments
        await live.close()
    finally:
        await app.stop(graceful=False)


async def test_reload_with_another_hls_fragment_takes_over_at_a_keyframe(tmp_path: Path) -> None:
    html = tmp_path / "html"
    ports = Ports()
    app = App(parse_text(conf(ports, html, hls(html, fragment=30))))
    await app.start()
    try:
        live = await Live(app, ports).start()
        await live.send(AV[:300])
        await live.reload(conf(ports, html, hls(html, fragment=1)), "hls")
        await live.send(AV[300:])
        await live.send([flv.FlvTag(t.tag_type, t.timestamp + 10_080, t.body) for t in AV])
        await live.pub.close()  # the last segment is written
        m3u8_path = html / "live" / "s.m3u8"
        await wait_for("the playlist", lambda: m3u8_path.exists() and len(playlist(m3u8_path).segments) >= 4)
        await asyncio.wait_for(app.hls.pending(), 5)
        p = playlist(m3u8_path)
        segs = p.segments
        # 20 s of media with hls_fragment 30 would be one segment: the new config took over.
        assert [s.sequence for s in segs] == list(range(len(segs))) and len(segs) >= 5
        assert [s.sequence for s in segs if s.discontinuity] == [1]  # the numbering goes on
        assert segs[0].duration_s > 5  # the old segmenter's segment, ended at the switch
        assert all(s.duration_s < 4 for s in segs[1:])  # hls_fragment 1 with this clip's GOPs
        for s in segs:
            d = TsDemuxer()
            video = [
                f for f in d.feed((html / "live" / s.uri).read_bytes()) + d.flush() if f.stream_type == 0x1B
            ]
            assert d.errors == 0 and video[0].random_access  # every segment starts at a keyframe
        await live.player.close()
        await live.flv.close()
    finally:
        await app.stop(graceful=False)


async def test_hls_turned_off_by_reload_is_disposed_like_an_unpublish(tmp_path: Path) -> None:
    html = tmp_path / "html"
    ports = Ports()
    app = App(parse_text(conf(ports, html, hls(html, dispose=1))))
    await app.start()
    try:
        live = await Live(app, ports).start()
        await live.send(AV[:400])
        m3u8_path = html / "live" / "s.m3u8"
        await wait_for("the playlist", m3u8_path.exists)
        await live.reload(conf(ports, html, hls(html, enabled="off", dispose=1)), "hls")
        await wait_for("hls_dispose", lambda: not list((html / "live").iterdir()), timeout_s=10)
        await live.send(AV[400:])  # the stream goes on for its players
        await live.close()
    finally:
        await app.stop(graceful=False)


async def test_reload_with_another_dash_fragment_goes_on_numbering(tmp_path: Path) -> None:
    html = tmp_path / "html"
    ports = Ports()
    app = App(parse_text(conf(ports, html, dash(html))))
    await app.start()
    try:
        live = await Live(app, ports).start()
        await live.send(AV[:400])
        home = html / "live" / "s"
        await wait_for("a fragment", lambda: home.exists() and any(home.glob("video-*.m4s")))
        before = max(int(p.stem.split("-")[1]) for p in home.glob("video-*.m4s"))
        await live.reload(conf(ports, html, dash(html, fragment=1)), "dash")
        await live.send(AV[400:])
        await live.send([flv.FlvTag(t.tag_type, t.timestamp + 10_080, t.body) for t in AV])
        await live.pub.close()
        await asyncio.sleep(0.2)
        await asyncio.wait_for(app.dash.pending(), 5)
        numbers = sorted(int(p.stem.split("-")[1]) for p in home.glob("video-*.m4s"))
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))) and len(numbers) >= 4
        assert numbers[-1] > before + len(numbers) - 1  # went on (a new start at 0 would overwrite)
        assert before not in numbers  # the old fragments left at the new segmenter's first one
        assert b"<MPD" in (html / "live" / "s.mpd").read_bytes()
        await live.player.close()
        await live.flv.close()
    finally:
        await app.stop(graceful=False)
