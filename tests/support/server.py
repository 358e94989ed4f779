"""Run our server for a test: as a subprocess (the real CLI) or in-process (fast, inspectable)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from support.net import free_ports, wait_port

BASE_CONF = """
listen              {listen};
max_connections     {max_connections};
daemon              off;
srs_log_tank        console;
srs_log_level       {log_level};
pid                 ./objs/srs.pid;
http_api {{
    enabled         on;
    listen          {api};
}}
http_server {{
    enabled         on;
    listen          {http};
    dir             ./objs/nginx/html;
}}
vhost __defaultVhost__ {{
    {vhost_body}
}}
{extra}
"""

DEFAULT_VHOST_BODY = """
    http_remux {
        enabled     on;
        mount       [vhost]/[app]/[stream].flv;
    }
"""


class Ports:
    def __init__(self) -> None:
        self.rtmp, self.http, self.api = free_ports(3)


def render_conf(
    ports: Ports,
    *,
    vhost_body: str = DEFAULT_VHOST_BODY,
    extra: str = "",
    max_connections: int = 1000,
    log_level: str = "trace",
    listen: str | None = None,
) -> str:
    """``listen`` replaces the RTMP listen line's value (default: ``ports.rtmp``), e.g.
    ``f"{p.rtmp} [::]:{p.rtmp}"``; keep ``ports.rtmp`` on IPv4 in it, ``start()`` waits for it."""
    return BASE_CONF.format(
        listen=listen if listen is not None else ports.rtmp,
        http=ports.http,
        api=ports.api,
        vhost_body=vhost_body,
        extra=extra,
        max_connections=max_connections,
        log_level=log_level,
    )


class SrsProcess:
    """``python -m srs -c <conf>`` in a temp directory; stdout/stderr captured to a file."""

    def __init__(self, workdir: Path, conf: str, ports: Ports, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.conf = conf
        self.ports = ports
        self.env = dict(os.environ, **(env or {}))
        self.env.pop("SRS_ENV_ONLY", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf_path = workdir / "srs.conf"
        self.log_path = workdir / "srs.log"

    def start(self, timeout_s: float = 15.0) -> SrsProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self.conf)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "srs", "-c", str(self.conf_path)],
            cwd=self.workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        try:
            wait_port(self.ports.rtmp, timeout_s=timeout_s)
        except TimeoutError:
            self.stop()
            raise RuntimeError("server did not start:\n" + self.log()) from None
        return self

    def send(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(Exception):
            self._log.close()
        return int(self.proc.returncode)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, needle: str, timeout_s: float = 10.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.log()
            if needle in text:
                return text
            time.sleep(0.05)
        raise TimeoutError(f"{needle!r} not in log:\n{self.log()}")

    def count_log(self, needle: str) -> int:
        return self.log().count(needle)

    def wait_players(self, stream: str, n: int = 1, app: str = "live", timeout_s: float = 10.0) -> None:
        """Wait until ``n`` players (RTMP or HTTP-FLV) of ``/app/stream`` are registered (server log)."""
        needle = f"url=/{app}/{stream} "
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            lines = [ln for ln in self.log().splitlines() if " play ip=" in ln and needle in ln]
            if len(lines) >= n:
                return
            time.sleep(0.05)
        raise TimeoutError(f"{n} players of /{app}/{stream} not in log:\n{self.log()}")

    def rtmp_url(
        self,
        stream: str = "livestream",
        app: str = "live",
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> str:
        h = f"[{host}]" if ":" in host else host
        return f"rtmp://{h}:{port or self.ports.rtmp}/{app}/{stream}"

    def flv_url(self, stream: str = "livestream", app: str = "live") -> str:
        return f"http://127.0.0.1:{self.ports.http}/{app}/{stream}.flv"


StartServer = Callable[..., SrsProcess]
"""The interop fixture ``start_srs(vhost_body=..., listen=..., extra=..., ports=...)``."""


@contextlib.asynccontextmanager
async def in_process(conf: str) -> AsyncIterator[object]:
    """Start the App on the running loop; yields the App."""
    from srs.app import App
    from srs.config import parse_text

    app = App(parse_text(conf))
    await app.start()
    try:
        yield app
    finally:
        await app.stop(graceful=False)
