"""Hook overhead per publish: time from the RTMP ``publish`` command to ``NetStream.Publish.Start``,
HTTP callbacks off vs on.

    .venv/bin/python bench/hook_overhead.py [-n 300] [--out bench/results/hook_overhead.json]

Two servers run as real subprocesses (``python -m srs -c <conf>``, uvloop, log to a file), with the
same config except ``http_hooks``: off on one, on the other with ``on_connect``, ``on_publish``,
``on_unpublish`` and ``on_close`` pointing at a local aiohttp receiver (in this process) that
answers ``0``. Both use ``tcp_nodelay --tcp-nodelay`` (on by default, see the option's help). Our server calls ``on_connect`` and ``on_publish`` (blocking, in that order) after
the publish command arrives, so each timed publish on the hooked server waits for two POSTs.

Each round opens one connection per server (handshake + connect, not timed), then times
``publish`` -> ``NetStream.Publish.Start`` on each (alternating which goes first, so drift and
warm-up hit both the same), then closes both. The first ``--warmup`` rounds are discarded. The
report gives median/p95/mean per mode and the overhead (on - off) at the median and p95.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop
from aiohttp import web

from srs.protocol.rtmp.client import ClientSession
from srs.protocol.rtmp.events import Connected, HandshakeCompleted, StatusReceived

CONF = """
listen              {rtmp};
max_connections     1000;
daemon              off;
srs_log_tank        file;
srs_log_file        {log};
pid                 {pid};
http_api {{ enabled off; }}
http_server {{ enabled off; }}
vhost __defaultVhost__ {{
    tcp_nodelay {nodelay};
{hooks}
}}
"""

HOOKS = """    http_hooks {{
        enabled         on;
        on_connect      {url}/on_connect;
        on_publish      {url}/on_publish;
        on_unpublish    {url}/on_unpublish;
        on_close        {url}/on_close;
    }}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"server on {port} did not start")


class Server:
    def __init__(self, workdir: Path, name: str, hooks: str, nodelay: str) -> None:
        self.port = free_port()
        self.dir = workdir / name
        self.dir.mkdir(parents=True)
        conf = CONF.format(
            rtmp=self.port, log=self.dir / "srs.log", pid=self.dir / "srs.pid", hooks=hooks, nodelay=nodelay
        )
        (self.dir / "srs.conf").write_text(conf)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "srs", "-c", str(self.dir / "srs.conf")],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Conn:
    """A minimal RTMP publisher over our sans-IO client: connect, then one timed publish."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.session = ClientSession(random_bytes=os.urandom, epoch_ms=int(time.time() * 1000))

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        c = cls(reader, writer)
        c.flush()
        await c.until(lambda e: isinstance(e, HandshakeCompleted))
        c.session.connect(f"rtmp://127.0.0.1:{port}/live")
        c.flush()
        await c.until(lambda e: isinstance(e, Connected))
        return c

    def flush(self) -> None:
        out = self.session.data_to_send()
        if out:
            self.writer.writelines(out)

    async def until(self, pred: Any) -> None:
        while True:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            events = self.session.receive_data(data)
            self.flush()
            if any(pred(e) for e in events):
                return

    async def timed_publish(self, stream: str) -> float:
        t0 = time.perf_counter()
        self.session.publish(stream)
        self.flush()
        await self.until(
            lambda e: isinstance(e, StatusReceived) and e.info.get("code") == "NetStream.Publish.Start"
        )
        return (time.perf_counter() - t0) * 1000

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def summarize(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values), 3),
        "p95_ms": round(pct(values, 95), 3),
        "mean_ms": round(statistics.fmean(values), 3),
        "min_ms": round(min(values), 3),
        "max_ms": round(max(values), 3),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    counts: dict[str, int] = {}

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        action = request.path.rsplit("/", 1)[-1]
        counts[action] = counts.get(action, 0) + 1
        return web.Response(text="0")

    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    rx_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", rx_port).start()

    with tempfile.TemporaryDirectory(prefix="hookbench-") as tmp:
        off = Server(Path(tmp), "off", "", args.tcp_nodelay)
        on = Server(Path(tmp), "on", HOOKS.format(url=f"http://127.0.0.1:{rx_port}/hooks"), args.tcp_nodelay)
        times: dict[str, list[float]] = {"off": [], "on": []}
        try:
            for i in range(args.warmup + args.n):
                order = [("off", off), ("on", on)] if i % 2 == 0 else [("on", on), ("off", off)]
                for mode, server in order:
                    c = await Conn.open(server.port)
                    ms = await c.timed_publish(f"bench{i}")
                    await c.close()
                    if i >= args.warmup:
                        times[mode].append(ms)
            await asyncio.sleep(0.5)  # let the last on_unpublish/on_close arrive
        finally:
            off.stop()
            on.stop()
            await runner.cleanup()

    res_off, res_on = summarize(times["off"]), summarize(times["on"])
    return {
        "n": args.n,
        "tcp_nodelay": args.tcp_nodelay,
        "warmup": args.warmup,
        "python": sys.version.split()[0],
        "hooks_off": res_off,
        "hooks_on": res_on,
        "overhead_median_ms": round(res_on["median_ms"] - res_off["median_ms"], 3),
        "overhead_p95_ms": round(res_on["p95_ms"] - res_off["p95_ms"], 3),
        "hook_requests": counts,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=300, help="timed publishes per mode")
    p.add_argument("--warmup", type=int, default=20, help="rounds discarded first")
    p.add_argument(
        "--tcp-nodelay",
        choices=("on", "off"),
        default="on",
        help="vhost tcp_nodelay of both servers (off is SRS's default)",
    )
    p.add_argument("--out", help="write the result as JSON here")
    args = p.parse_args(argv)
    result = uvloop.run(run(args))
    off, on = result["hooks_off"], result["hooks_on"]
    print(
        f"publish -> Publish.Start over {args.n} publishes (tcp_nodelay {args.tcp_nodelay}): hooks off median {off['median_ms']} ms "
        f"p95 {off['p95_ms']} ms; hooks on median {on['median_ms']} ms p95 {on['p95_ms']} ms; "
        f"overhead median {result['overhead_median_ms']} ms, p95 {result['overhead_p95_ms']} ms; "
        f"hook requests {result['hook_requests']}"
    )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
