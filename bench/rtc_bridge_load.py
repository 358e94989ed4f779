"""RTMP <-> WebRTC bridge cost: the server's CPU per bridged stream.

    .venv/bin/python bench/rtc_bridge_load.py --case rtmp2rtc -n 5 -n 20 [--window 20] [--out f.json]
    .venv/bin/python bench/rtc_bridge_load.py --case rtc2rtmp -n 5 -n 20 [--flv-players]
    .venv/bin/python bench/rtc_bridge_load.py --case rtmp -n 20         # RTMP ingest only: the baseline
    .venv/bin/python bench/rtc_bridge_load.py --case rtc2rtmp -n 5 --cprofile bench/results/rtc2rtmp.prof

Every run of ``-n`` spawns a fresh server (``python -m srs`` pinned to CPU 0 with taskset, the bench on
CPU 1, as whep_load.py ``--spawn`` does) with ``rtc_server`` on a free UDP port and vhost ``rtc``:

* ``rtmp2rtc``: N RTMP publishers (bench/players.py Publisher, the ~600 kbit/s H.264 + AAC 48 kHz clip
  whep_load.py makes, looped in real time), each stream with one WHEP player (whep_client.WhepSession:
  ICE + DTLS + SRTP, counting) — so per stream the server transcodes AAC -> Opus and packetizes H.264;
* ``rtc2rtmp``: N raw WHIP publishers (tests/support/rtc_raw.py: the same clip as H.264 + Opus, Opus
  encoded once with libopus, packetized per publisher, RTCP SR every second, real time) with
  ``rtc_to_rtmp on`` — per stream the server unprotects SRTP, assembles frames and transcodes
  Opus -> AAC; ``--flv-players`` adds one HTTP-FLV reader per stream (bytes counted);
* ``rtmp``: the N RTMP publishers alone (no WebRTC player), the ingest cost to subtract.

After ``--warmup`` s the window starts: the server's CPU seconds (psutil, user+sys) over ``--window``
s, as % of one core, and per stream. ``--cprofile PATH`` runs the server under cProfile instead (one
``-n``; much slower, for where the time goes, not for the numbers) and prints the top functions by
own time. Summary: JSON, one object per N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any

import aiohttp
import uvloop

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
from load import ProcTree, emit, raise_nofile  # noqa: E402
from players import Publisher, load_stream  # noqa: E402
from support.rtc_raw import RawMedia, RawPeer, load_flv_media, publish_media  # noqa: E402
from whep_client import AUDIO_PT, WhepSession  # noqa: E402
from whep_load import clip_600k, free_port  # noqa: E402

SERVER_CPU, TOOL_CPU = 0, 1

CONF = """
listen              {rtmp};
max_connections     4000;
daemon              off;
srs_log_tank        file;
srs_log_file        {dir}/srs.log;
pid                 {dir}/srs.pid;
http_api {{ enabled on; listen {api}; }}
http_server {{ enabled on; listen {http}; dir {dir}; }}
rtc_server {{ enabled on; listen {udp}; candidate 127.0.0.1; }}
vhost __defaultVhost__ {{
    http_remux {{ enabled on; mount [vhost]/[app]/[stream].flv; }}
    rtc {{ enabled on; rtmp_to_rtc {to_rtc}; rtc_to_rtmp {to_rtmp}; }}
}}
"""

PROFILE_WRAPPER = """
import cProfile, runpy, sys
out, conf = sys.argv[1], sys.argv[2]
sys.argv = ["srs", "-c", conf]
pr = cProfile.Profile()
pr.enable()
try:
    runpy.run_module("srs", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
finally:
    pr.disable()
    pr.dump_stats(out)
"""


class Server:
    """A spawned server on free ports (optionally under cProfile)."""

    def __init__(self, case: str, cprofile: str = "") -> None:
        self.dir = tempfile.mkdtemp(prefix="srs-bridge-bench-")
        self.rtmp, self.api, self.http, self.udp = free_port(), free_port(), free_port(), free_port()
        conf = os.path.join(self.dir, "srs.conf")
        with open(conf, "w") as f:
            f.write(
                CONF.format(
                    rtmp=self.rtmp,
                    api=self.api,
                    http=self.http,
                    udp=self.udp,
                    dir=self.dir,
                    to_rtc="on" if case != "rtc2rtmp" else "off",
                    to_rtmp="on" if case == "rtc2rtmp" else "off",
                )
            )
        py = [sys.executable, "-m", "srs", "-c", conf]
        if cprofile:
            py = [sys.executable, "-c", PROFILE_WRAPPER, os.path.abspath(cprofile), conf]
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(SERVER_CPU), *py],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def ready(self) -> None:
        for _ in range(200):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", self.rtmp)
                w.close()
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


async def rtmp_publishers(srv: Server, n: int, path: str) -> list[Publisher]:
    stream = load_stream(path)
    pubs = []
    for i in range(n):
        pub = Publisher(stream, f"rtmp://127.0.0.1:{srv.rtmp}/live", f"s{i}")
        await asyncio.get_running_loop().create_connection(lambda p=pub: p, "127.0.0.1", srv.rtmp)  # type: ignore[misc]
        pubs.append(pub)
    await asyncio.wait_for(asyncio.gather(*(p.started for p in pubs)), 30)
    return pubs


async def flv_reader(url: str, stop: asyncio.Event, got: Counter[str]) -> None:
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as r:
            while not stop.is_set():
                chunk = await r.content.readany()
                if not chunk:
                    break
                got["flv_bytes"] += len(chunk)
    except aiohttp.ClientError as e:
        got[f"flv_error {type(e).__name__}"] += 1


async def whip_publisher(url: str, media: RawMedia, stop: asyncio.Event, got: Counter[str]) -> None:
    peer = RawPeer(codec=media.codec, direction="sendonly", keep=False)
    async with aiohttp.ClientSession() as http:
        try:
            await peer.connect(await peer.signal(http, url))
            got["whip_connected"] += 1
            st = await publish_media(peer, media, 1e9, stop=stop)
            got["rtp_sent"] += st.rtp_packets
        except (ConnectionError, ValueError, aiohttp.ClientError) as e:
            got[f"whip_error {str(e)[:80]}"] += 1
        finally:
            await peer.close(http)


async def run_one(a: argparse.Namespace, n: int, media: RawMedia | None) -> dict[str, Any]:
    srv = Server(a.case, a.cprofile)
    stop = asyncio.Event()
    got: Counter[str] = Counter()
    tasks: list[asyncio.Future[Any]] = []
    pubs: list[Publisher] = []
    sessions: list[WhepSession] = []
    http = aiohttp.ClientSession()
    try:
        await srv.ready()
        tree = ProcTree(srv.proc.pid)
        if a.case in ("rtmp2rtc", "rtmp"):
            pubs = await rtmp_publishers(srv, n, a.file)
            await asyncio.sleep(1)
            if a.case == "rtmp2rtc":
                for i in range(n):
                    s = WhepSession()
                    sessions.append(s)
                    url = f"http://127.0.0.1:{srv.api}/rtc/v1/whep/?app=live&stream=s{i}"
                    tasks.append(asyncio.ensure_future(s.run(http, url, stop)))
        else:
            assert media is not None
            for i in range(n):
                url = f"http://127.0.0.1:{srv.api}/rtc/v1/whip/?app=live&stream=s{i}"
                tasks.append(asyncio.ensure_future(whip_publisher(url, media, stop, got)))
            if a.flv_players:
                await asyncio.sleep(2)
                for i in range(n):
                    flv = f"http://127.0.0.1:{srv.http}/live/s{i}.flv"
                    tasks.append(asyncio.ensure_future(flv_reader(flv, stop, got)))
        await asyncio.sleep(a.warmup)
        cpu0, w0 = tree.cpu_s(), time.monotonic()
        await asyncio.sleep(a.window)
        dt = time.monotonic() - w0
        cpu = (tree.cpu_s() - cpu0) / dt * 100
        stop.set()
        results = await asyncio.gather(*tasks)
        out: dict[str, Any] = {"case": a.case, "n": n, "window_s": round(dt, 1)}
        out["server_cpu_pct"] = round(cpu, 1)
        out["server_cpu_pct_per_stream"] = round(cpu / n, 2)
        out["server_rss_mb"] = round(tree.rss() / 2**20, 1)
        if sessions:
            kinds: Counter[str] = Counter()
            for r in results:
                for st in r.ssrcs.values():
                    kinds["audio_packets" if st.pt == AUDIO_PT else "video_packets"] += st.packets
            out["whep_connected"] = sum(1 for r in results if r.ok)
            out["whep_errors"] = dict(Counter(r.error for r in results if r.error))
            out.update(kinds)
        out.update(got)
        out["publishers_lost"] = [p.lost for p in pubs if p.lost]
        return out
    finally:
        stop.set()
        for p in pubs:
            p.close()
        for t in tasks:
            t.cancel()
        await asyncio.sleep(0.2)
        await http.close()
        srv.stop()


def profile_top(path: str, k: int) -> list[dict[str, Any]]:
    st = pstats.Stats(path)
    rows = []
    for (file, line, fn), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        if ct < tt:
            continue  # uvloop's idle wait, charged to the coroutine awaiting the stop (App.stop)
        rows.append(
            {
                "function": f"{os.path.relpath(file, REPO) if file.startswith(REPO) else file}:{line}({fn})",
                "calls": nc,
                "tottime_s": round(tt, 2),
                "cumtime_s": round(ct, 2),
            }
        )
    rows.sort(key=lambda r: -r["tottime_s"])
    return rows[:k]


async def run(a: argparse.Namespace) -> list[dict[str, Any]]:
    media = load_flv_media(a.file) if a.case == "rtc2rtmp" else None
    outs = []
    for n in a.n:
        out = await run_one(a, n, media)
        if a.cprofile:
            for _ in range(50):
                if os.path.exists(a.cprofile):
                    break
                await asyncio.sleep(0.2)
            out["profile_top"] = profile_top(a.cprofile, a.top)
        print(json.dumps(out), file=sys.stderr)
        outs.append(out)
    return outs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=("rtmp2rtc", "rtc2rtmp", "rtmp"), default="rtmp2rtc")
    ap.add_argument("-n", type=int, action="append", help="streams (repeatable; default 5 and 20)")
    ap.add_argument("--file", default="", help="FLV (H.264 + AAC; default: whep_load.py's 600 kbit/s clip)")
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--flv-players", action="store_true", help="rtc2rtmp: one HTTP-FLV reader per stream")
    ap.add_argument("--cprofile", default="", help="run the server under cProfile, dump the stats here")
    ap.add_argument("--top", type=int, default=15, help="profile rows to print")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    a.n = a.n or [5, 20]
    a.file = a.file or clip_600k()
    raise_nofile()
    os.sched_setaffinity(0, {TOOL_CPU})
    result = uvloop.run(run(a))
    emit(result, a.out)


if __name__ == "__main__":
    main()
