"""In-process server fixture: the App on the test's event loop, on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from srs.app import App
from srs.config import parse_text
from support.server import DEFAULT_VHOST_BODY, Ports, render_conf


@dataclass
class Running:
    app: App
    ports: Ports
    workdir: Path

    @property
    def ctx(self):  # type: ignore[no-untyped-def]
        assert self.app.ctx is not None
        return self.app.ctx

    def flv_url(self, stream: str = "livestream", app: str = "live") -> str:
        return f"http://127.0.0.1:{self.ports.http}/{app}/{stream}.flv"


async def start_app(
    tmp_path: Path, vhost_body: str = DEFAULT_VHOST_BODY, extra: str = "", **kw: object
) -> Running:
    ports = Ports()
    conf = render_conf(ports, vhost_body=vhost_body, extra=extra, **kw)  # type: ignore[arg-type]
    conf = conf.replace("./objs/nginx/html", str(tmp_path / "html"))
    app = App(parse_text(conf))
    await app.start()
    assert app.ctx is not None
    app.ctx.identify_timeout_s = 2.0
    return Running(app, ports, tmp_path)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Running]:
    r = await start_app(tmp_path)
    try:
        yield r
    finally:
        await r.app.stop(graceful=False)
