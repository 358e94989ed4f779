"""Fan-out load tool: one published ~500 kbit/s stream, N RTMP or HTTP-FLV players, one uvloop process.

    .venv/bin/python bench/load.py --proto rtmp -n 1000 --server-pid PID [--out result.json]

What it does, in order:

1. publishes ``--file`` (FLV, H.264+AAC) in real time with our own RTMP client, looped with
   continuous timestamps, recording when each payload byte and each A/V frame was sent;
2. after ``--preroll`` seconds (so the server's GOP cache holds a key frame) connects a latency
   probe (a fully parsing player) and then N counting players at ``--ramp`` per second, with
   ``--probes`` - 1 more probes joining at even points of the ramp (the last after everyone);
3. waits until every player plays, then ``--warmup`` seconds, then measures for ``--window`` s:
   bytes per player, server CPU (user+sys of the server process tree, % of one core) and max RSS,
   the tool's own CPU and event-loop lag, the CPU of everything else on the machine, latency of
   every audio and video frame at the probes (send -> receive; p50/p95/p99), and time to first key
   frame of fresh players started during the window;
4. prints one summary line and writes JSON (``--out``).

A player "kept up" when it received >= 95% of the payload bytes the publisher sent over the same
window, shifted by the probe's median latency. A perfect player gets ~100-103% (chunk/tag headers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from typing import Any

import psutil
import uvloop

from players import (
    CountingPlayer,
    FlvCountingPlayer,
    FlvProbe,
    Probe,
    Publisher,
    RtmpCountingPlayer,
    RtmpProbe,
    TsProbe,
    load_stream,
    now,
)

KEPT_UP = 0.95
TOOL_SATURATED_PCT = 90.0
CONTENDED_PCT = 20.0  # other processes used this much CPU: figures are skewed
SAMPLE_S = 0.5


def raise_nofile(want: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for lim in ((want, max(want, hard)), (min(want, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, lim)
            return lim[0]
        except (ValueError, OSError):
            continue
    return soft


def emit(result: object, out: str = "") -> None:
    """Print a bench's JSON summary, and write it to ``out`` too when given."""
    print(json.dumps(result, indent=1))
    if out:
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        with open(out, "w") as f:
            json.dump(result, f, indent=1)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def rnd(v: float | None, nd: int = 1) -> float | None:
    return None if v is None else round(v, nd)


class ProcTree:
    """CPU seconds (user+sys) and RSS of a process and its children (nginx: master + worker)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)

    def procs(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return []

    def cpu_s(self) -> float:
        total = 0.0
        for p in self.procs():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def rss(self) -> int:
        total = 0
        for p in self.procs():
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total


class Loader:
    def __init__(self, args: argparse.Namespace) -> None:
        self.a = args
        self.loop = asyncio.get_running_loop()
        self.stream = load_stream(args.file)
        self.tc_url = f"rtmp://{args.host}:{args.rtmp_port}/{args.app}"
        self.flv_path = f"/{args.app}/{args.stream}.{'ts' if args.proto == 'ts' else 'flv'}"
        self.players: list[CountingPlayer] = []
        self.connect_errors: list[str] = []
        self.ttff_probes: list[Probe] = []
        self.server = ProcTree(args.server_pid) if args.server_pid else None
        self.me = psutil.Process()
        self.lags_ms: list[float] = []
        self.publisher: Publisher | None = None

    # ------------------------------------------------------------------ connections

    async def _connect(self, factory: Any, port: int) -> bool:
        try:
            await self.loop.create_connection(factory, self.a.host, port)
            return True
        except OSError as e:
            self.connect_errors.append(str(e))
            return False

    async def start_player(self) -> None:
        a = self.a
        p: CountingPlayer
        if a.proto == "rtmp":
            p = RtmpCountingPlayer(self.tc_url, a.stream, a.rcvlowat)
            port = a.rtmp_port
        else:
            p = FlvCountingPlayer(a.host, a.http_port, self.flv_path, a.rcvlowat)
            port = a.http_port
        self.players.append(p)
        if not await self._connect(lambda: p, port):
            p.failed = "connect failed"

    async def start_probe(self, *, closing: bool) -> Probe:
        a = self.a
        assert self.publisher is not None

        def done(p: Probe) -> None:
            if closing:
                p.close()

        t0 = now()
        probe: Probe
        if a.proto == "rtmp":
            probe = RtmpProbe(self.publisher, self.tc_url, a.stream, t0, done)
            port = a.rtmp_port
        elif a.proto == "ts":
            probe = TsProbe(self.publisher, a.host, a.http_port, self.flv_path, t0, done)
            port = a.http_port
        else:
            probe = FlvProbe(self.publisher, a.host, a.http_port, self.flv_path, t0, done)
            port = a.http_port
        if not await self._connect(lambda: probe, port):
            probe.failed = "connect failed"
        return probe

    # ------------------------------------------------------------------ samplers

    async def watch_lag(self, stop: asyncio.Event) -> None:
        """Event-loop lag of the tool: if it grows, the tool (not the server) is the bottleneck."""
        step = 0.1
        while not stop.is_set():
            t = now()
            await asyncio.sleep(step)
            self.lags_ms.append(max(0.0, (now() - t - step) * 1000))

    # ------------------------------------------------------------------ the run

    async def run(self) -> dict[str, Any]:
        a = self.a
        stream = self.stream
        pub = Publisher(stream, self.tc_url, a.stream)
        self.publisher = pub
        await self.loop.create_connection(lambda: pub, a.host, a.rtmp_port)
        await asyncio.wait_for(pub.started, 10)
        await asyncio.sleep(a.preroll)

        idle_rss = self.server.rss() if self.server else 0
        # Latency probes join at even points of the ramp (first, ..., last): a server that serves
        # its players in join order shows the spread, one that rotates shows the same for all.
        probes = [await self.start_probe(closing=False)]
        marks = [round(a.n * i / (a.probes - 1)) for i in range(1, a.probes)] if a.probes > 1 else []

        # Ramp: batches every 50 ms; the connects are tasks only until connected.
        t_ramp = now()
        batch = max(1, round(a.ramp * 0.05))
        tasks: list[asyncio.Task[None]] = []
        started = 0
        while started < a.n:
            k = min(batch, a.n - started)
            tasks.extend(self.loop.create_task(self.start_player()) for _ in range(k))
            started += k
            while marks and started >= marks[0]:
                marks.pop(0)
                probes.append(await self.start_probe(closing=False))
            await asyncio.sleep(max(0.0, t_ramp + started / a.ramp - now()))
        while marks:
            marks.pop(0)
            probes.append(await self.start_probe(closing=False))
        await asyncio.gather(*tasks)
        deadline = now() + a.settle
        while now() < deadline and any(
            not p.playing and p.failed is None and not p.lost for p in self.players
        ):
            await asyncio.sleep(0.1)
        ramp_s = now() - t_ramp
        await asyncio.sleep(a.warmup)

        # ---- measurement window
        stop = asyncio.Event()
        lag_task = self.loop.create_task(self.watch_lag(stop))
        playing0 = [p.playing and not p.lost for p in self.players]
        b0 = [p.bytes for p in self.players]
        for p in self.players:
            p.max_gap = 0.0
            p.last_rx = max(p.last_rx, now())
        sys0 = psutil.cpu_times()
        me0 = self.me.cpu_times()
        srv0 = self.server.cpu_s() if self.server else 0.0
        t0 = now()
        for pr in probes:
            pr.recording = True
        max_rss = 0
        max_backlog = 0
        rss_samples: list[int] = []
        timeline: list[tuple[float, list[int]]] = []  # (time, bytes per player): where laggards lost
        next_ttff = t0 + a.window / (a.ttff_count + 1)
        while True:
            t = now()
            if t >= t0 + a.window:
                break
            timeline.append((t, [p.bytes for p in self.players]))
            if self.server:
                rss = self.server.rss()
                rss_samples.append(rss)
                max_rss = max(max_rss, rss)
            if self.publisher.transport is not None:
                max_backlog = max(max_backlog, self.publisher.transport.get_write_buffer_size())
            if t >= next_ttff and len(self.ttff_probes) < a.ttff_count:
                self.ttff_probes.append(await self.start_probe(closing=True))
                next_ttff += a.window / (a.ttff_count + 1)
            await asyncio.sleep(min(SAMPLE_S, max(0.0, t0 + a.window - now())))
        t1 = now()
        for pr in probes:
            pr.recording = False
        srv1 = self.server.cpu_s() if self.server else 0.0
        me1 = self.me.cpu_times()
        sys1 = psutil.cpu_times()
        b1 = [p.bytes for p in self.players]
        alive1 = [not p.lost and p.failed is None for p in self.players]
        stop.set()
        await lag_task
        await asyncio.sleep(3.0)  # let the last TTFF probes finish; late bytes tell lag from loss
        b2 = [p.bytes for p in self.players]
        span = t1 - t0

        # ---- results
        lat = [x for pr in probes for x in pr.latencies_ms]
        vlat = [x for pr in probes for x in pr.video_latencies_ms]
        alat = [x for pr in probes for x in pr.audio_latencies_ms]
        shift = (statistics.median(lat) / 1000) if lat else 0.0
        ref = pub.bytes_at(t1 - shift) - pub.bytes_at(t0 - shift)
        ratios = [(b1[i] - b0[i]) / ref if ref > 0 else 0.0 for i in range(len(self.players))]
        laggards = sorted(
            (
                {
                    "player": i,
                    "ratio": round(r, 3),
                    "ratio_3s_later": round((b2[i] - b0[i]) / ref, 3) if ref > 0 else None,
                    "max_gap_s": round(self.players[i].max_gap, 2),
                    # kB received per sample interval, against the publisher's kB in the same interval
                    "kb_per_interval": [
                        round((timeline[k + 1][1][i] - timeline[k][1][i]) / 1000)
                        for k in range(len(timeline) - 1)
                    ],
                    "pub_kb_per_interval": [
                        round(
                            (pub.bytes_at(timeline[k + 1][0] - shift) - pub.bytes_at(timeline[k][0] - shift))
                            / 1000
                        )
                        for k in range(len(timeline) - 1)
                    ],
                }
                for i, r in enumerate(ratios)
                if r < KEPT_UP
            ),
            key=lambda x: x["ratio"] or 0.0,
        )[:20]
        kept = sum(1 for i, r in enumerate(ratios) if r >= KEPT_UP and playing0[i] and alive1[i])
        srv_cpu = (srv1 - srv0) / span * 100 if self.server else None
        me_cpu = ((me1.user - me0.user) + (me1.system - me0.system)) / span * 100
        sys_cpu = (_busy(sys1) - _busy(sys0)) / span * 100
        # Loopback TCP delivery runs as softirq in the sender's context and is charged to that
        # process too (checked on this kernel: quiet runs give other ~ 0): reported for information.
        softirq = (sys1.softirq - sys0.softirq) / span * 100
        other = sys_cpu - (srv_cpu or 0.0) - me_cpu
        ttffs = [p.ttff_ms for p in self.ttff_probes if p.ttff_ms is not None]
        pub_error = pub.lost
        for pr in [*probes, *self.ttff_probes]:
            pr.close()
        for pl in self.players:
            pl.close()
        pub.close()
        failures: dict[str, int] = {}
        for p in self.players:
            if p.failed:
                failures[p.failed] = failures.get(p.failed, 0) + 1
        for e in self.connect_errors:
            failures[e] = failures.get(e, 0) + 1
        return {
            "label": a.label,
            "proto": a.proto,
            "n": a.n,
            "window_s": round(span, 2),
            "rcvlowat": a.rcvlowat,
            "ramp_s": round(ramp_s, 2),
            "stream": {
                "file": a.file,
                "file_kbps": round(stream.bitrate_kbps, 1),
                "loop_ms": stream.loop_ms,
                "unique_video_frames": stream.unique_video_crcs,
                "unique_audio_frames": stream.unique_audio_crcs,
            },
            "publisher_kbps": round(ref * 8 / span / 1000, 1),
            "publisher_max_backlog_bytes": max(max_backlog, pub.max_backlog),
            "publisher_error": pub_error,
            "players_playing_at_start": sum(playing0),
            "players_alive_at_end": sum(alive1),
            "kept_up": kept,
            "kept_up_pct": round(kept / a.n * 100, 1) if a.n else None,
            "ratio_min": rnd(min(ratios), 3) if ratios else None,
            "ratio_p5": rnd(pct(ratios, 5), 3),
            "ratio_median": rnd(pct(ratios, 50), 3),
            "player_kbps_median": rnd((pct(ratios, 50) or 0) * ref * 8 / span / 1000),
            "failures": failures,
            "laggards": laggards,
            "player_max_gap_s": rnd(max((p.max_gap for p in self.players), default=0.0), 2),
            "server_cpu_pct": rnd(srv_cpu),
            "server_rss_mb_max": rnd(max_rss / 2**20) if self.server else None,
            "server_rss_mb_idle": rnd(idle_rss / 2**20) if self.server else None,
            "tool_cpu_pct": rnd(me_cpu),
            "tool_saturated": me_cpu >= TOOL_SATURATED_PCT,
            "contended": other >= CONTENDED_PCT,
            "tool_loop_lag_ms_p95": rnd(pct(self.lags_ms, 95)),
            "tool_loop_lag_ms_max": rnd(max(self.lags_ms) if self.lags_ms else None),
            "machine_cpu_pct": rnd(sys_cpu),
            "softirq_cpu_pct": rnd(softirq),
            "other_cpu_pct": rnd(other),
            # Added latency over every recognised A/V frame (publisher send -> probe receive).
            "latency_ms_median": rnd(pct(lat, 50)),
            "latency_ms_p95": rnd(pct(lat, 95)),
            "latency_ms_p99": rnd(pct(lat, 99)),
            "latency_ms_max": rnd(max(lat) if lat else None),
            "latency_samples": len(lat),
            "video_latency_ms": [rnd(pct(vlat, q)) for q in (50, 95, 99)],
            "audio_latency_ms": [rnd(pct(alat, q)) for q in (50, 95, 99)],
            "latency_per_probe_ms": [[rnd(pct(pr.latencies_ms, q)) for q in (50, 95)] for pr in probes],
            "latency_unmatched": sum(pr.unmatched for pr in probes),
            "probe_error": next((pr.failed for pr in probes if pr.failed), None),
            "ttff_ms": [round(x, 1) for x in ttffs],
            "ttff_ms_median": rnd(pct(ttffs, 50)),
            "ttff_failed": sum(1 for p in self.ttff_probes if p.ttff_ms is None),
            "ttff_steps_ms": [p.steps_ms for p in self.ttff_probes],
        }


def _busy(c: Any) -> float:
    return float(c.user + c.nice + c.system + c.irq + c.softirq + c.steal)


def summary(r: dict[str, Any]) -> str:
    warn = " TOOL SATURATED (numbers invalid)" if r["tool_saturated"] else ""
    if r.get("contended"):
        warn += " MACHINE BUSY (other processes)"
    return (
        f"{r['label']} {r['proto']} N={r['n']}: kept up {r['kept_up']}/{r['n']} "
        f"(ratio p5 {r['ratio_p5']}, median {r['ratio_median']}), "
        f"server cpu {r['server_cpu_pct']}% rss {r['server_rss_mb_max']} MB, "
        f"tool cpu {r['tool_cpu_pct']}% (lag p95 {r['tool_loop_lag_ms_p95']} ms), other cpu {r['other_cpu_pct']}%, "
        f"pub {r['publisher_kbps']} kbit/s, latency p50 {r['latency_ms_median']} p95 {r['latency_ms_p95']} "
        f"p99 {r.get('latency_ms_p99')} ms, "
        f"ttff median {r['ttff_ms_median']} ms{warn}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--proto", choices=("rtmp", "flv", "ts"), default="rtmp")
    ap.add_argument("-n", type=int, default=100, help="counting players")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--rtmp-port", type=int, default=19350)
    ap.add_argument("--http-port", type=int, default=18080)
    ap.add_argument("--app", default="live")
    ap.add_argument("--stream", default="bench")
    ap.add_argument("--file", default=os.path.join(here, "results", "stream.flv"))
    ap.add_argument("--server-pid", type=int, default=0, help="pid of the server under test")
    ap.add_argument("--ramp", type=float, default=200.0, help="new players per second")
    ap.add_argument("--preroll", type=float, default=3.0, help="publish this long before players join")
    ap.add_argument("--settle", type=float, default=30.0, help="max wait for all players to play")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--window", type=float, default=25.0)
    ap.add_argument("--probes", type=int, default=3, help="latency probes, spread over the join order")
    ap.add_argument("--ttff-count", type=int, default=5, help="fresh players started during the window")
    ap.add_argument("--rcvlowat", type=int, default=8192, help="SO_RCVLOWAT of counting players (0: off)")
    ap.add_argument("--label", default="srs")
    ap.add_argument("--out", default="")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_nofile()
    result = uvloop.run(_main(args))
    line = summary(result)
    print(line, flush=True)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({**result, "summary": line, "time": time.strftime("%Y-%m-%d %H:%M:%S")}, f, indent=1)
    return 0


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    return await Loader(args).run()


if __name__ == "__main__":
    sys.exit(main())
