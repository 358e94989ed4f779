"""LL-HLS latency: part delivery (blocking playlist reloads) and glass-to-glass with hls.js.

    .venv/bin/python bench/llhls_latency.py [--seconds 30] [--modes ll-fmp4,ll-ts,hls-ts,...]
                                            [--out bench/results/llhls-latency.json] [--force]

Per mode it starts our server (``hls_fragment 1; hls_window 10;`` and for ``ll-*``
``hls_ll on; hls_part 0.2;``, fMP4 or TS parts) and publishes over RTMP in real time (a Python
RTMP client, tests/support/rtmp_client.py, paced by the tags' timestamps) a clip encoded once as a
low-latency live encoder would (lavfi testsrc2 640x360 25 fps, x264 ultrafast/zerolatency baseline
800k, 1 s GOP, no B-frames; AAC 64k), looped. The player joins after ``--join-after`` seconds (a
viewer of a running stream); then for ``--seconds`` after a ``--warmup``, at the same time:

- **part delivery**: a Python client follows the live edge with blocking reloads
  (``_HLS_msn``/``_HLS_part``, as an LL-HLS player does) and fetches each part; for each part,
  the time its playlist answer (and its bytes) arrived minus the wall clock at which the part
  ended (its segment's EXT-X-PROGRAM-DATE-TIME + the durations of the parts up to it);
- **glass-to-glass**: hls.js (``lowLatencyMode`` for ``ll-*``) in headless Debian Chromium
  (tests/support/browser.py) plays the stream; in the page, every 50 ms while it plays,
  ``Date.now() - hls.playingDate`` (the shown frame's wall clock from PROGRAM-DATE-TIME) and
  ``hls.latency`` (hls.js's distance to the live edge).

PROGRAM-DATE-TIME is the wall clock of the publish's first message minus its timestamp, plus the
media time: with a publisher that sends each frame at its timestamp on loopback, that is the
moment the frame was sent, so glass-to-glass here runs from "the frame leaves the encoder" to "the
frame is shown" (the encoder's own delay, a few frames for x264 zerolatency, is not in it). A part
ends at the timestamp of the message after it, i.e. when the server can close it, so part delivery
is "the server has the next message" -> "the player has the part". Plain HLS (``hls-ts``) has no
PROGRAM-DATE-TIME, so only ``hls.latency`` is given for it, as a baseline.

Run it on a quiet machine: it refuses when the 1-minute load is >= 1.5 (``--force`` runs anyway)
and records the load before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

from srs.format import flv, m3u8  # noqa: E402
from support.browser import Chromium, glass_to_glass, percentile  # noqa: E402
from support.rtmp_client import RtmpClient, flv_tags  # noqa: E402
from support.server import Ports, SrsProcess, render_conf  # noqa: E402

HLS = "hls {{ enabled on; hls_fragment 1; hls_window 10; {extra} }}"
MODES = {
    "ll-fmp4": "hls_use_fmp4 on; hls_ll on; hls_part 0.2;",
    "ll-ts": "hls_ll on; hls_part 0.2;",
    "hls-ts": "",
    "hls-fmp4": "hls_use_fmp4 on;",
}
ENCODE = [
    "-map", "0:v", "-map", "1:a",
    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline",
    "-b:v", "800k", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
    "-c:a", "aac", "-b:a", "64k",
]  # fmt: skip
CLIP = HERE / "results" / "llhls-clip-640x360-10s.flv"


def make_clip() -> Path:
    """The clip, encoded once (cached in bench/results/)."""
    if not CLIP.is_file():
        CLIP.parent.mkdir(parents=True, exist_ok=True)
        src = [
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=10",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=10",
        ]  # fmt: skip
        tmp = CLIP.with_suffix(".part.flv")
        subprocess.run(["ffmpeg", "-y", "-v", "error", *src, *ENCODE, "-f", "flv", str(tmp)], check=True)
        os.replace(tmp, CLIP)
    return CLIP


def looped(tags: list[flv.FlvTag], stop: threading.Event) -> Iterator[flv.FlvTag]:
    """The clip's audio/video tags again and again, timestamps going on; sequence headers once."""
    av = [t for t in tags if t.tag_type != flv.TagType.SCRIPT]
    header = [len(t.body) > 1 and t.body[1] == 0 for t in av]  # AVC/AAC packet type 0
    # Loop over whole GOPs only (x264 ends the clip on an extra keyframe), and per track from its
    # own first timestamp, so both tracks go on without gap or overlap.
    keys = [t.timestamp for t, h in zip(av, header, strict=True) if not h and t.body[0] >> 4 == 1]
    loop_ms = max(k - keys[0] for k in keys if (k - keys[0]) % (keys[1] - keys[0]) == 0)
    first = {kind: min(t.timestamp for t in av if t.tag_type == kind) for kind in {t.tag_type for t in av}}
    frame = {flv.TagType.AUDIO: 24, flv.TagType.VIDEO: 1}
    media = [
        t
        for t, h in zip(av, header, strict=True)
        if not h and t.timestamp + frame.get(t.tag_type, 1) <= first[t.tag_type] + loop_ms
    ]
    yield from (t for t, h in zip(av, header, strict=True) if h)
    n = 0
    while not stop.is_set():
        for t in media:
            if stop.is_set():
                return
            yield replace(t, timestamp=t.timestamp + n * loop_ms)
        n += 1


class Publisher(threading.Thread):
    """Publishes the looped clip in real time from its own asyncio loop until ``stop``."""

    def __init__(self, port: int, stream: str, clip: Path) -> None:
        super().__init__(daemon=True)
        self.port, self.stream = port, stream
        self.tags = flv_tags(clip)
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:
            self.error = e

    async def _main(self) -> None:
        c = await RtmpClient.open(self.port)
        await c.publish(self.stream)
        try:
            await c.send_tags(looped(self.tags, self.stop), realtime=True)
        finally:
            await c.close()


def _get(url: str, timeout: float = 10.0) -> tuple[int, bytes, float]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = r.read()
            return r.status, body, time.time()
    except urllib.error.HTTPError as e:
        return e.code, e.read(), time.time()


def _next(p: m3u8.MediaPlaylist) -> tuple[int, int]:
    last = p.segments[-1].sequence if p.segments else p.media_sequence - 1
    return last + 1, len(p.tail_parts)


def _part(p: m3u8.MediaPlaylist, msn: int, part: int) -> tuple[str, int] | None:
    """The URI of part ``part`` of segment ``msn`` and the wall clock (ms) at which it ended."""
    for s in p.segments:
        if s.sequence == msn and s.date_ms is not None and part < len(s.parts):
            return s.parts[part].uri, s.date_ms + round(sum(x.duration_s for x in s.parts[: part + 1]) * 1000)
    last = p.segments[-1].sequence if p.segments else -1
    if msn == last + 1 and part < len(p.tail_parts) and p.tail_date_ms is not None:
        end = p.tail_date_ms + round(sum(x.duration_s for x in p.tail_parts[: part + 1]) * 1000)
        return p.tail_parts[part].uri, end
    return None


class PartFollower(threading.Thread):
    """Blocking reloads part after part; ``playlist_ms`` / ``bytes_ms``: arrival minus part end.

    A part that ends a segment may be listed only as the segment's last part once the next one
    started: the request for (msn, n) is then answered by the playlist of msn+1 part 0, which is
    what a player asks next; the follower goes on from whatever the answer names."""

    def __init__(self, playlist_url: str) -> None:
        super().__init__(daemon=True)
        self.url = playlist_url
        self.stop = threading.Event()
        self.playlist_ms: list[float] = []
        self.bytes_ms: list[float] = []
        self.errors: list[str] = []
        self.measuring = False

    def run(self) -> None:
        try:
            self._follow()
        except Exception as e:  # the server going away at the end of a mode
            if not self.stop.is_set():
                self.errors.append(repr(e))

    def _follow(self) -> None:
        sep = "&" if "?" in self.url else "?"
        status, body, _ = _get(self.url)
        playlist = m3u8.parse(body.decode())
        while not self.stop.is_set():
            msn, part = _next(playlist)
            status, body, got = _get(f"{self.url}{sep}_HLS_msn={msn}&_HLS_part={part}")
            if status != 200:
                self.errors.append(f"{status} for {msn}.{part}")
                time.sleep(0.2)
                status, body, _ = _get(self.url)
                if status == 200:
                    playlist = m3u8.parse(body.decode())
                continue
            playlist = m3u8.parse(body.decode())
            found = _part(playlist, msn, part)
            if found is None:
                continue  # the segment closed: go on from the answer's edge
            uri, end_ms = found
            status, _, done = _get(urljoin(self.url, uri))
            if self.measuring:
                self.playlist_ms.append(got * 1000 - end_ms)
                if status == 200:
                    self.bytes_ms.append(done * 1000 - end_ms)
                else:
                    self.errors.append(f"{status} for part {uri}")


def stats(xs: list[float]) -> dict[str, Any]:
    if not xs:
        return {"n": 0}
    return {
        "n": len(xs),
        "p50": round(percentile(xs, 50)),
        "p95": round(percentile(xs, 95)),
        "max": round(max(xs)),
    }


def wait_file(path: Path, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.is_file():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} not written")
        time.sleep(0.1)


def run_mode(
    chromium: Chromium, name: str, seconds: float, warmup: float, join_after: float
) -> dict[str, Any]:
    """``name``: a key of MODES, ``+catchup`` lets hls.js play up to 1.5x to reach its target latency."""
    mode, _, option = name.partition("+")
    hlsjs_config = {"maxLiveSyncPlaybackRate": 1.5} if option == "catchup" else {}
    ports = Ports()
    work = Path(tempfile.mkdtemp(prefix=f"llhls-{mode}-"))
    conf = render_conf(ports, vhost_body=HLS.format(extra=MODES[mode]), log_level="warn")
    srs = SrsProcess(work, conf, ports).start()
    pub = Publisher(ports.rtmp, "bench", make_clip())
    pub.start()
    player = None
    follower = None
    try:
        wait_file(work / "objs" / "nginx" / "html" / "live" / "bench.m3u8")
        base = f"http://127.0.0.1:{ports.http}/live"
        time.sleep(join_after)  # a viewer joins a stream that has been running for a while
        player = chromium.open(ports.http, work / "objs" / "nginx" / "html")
        player.play("/live/bench.m3u8", low_latency=mode.startswith("ll-"), config=hlsjs_config)
        player.wait_frames(25, timeout_s=20)
        if mode.startswith("ll-"):
            # SRS's master playlist first (hls_ctx): its one URI is the session's media playlist.
            _, master, _ = _get(f"{base}/bench.m3u8")
            uri = next(ln for ln in master.decode().splitlines() if ln and not ln.startswith("#"))
            follower = PartFollower(f"http://127.0.0.1:{ports.http}{uri}")
            follower.start()
        time.sleep(warmup)
        if follower:
            follower.measuring = True
        before = player.state()
        lat = glass_to_glass(player, seconds=seconds)
        if follower:
            follower.measuring = False
        st = player.state()
        played = st.current_time - before.current_time
        if pub.error is not None:
            raise RuntimeError(f"publisher failed: {pub.error!r}")
        return {
            "mode": name,
            "config": HLS.format(extra=MODES[mode]),
            "hlsjs": st.version,
            "hlsjs_config": {"lowLatencyMode": mode.startswith("ll-"), **hlsjs_config},
            "hlsjs_target_latency_s": st.target_latency,
            "frames": st.frames,
            "decoded_fps": round((st.frames - before.frames) / played, 1) if played > 0 else None,
            "dropped": st.dropped,
            "hlsjs_errors": [f"{e['details']}{' (fatal)' if e['fatal'] else ''}" for e in st.errors],
            "browser": lat.summary(),
            "part_playlist_ms": stats(follower.playlist_ms) if follower else None,
            "part_bytes_ms": stats(follower.bytes_ms) if follower else None,
            "follower_errors": follower.errors[:20] if follower else None,
        }
    finally:
        if follower:
            follower.stop.set()
        if player:
            player.close()
        pub.stop.set()
        pub.join(5)
        srs.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="measuring window per mode")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds of playback before measuring")
    ap.add_argument("--join-after", type=float, default=8.0, help="seconds of publishing before playing")
    ap.add_argument(
        "--modes",
        default="ll-fmp4,ll-ts,ll-fmp4+catchup,ll-ts+catchup,hls-ts,hls-fmp4",
        help=f"comma list of {', '.join(MODES)}, each optionally +catchup (hls.js maxLiveSyncPlaybackRate 1.5)",
    )
    ap.add_argument("--out", default=str(HERE / "results" / "llhls-latency.json"))
    ap.add_argument("--force", action="store_true", help="run even when the machine is busy")
    args = ap.parse_args()
    load_before = os.getloadavg()
    if load_before[0] >= 1.5 and not args.force:
        print(f"load {load_before[0]:.2f} >= 1.5: not measuring (--force to run anyway)", file=sys.stderr)
        return 2
    results = []
    with Chromium() as chromium:
        for mode in args.modes.split(","):
            r = run_mode(chromium, mode, args.seconds, args.warmup, args.join_after)
            print(json.dumps(r), flush=True)
            results.append(r)
    doc = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "seconds": args.seconds,
        "warmup": args.warmup,
        "join_after": args.join_after,
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1))
    print(f"load before {doc['load_before']} after {doc['load_after']}; wrote {args.out}")
    print(
        "| mode | part in playlist p50/p95 ms | part bytes p50/p95 ms | glass-to-glass p50/p95 ms | hls.latency p50/p95 s | hls.js target s | decoded fps |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        b = r["browser"]
        pp, pb = r["part_playlist_ms"] or {}, r["part_bytes_ms"] or {}
        print(
            f"| {r['mode']} | {pp.get('p50', '-')} / {pp.get('p95', '-')} | {pb.get('p50', '-')} / "
            f"{pb.get('p95', '-')} | {b['g2g_p50_ms'] or '-'} / {b['g2g_p95_ms'] or '-'} | "
            f"{b['hls_latency_p50_s']} / {b['hls_latency_p95_s']} | {r['hlsjs_target_latency_s']} | {r['decoded_fps']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
