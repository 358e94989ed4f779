"""SRS's own WebRTC sample configs (tests/data/srs_conf, unchanged) run: only the ports are moved
with SRS's environment overrides (``SRS_LISTEN``, ``SRS_RTC_SERVER_LISTEN``, ...) and ``$CANDIDATE``
is set, as a user would run them."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.media import clip
from support.net import free_ports
from support.rtc import whep_play, whip_publish
from support.server import Ports, SrsProcess
from support.tools import Clients, probe, publish_file

pytestmark = pytest.mark.interop

SAMPLES = Path(__file__).parent.parent / "data" / "srs_conf"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sample(tmp_path: Path) -> Iterator[object]:
    started: list[SrsProcess] = []

    def start(name: str) -> SrsProcess:
        ports = Ports()
        (rtc_tcp,) = free_ports(1)
        env = {
            "SRS_LISTEN": str(ports.rtmp),
            "SRS_HTTP_SERVER_LISTEN": str(ports.http),
            "SRS_HTTP_API_LISTEN": str(ports.api),
            "SRS_RTC_SERVER_LISTEN": str(free_udp_port()),
            "SRS_RTC_SERVER_TCP_LISTEN": str(rtc_tcp),
            "CANDIDATE": "127.0.0.1",
        }
        srv = SrsProcess(tmp_path / name, (SAMPLES / name).read_text(), ports, env)
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        code = srv.stop()
        print(f"----- server log (exit {code}) -----\n{srv.log()[-20000:]}")


def url(srv: SrsProcess, kind: str, stream: str) -> str:
    return f"http://127.0.0.1:{srv.ports.api}/rtc/v1/{kind}/?app=live&stream={stream}"


@pytest.mark.parametrize("name", ["rtc.conf", "rtc.tcp.only.conf"])
def test_rtc_to_rtc_sample(sample: object, name: str) -> None:
    srv = sample(name)  # type: ignore[operator]
    tcp = "tcp" in name

    async def run() -> tuple[object, object]:
        pub = asyncio.ensure_future(whip_publish(url(srv, "whip", "cam"), clip("bbb.flv"), 8, tcp=tcp))
        await asyncio.sleep(2)
        got = await whep_play(url(srv, "whep", "cam"), 8, until_frames=40, until_audio_frames=40, tcp=tcp)
        return got, await pub

    got, pub = asyncio.run(run())
    assert pub.connected, pub  # type: ignore[attr-defined]
    assert got.connected and got.video_frames >= 40 and got.audio_frames >= 40, got  # type: ignore[attr-defined]


def test_rtmp2rtc_sample(sample: object, clients: Clients) -> None:
    srv = sample("rtmp2rtc.conf")  # type: ignore[operator]
    clients.add(publish_file(f"rtmp://127.0.0.1:{srv.ports.rtmp}/live/cam", clip("bbb.flv"), loops=-1))
    srv.wait_log("RTMP publish", 10)
    got = asyncio.run(whep_play(url(srv, "whep", "cam"), 12, until_frames=50, until_audio_frames=50))
    assert got.connected and got.video_frames >= 50 and got.audio_frames >= 50, got
    assert set(got.video_sizes) == {(640, 360)}


def test_rtc2rtmp_sample(sample: object) -> None:
    srv = sample("rtc2rtmp.conf")  # type: ignore[operator]

    async def run() -> tuple[object, object]:
        pub = asyncio.ensure_future(whip_publish(url(srv, "whip", "cam"), clip("bbb.flv"), 8))
        await asyncio.sleep(2.5)
        flv = f"http://127.0.0.1:{srv.ports.http}/live/cam.flv"
        got = await asyncio.to_thread(probe, flv, packets=100)
        return got, await pub

    got, pub = asyncio.run(run())
    assert pub.connected  # type: ignore[attr-defined]
    v, a = got.video, got.audio  # type: ignore[attr-defined]
    assert v is not None and v.codec_name == "h264" and v.frames >= 30, got
    assert a is not None and a.codec_name == "aac" and a.frames >= 30, got
