"""GB28181 caster: our test device (tests/support/gb_device.py: PS over RTP over TCP, RFC 4571) publishes
after the external SIP server's ``POST /gb/v1/publish/``; ffprobe plays the stream over RTMP."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.gb_device import gb_publish, send_clip
from support.media import clip
from support.net import free_port, wait_port
from support.server import SrsProcess, StartServer
from support.tools import probe

pytestmark = pytest.mark.interop

DEVICE = "34020000001320000001"


def _caster(media_port: int, rtmp_port: int) -> str:
    return f"""
stream_caster {{
    enabled on;
    caster gb28181;
    output rtmp://127.0.0.1:{rtmp_port}/live/[stream];
    listen {media_port};
    sip {{
        enabled on;
        listen 5060;
    }}
}}
"""


def _start(start_srs: StartServer) -> tuple[SrsProcess, int]:
    from support.server import Ports

    ports = Ports()
    media = free_port()
    srs = start_srs(extra=_caster(media, ports.rtmp), ports=ports)
    srs.wait_log("GB28181 media listen")
    wait_port(srs.ports.api)  # the HTTP listeners start after the casters
    return srs, media


@pytest.mark.parametrize(("audio", "rate"), [("aac", 44100), ("g711a", 8000)])
def test_gb_device_publishes_and_rtmp_plays(
    audio: str, rate: int, start_srs: StartServer, bg: ThreadPoolExecutor
) -> None:
    """The SIP server binds the device id to an SSRC; the device sends the clip's H.264 and AAC (or
    G.711 A-law, transcoded to AAC by the server) as PS; ffprobe reads h264 + aac over RTMP."""
    srs, media = _start(start_srs)
    ssrc = 200001234
    answer = gb_publish(srs.ports.api, DEVICE, ssrc)
    assert answer == {"code": 0, "port": media, "is_tcp": True}
    sender = bg.submit(send_clip, media, ssrc, clip("bbb.flv"), audio=audio, realtime=2.0)
    srs.wait_log(f"caster publish ip=127.0.0.1 url=/live/{DEVICE}", timeout_s=20)
    got = probe(srs.rtmp_url(DEVICE), packets=60, rw_timeout_s=10, timeout_s=60)
    assert got.video is not None and got.video.codec_name == "h264"
    assert (got.video.width, got.video.height) == (640, 360)
    assert got.audio is not None and got.audio.codec_name == "aac"
    assert got.audio.sample_rate == rate
    assert got.video.frames > 10 and got.video.monotonic()
    assert sender.result(timeout=60) > 100
    srs.wait_log(f"caster unpublish url=/live/{DEVICE}", timeout_s=20)


def test_gb_h265_device_plays_over_http_ts(start_srs: StartServer, bg: ThreadPoolExecutor) -> None:
    """An H.265 camera (PSM stream type 0x24): ffprobe reads hevc + aac over HTTP-TS."""
    from support.server import Ports

    ports = Ports()
    media = free_port()
    ts_mount = "http_remux { enabled on; mount [vhost]/[app]/[stream].ts; }"
    srs = start_srs(extra=_caster(media, ports.rtmp), ports=ports, vhost_body=ts_mount)
    srs.wait_log("GB28181 media listen")
    wait_port(srs.ports.api)  # the HTTP listeners start after the casters
    assert gb_publish(srs.ports.api, DEVICE, 7)["code"] == 0
    sender = bg.submit(send_clip, media, 7, clip("hevc.flv"), realtime=2.0)
    srs.wait_log(f"caster publish ip=127.0.0.1 url=/live/{DEVICE}", timeout_s=20)
    url = f"http://127.0.0.1:{srs.ports.http}/live/{DEVICE}.ts"
    got = probe(url, packets=60, rw_timeout_s=10, timeout_s=60)
    assert got.video is not None and got.video.codec_name == "hevc"
    assert got.audio is not None and got.audio.codec_name == "aac"
    assert sender.result(timeout=60) > 100


def test_gb_publish_api_binds_each_id_and_ssrc_once(start_srs: StartServer) -> None:
    """SRS's answers: the same id (or SSRC) bound again -> 1028; a body without id/ssrc -> 3008. The
    same {id, ssrc} again is accepted (ours), and media of an unknown SSRC is ignored."""
    srs, media = _start(start_srs)
    assert gb_publish(srs.ports.api, DEVICE, 1)["code"] == 0
    assert gb_publish(srs.ports.api, DEVICE, 1)["code"] == 0
    assert gb_publish(srs.ports.api, DEVICE, 2) == {"code": 1028, "desc": "StreamBusy"}
    assert gb_publish(srs.ports.api, "34020000001320000002", 1) == {"code": 1028, "desc": "StreamBusy"}
    for body in (b"{}", b'{"id": "x"}', b"not json", b'{"id": "x", "ssrc": "abc"}'):
        req = urllib.request.Request(f"http://127.0.0.1:{srs.ports.api}/gb/v1/publish/", data=body)
        with urllib.request.urlopen(req, timeout=10) as res:
            assert json.loads(res.read())["code"] == 3008
    send_clip(media, 999, clip("bbb.flv"), realtime=0, seconds=1)
    srs.wait_log("GB: ignore media of ssrc=999")
    assert "caster publish" not in srs.log()


def test_gb_stream_is_a_client_of_the_api_and_can_be_kicked(
    start_srs: StartServer, bg: ThreadPoolExecutor
) -> None:
    """The publish is listed by /api/v1/clients (SRS's type for its caster client) and a kick closes the
    device's media connection (the device may connect again: the binding stays)."""
    srs, media = _start(start_srs)
    assert gb_publish(srs.ports.api, DEVICE, 42)["code"] == 0
    sender = bg.submit(send_clip, media, 42, clip("bbb.flv"), realtime=1.0)
    srs.wait_log(f"caster publish ip=127.0.0.1 url=/live/{DEVICE}", timeout_s=20)
    api = f"http://127.0.0.1:{srs.ports.api}/api/v1/clients/"
    with urllib.request.urlopen(api, timeout=10) as res:
        clients = json.loads(res.read())["clients"]
    mine = [c for c in clients if c.get("url") == f"/live/{DEVICE}"]
    assert len(mine) == 1 and mine[0]["type"] == "flash-publish" and mine[0]["publish"] is True
    req = urllib.request.Request(api + str(mine[0]["id"]), method="DELETE")
    with urllib.request.urlopen(req, timeout=10) as res:
        assert json.loads(res.read())["code"] == 0
    srs.wait_log(f"caster unpublish url=/live/{DEVICE}", timeout_s=10)
    srs.wait_log("GB media close ip=127.0.0.1", timeout_s=10)
    with pytest.raises(OSError):
        sender.result(timeout=30)  # the device sees its connection closed
