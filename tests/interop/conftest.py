"""Fixtures for the interop suite: our server as a real process, real clients around it.

Every test gets its own server (free loopback ports, its own temp dir) and unique stream names,
so the suite runs in parallel under pytest-xdist. Clients are tracked and killed at teardown;
the server log is printed at teardown, so pytest shows it next to a failure.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.server import DEFAULT_VHOST_BODY, Ports, SrsProcess, StartServer, render_conf
from support.tools import Clients


@pytest.fixture
def stream_name(request: pytest.FixtureRequest) -> str:
    base = re.sub(r"[^a-zA-Z0-9]+", "-", request.node.name).strip("-")[:40]
    return f"{base}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def start_srs(tmp_path: Path) -> Iterator[StartServer]:
    """``start_srs(vhost_body=..., listen=..., extra=...)`` -> a started :class:`SrsProcess`."""
    started: list[SrsProcess] = []

    def start(
        *,
        vhost_body: str = DEFAULT_VHOST_BODY,
        listen: str | None = None,
        extra: str = "",
        ports: Ports | None = None,
    ) -> SrsProcess:
        ports = ports or Ports()
        conf = render_conf(ports, vhost_body=vhost_body, extra=extra, listen=listen)
        srv = SrsProcess(tmp_path / f"srs{len(started)}", conf, ports)
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        code = srv.stop()
        log = srv.log()
        print(f"----- server log ({srv.workdir}, exit {code}) -----\n{log[-20000:]}")


@pytest.fixture
def srs(start_srs: StartServer) -> SrsProcess:
    return start_srs()


@pytest.fixture
def clients() -> Iterator[Clients]:
    c = Clients()
    yield c
    c.close()


@pytest.fixture
def bg() -> Iterator[ThreadPoolExecutor]:
    """Run blocking players (ffprobe, PyAV, the HTTP-FLV reader) while the test publishes."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        yield pool
