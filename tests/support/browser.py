"""hls.js in headless Debian Chromium, driven by Python playwright: a real browser player.

Chromium is Debian's (``/usr/bin/chromium``, ``$SRS_TEST_CHROMIUM`` to override), started by
playwright with ``executable_path`` and a fresh user-data-dir; ``playwright install`` (its own
browser download) is never used. hls.js comes from npm, pinned in ``tests/web/package-lock.json``
and installed into ``tests/web/node_modules`` by ``npm ci`` (scripts/install-system-deps.sh does it;
:func:`hlsjs_dist` runs it when the directory is missing).

The player page (``tests/web/player.html``) and ``hls.js`` are copied into the server's
``http_server.dir`` (:func:`install_player`), so our own HTTP server serves the page and the
stream from one origin (no CORS in the way). Python calls ``srsPlayer.start(url, options)`` in the
page and reads ``srsPlayer.state()``: decoded frames, ``currentTime``, video size, ``hls.latency``,
``hls.playingDate`` (the wall clock of the shown frame, from EXT-X-PROGRAM-DATE-TIME), and every
hls.js ERROR event.

:class:`Chromium` is usable without pytest (the LL-HLS latency bench); the fixtures are
:func:`chromium_fixture` (one browser per test module: it is slow to start) and ``hls_player``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, Response, sync_playwright

WEB = Path(__file__).resolve().parents[1] / "web"
PLAYER_HTML = WEB / "player.html"
CHROMIUM = os.environ.get("SRS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # Headless tabs are "hidden": keep timers and media running at full rate anyway.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
PLAYER_DIR = "srs-test-player"
"""Where :func:`install_player` puts the page under ``http_server.dir`` (URL ``/srs-test-player/``)."""


def hlsjs_dist() -> Path:
    """``tests/web/node_modules/hls.js/dist/hls.js``; runs ``npm ci`` once (under a lock) if missing."""
    dist = WEB / "node_modules" / "hls.js" / "dist" / "hls.js"
    if dist.is_file():
        return dist
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"{dist} missing and no npm: run scripts/install-system-deps.sh")
    with open(WEB / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers: one of them installs
        if not dist.is_file():
            subprocess.run(
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=WEB, check=True, timeout=300
            )
    if not dist.is_file():
        raise RuntimeError(f"npm ci in {WEB} did not give {dist}")
    return dist


def install_player(html_dir: Path) -> str:
    """Copy the page and hls.js into ``<html_dir>/srs-test-player/``; returns the page's URL path."""
    dest = html_dir / PLAYER_DIR
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PLAYER_HTML, dest / "player.html")
    shutil.copyfile(hlsjs_dist(), dest / "hls.js")
    return f"/{PLAYER_DIR}/player.html"


@dataclass
class PlayerState:
    """One reading of the page (``srsPlayer.state()``)."""

    frames: int
    dropped: int
    current_time: float
    paused: bool
    ready_state: int
    width: int
    height: int
    buffered_end: float
    latency: float | None
    target_latency: float | None
    playing_date_ms: int | None
    now_ms: int
    low_latency_mode: bool | None
    part_target: float | None
    can_block_reload: bool | None
    level_url: str | None
    errors: list[dict[str, Any]]
    events: list[dict[str, Any]]
    version: str | None

    @property
    def fatal_errors(self) -> list[dict[str, Any]]:
        return [e for e in self.errors if e.get("fatal")]

    @classmethod
    def from_js(cls, d: dict[str, Any]) -> PlayerState:
        return cls(
            frames=int(d["frames"]),
            dropped=int(d["dropped"]),
            current_time=float(d["currentTime"]),
            paused=bool(d["paused"]),
            ready_state=int(d["readyState"]),
            width=int(d["width"]),
            height=int(d["height"]),
            buffered_end=float(d["bufferedEnd"]),
            latency=d["latency"],
            target_latency=d["targetLatency"],
            playing_date_ms=d["playingDate"],
            now_ms=int(d["now"]),
            low_latency_mode=d["lowLatencyMode"],
            part_target=d["partTarget"],
            can_block_reload=d["canBlockReload"],
            level_url=d["levelUrl"],
            errors=list(d["errors"]),
            events=list(d["events"]),
            version=d["version"],
        )


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (``q`` in 0..100); ``values`` not empty."""
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass
class Latency:
    """Samples of one :func:`glass_to_glass` run, in milliseconds (``g2g``) and seconds (``latency``).

    ``g2g`` is ``Date.now() - hls.playingDate``: the shown frame's wall clock comes from the
    playlist's EXT-X-PROGRAM-DATE-TIME, i.e. from the server's clock when it took the frame in, so
    this is ingest-to-display (the publisher's encoder delay is not in it); empty when the playlist
    has no PROGRAM-DATE-TIME. ``latency`` is hls.js's own ``hls.latency`` (distance to the live edge
    it computes from the playlist)."""

    seconds: float
    g2g_ms: list[float] = field(default_factory=list)
    latency_s: list[float] = field(default_factory=list)

    def g2g(self, q: float) -> float | None:
        return percentile(self.g2g_ms, q) if self.g2g_ms else None

    def hls_latency(self, q: float) -> float | None:
        return percentile(self.latency_s, q) if self.latency_s else None

    def summary(self) -> dict[str, Any]:
        def r(x: float | None, nd: int) -> float | None:
            return None if x is None else round(x, nd)

        return {
            "seconds": self.seconds,
            "samples": len(self.latency_s),
            "g2g_samples": len(self.g2g_ms),
            "g2g_p50_ms": r(self.g2g(50), 0),
            "g2g_p95_ms": r(self.g2g(95), 0),
            "g2g_min_ms": r(min(self.g2g_ms), 0) if self.g2g_ms else None,
            "g2g_max_ms": r(max(self.g2g_ms), 0) if self.g2g_ms else None,
            "hls_latency_p50_s": r(self.hls_latency(50), 3),
            "hls_latency_p95_s": r(self.hls_latency(95), 3),
        }


class Player:
    """One page playing one URL with hls.js."""

    def __init__(self, page: Page, page_url: str) -> None:
        self.page = page
        self.page_url = page_url
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: self.console.append(f"requestfailed: {r.url} {r.failure}"))
        page.on("response", self._on_response)
        page.goto(page_url)

    def _on_response(self, r: Response) -> None:
        if r.status >= 400:
            self.console.append(f"http {r.status}: {r.request.method} {r.url}")

    def play(self, url: str, *, low_latency: bool = False, config: dict[str, Any] | None = None) -> None:
        """Start hls.js on ``url`` (absolute, or a path on the page's origin); muted autoplay."""
        ok = self.page.evaluate(
            "([u, o]) => srsPlayer.start(u, o)", [url, {"lowLatency": low_latency, "config": config or {}}]
        )
        if not ok:
            raise AssertionError(f"hls.js did not start: {self.state().errors} {self.console}")

    def state(self) -> PlayerState:
        return PlayerState.from_js(self.page.evaluate("() => srsPlayer.state()"))

    def wait(
        self, predicate: Callable[[PlayerState], bool], *, timeout_s: float = 15.0, what: str = "condition"
    ) -> PlayerState:
        """Poll ``state()`` until ``predicate``; fails at once on a fatal hls.js error."""
        deadline = time.monotonic() + timeout_s
        while True:
            st = self.state()
            if st.fatal_errors:
                raise AssertionError(f"hls.js fatal error while waiting for {what}: {self.describe(st)}")
            if predicate(st):
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"timeout waiting for {what}: {self.describe(st)}")
            self.page.wait_for_timeout(100)

    def wait_frames(self, n: int, *, timeout_s: float = 15.0) -> PlayerState:
        return self.wait(lambda s: s.frames >= n and not s.paused, timeout_s=timeout_s, what=f"{n} frames")

    def describe(self, st: PlayerState | None = None) -> str:
        st = st or self.state()
        return (
            f"frames={st.frames} t={st.current_time:.2f} paused={st.paused} ready={st.ready_state} "
            f"size={st.width}x{st.height} latency={st.latency} errors={st.errors[-10:]} "
            f"events={st.events[-10:]} console={self.console[-20:]}"
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.page.evaluate("() => srsPlayer.stop()")
        with contextlib.suppress(Exception):
            self.page.close()


def glass_to_glass(player: Player, seconds: float = 5.0, interval_ms: int = 50) -> Latency:
    """Sample ``Date.now() - hls.playingDate`` and ``hls.latency`` in the page every ``interval_ms``
    for ``seconds`` while the video plays (see :class:`Latency`; ``g2g_ms`` stays empty without
    EXT-X-PROGRAM-DATE-TIME). Sampling runs in the page, so no round trip is in the numbers."""
    player.page.evaluate("(ms) => srsPlayer.startSampling(ms)", interval_ms)
    player.page.wait_for_timeout(seconds * 1000)
    samples: list[dict[str, Any]] = player.page.evaluate("() => srsPlayer.stopSampling()")
    out = Latency(seconds=seconds)
    for s in samples:
        if s.get("g2g") is not None:
            out.g2g_ms.append(float(s["g2g"]))
        if s.get("latency") is not None:
            out.latency_s.append(float(s["latency"]))
    return out


class Chromium:
    """Debian's Chromium under playwright (sync API), one fresh profile; ``open()`` gives players.

    Use as a context manager; not inside a running asyncio loop (playwright's sync API refuses)."""

    def __init__(self, executable: str = CHROMIUM) -> None:
        if not Path(executable).is_file():
            raise RuntimeError(f"{executable} missing: run scripts/install-system-deps.sh (apt chromium)")
        self.executable = executable
        self._profile = tempfile.mkdtemp(prefix="srs-chromium-")
        self._pw = sync_playwright().start()
        try:
            self.context: BrowserContext = self._pw.chromium.launch_persistent_context(
                self._profile,
                executable_path=executable,
                headless=True,
                args=CHROMIUM_ARGS,
            )
        except Exception:
            self._pw.stop()
            shutil.rmtree(self._profile, ignore_errors=True)
            raise

    def open(self, http_port: int, html_dir: Path) -> Player:
        """Install the page into ``html_dir`` (the server's ``http_server.dir``) and open it from
        ``http://127.0.0.1:<http_port>``."""
        path = install_player(html_dir)
        return Player(self.context.new_page(), f"http://127.0.0.1:{http_port}{path}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()
        with contextlib.suppress(Exception):
            self._pw.stop()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


OpenPlayer = Callable[..., Player]
"""The ``hls_player`` fixture: ``hls_player(srs)`` -> a :class:`Player` on ``srs``'s HTTP port."""


def chromium_browser() -> Iterator[Chromium]:
    """Body of a module-scoped fixture: one Chromium for the module's tests."""
    with Chromium() as c:
        yield c


def hls_players(chromium: Chromium) -> Iterator[OpenPlayer]:
    """Body of a function-scoped fixture: ``open(srs)`` opens a page on the server ``srs``
    (a :class:`support.server.SrsProcess`, whose ``http_server.dir`` is ``objs/nginx/html`` in its
    workdir); the pages are closed and their console printed at teardown."""
    players: list[Player] = []

    def open_(srs: Any, html_dir: Path | None = None) -> Player:
        p = chromium.open(srs.ports.http, html_dir or srs.workdir / "objs" / "nginx" / "html")
        players.append(p)
        return p

    yield open_
    for p in players:
        if p.console:
            print(f"----- browser console ({p.page_url}) -----\n" + "\n".join(p.console[-100:]))
        p.close()


# ------------------------------------------------------------------------------------------ WebRTC

RTC_ARGS = [
    "--use-fake-device-for-media-stream",  # a test pattern and a beep instead of a camera
    "--use-fake-ui-for-media-stream",  # getUserMedia granted without a prompt
    "--allow-loopback-in-peer-connection",  # gather 127.0.0.1 host candidates
    # real host addresses in the SDP, not <uuid>.local mDNS names (a non-lite peer must resolve them)
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--enforce-webrtc-ip-permission-check=false",
]
RTC_PAGES = ("rtc.js", "whip.html", "whep.html")


class PageServer:
    """Serves tests/web's WebRTC pages on ``http://127.0.0.1:<port>/`` (getUserMedia needs a
    trustworthy origin) from an aiohttp app in its own thread, so sync and asyncio tests can both
    use it. ``proxy="http://127.0.0.1:1985"`` forwards ``/rtc/...`` there: the pages then signal
    same-origin (``/rtc/v1/whip/?...``) and no CORS is involved."""

    def __init__(self, proxy: str | None = None) -> None:
        import asyncio
        import threading

        self.proxy = proxy
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="rtc-pages", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("page server did not start")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        from aiohttp import ClientSession, web

        async def page(request: web.Request) -> web.StreamResponse:
            name = request.match_info["name"]
            if name not in RTC_PAGES:
                raise web.HTTPNotFound()
            return web.FileResponse(WEB / name)

        async def forward(request: web.Request) -> web.Response:
            if self.proxy is None:
                raise web.HTTPNotFound()
            async with ClientSession() as http:
                headers = {
                    k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept")
                }
                async with http.request(
                    request.method,
                    self.proxy + str(request.rel_url),
                    data=await request.read(),
                    headers=headers,
                ) as r:
                    out = {k: v for k, v in r.headers.items() if k.lower() in ("content-type", "location")}
                    if out.get("Location", "").startswith(self.proxy):  # keep the page same-origin
                        out["Location"] = out["Location"][len(self.proxy) :]
                    return web.Response(status=r.status, body=await r.read(), headers=out)

        async def start() -> web.AppRunner:
            app = web.Application()
            app.router.add_get("/{name}", page)
            app.router.add_route("*", "/rtc/{tail:.*}", forward)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = runner.addresses[0][1]
            return runner

        self._runner = self._loop.run_until_complete(start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class RtcPage:
    """One whip.html / whep.html page (playwright async API)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    async def publish(
        self, url: str, codec: str = "H264", audio: bool = True, video: bool = True
    ) -> dict[str, Any]:
        """getUserMedia (fake devices) + WHIP to ``url``: ``{status, location, answer, codecs}``."""
        opts = {"codec": codec, "audio": audio, "video": video}
        return await self.page.evaluate("([u, o]) => srsRtc.publish(u, o)", [url, opts])  # type: ignore[no-any-return]

    async def play(self, url: str, codec: str = "H264") -> dict[str, Any]:
        return await self.page.evaluate("([u, o]) => srsRtc.play(u, o)", [url, {"codec": codec}])  # type: ignore[no-any-return]

    async def stats(self) -> dict[str, Any]:
        """``{connectionState, inbound: [{kind, codec, framesDecoded, packetsLost, ...}], outbound:
        [{kind, codec, framesEncoded, packetsSent, ...}], candidatePair, log}``."""
        return await self.page.evaluate("() => srsRtc.stats()")  # type: ignore[no-any-return]

    async def wait(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout_s: float = 15.0, what: str = "condition"
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            st = await self.stats()
            if predicate(st):
                return st
            if time.monotonic() > deadline or st["connectionState"] == "failed":
                raise AssertionError(f"waiting for {what}: {st} console={self.console[-20:]}")
            await self.page.wait_for_timeout(200)

    async def stop(self) -> int | None:
        """DELETE the Location, close the PC: the DELETE's status."""
        return await self.page.evaluate("() => srsRtc.stop()")  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def rtc_chromium(proxy: str | None = None, executable: str = CHROMIUM) -> Any:
    """Debian Chromium with fake media devices (:data:`RTC_ARGS`) and a :class:`PageServer`;
    yields ``open(name)`` -> :class:`RtcPage` (``name``: ``"whip.html"`` or ``"whep.html"``)."""
    from playwright.async_api import async_playwright

    if not Path(executable).is_file():
        raise RuntimeError(f"{executable} missing: run scripts/install-system-deps.sh (apt chromium)")
    pages = PageServer(proxy)
    profile = tempfile.mkdtemp(prefix="srs-chromium-rtc-")
    pw = await async_playwright().start()
    try:
        context = await pw.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=[*CHROMIUM_ARGS, *RTC_ARGS]
        )
        opened: list[RtcPage] = []

        async def open_(name: str) -> RtcPage:
            p = RtcPage(await context.new_page())
            await p.page.goto(f"{pages.base}/{name}")
            opened.append(p)
            return p

        try:
            yield open_
        finally:
            for p in opened:
                if p.console:
                    print(f"----- browser console ({p.page.url}) -----\n" + "\n".join(p.console[-50:]))
            await context.close()
    finally:
        await pw.stop()
        pages.close()
        shutil.rmtree(profile, ignore_errors=True)
