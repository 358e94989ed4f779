"""WebRTC signalling over HTTP (srs.server.rtc.signal) on a real server whose media side is a fake
RtcSessions: WHIP/WHEP/whip-play and the legacy JSON API, every query option, refusals (closed
connection for WHIP, ``{"code":400}`` for the legacy API), DELETE, candidates, ``features``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from srs.server.rtc import signal
from srs.server.rtc.candidates import HostResolver, LocalAddress
from srs.server.rtc.spec import Created, SessionSpec
from srs.util.errors import AccessDeniedError, SrsError
from support.server import DEFAULT_VHOST_BODY

from .conftest import Running, start_app

ANSWER = "v=0\r\no=SRS/7.0.18 1 2 IN IP4 0.0.0.0\r\ns=SRSPublishSession\r\nt=0 0\r\n"
VHOST_BODY = DEFAULT_VHOST_BODY + "    rtc { enabled on; }\n"
EXTRA = """
rtc_server { enabled off; candidate 1.2.3.4; }
vhost rtc.example { rtc { enabled on; } }
vhost nortc.example { }
"""
CLOSED = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError)

_OFFERS: dict[bool, str] = {}


async def offer(publish: bool = True) -> str:
    """A real aiortc offer (audio + video, sendonly to publish, recvonly to play)."""
    if publish not in _OFFERS:
        from aiortc import RTCPeerConnection

        pc = RTCPeerConnection()
        direction = "sendonly" if publish else "recvonly"
        pc.addTransceiver("audio", direction=direction)
        pc.addTransceiver("video", direction=direction)
        desc = await pc.createOffer()
        await pc.close()
        _OFFERS[publish] = desc.sdp
    return _OFFERS[publish]


@dataclass
class FakeRtc:
    """Records what the signalling asks; answers ``answer`` or raises ``error``."""

    specs: list[SessionSpec] = field(default_factory=list)
    deleted: list[tuple[str, str]] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=lambda: {"local123:remote": "tok456"})
    answer: str = ANSWER
    error: BaseException | None = None
    udp: int | None = 8000
    tcp: int | None = None

    async def create(self, spec: SessionSpec) -> Created:
        self.specs.append(spec)
        if self.error is not None:
            raise self.error
        remote = spec.offer.media[0].ice_ufrag or ""
        return Created(self.answer, f"local123:{remote}", "tok456", "cid789")

    def delete(self, session_id: str, token: str) -> bool:
        self.deleted.append((session_id, token))
        known = self.sessions.get(session_id)
        return known is None or known == token  # as RtcServer: a session already gone is fine

    @property
    def udp_port(self) -> int | None:
        return self.udp

    @property
    def tcp_port(self) -> int | None:
        return self.tcp

    @property
    def last(self) -> SessionSpec:
        return self.specs[-1]


@dataclass
class Env:
    r: Running
    http: aiohttp.ClientSession
    rtc: FakeRtc

    def url(self, path: str, port: int | None = None) -> str:
        return f"http://127.0.0.1:{port or self.r.ports.api}{path}"


async def _env(tmp_path: Path, extra: str = EXTRA) -> AsyncIterator[Env]:
    r = await start_app(tmp_path, vhost_body=VHOST_BODY, extra=extra)
    fake = FakeRtc()
    r.ctx.rtc = fake
    http = aiohttp.ClientSession()
    try:
        yield Env(r, http, fake)
    finally:
        await http.close()
        await r.app.stop(graceful=False)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async for e in _env(tmp_path):
        yield e


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names resolve from this table (no DNS); the interface list is fixed."""
    table: dict[str, str] = {}

    async def lookup(host: str) -> str | None:
        return table.get(host)

    monkeypatch.setattr(signal, "RESOLVER", HostResolver(lookup))
    monkeypatch.setattr(signal, "INTERFACES", lambda: (LocalAddress("192.168.9.9", True, False, "eth0"),))
    return table


async def whip(
    e: Env, path: str = "/rtc/v1/whip/", body: str | None = None, headers: dict[str, str] | None = None
) -> aiohttp.ClientResponse:
    data = body if body is not None else await offer("whep" not in path and "play" not in path)
    headers = {"Content-Type": "application/sdp", **(headers or {})}
    resp = await e.http.post(e.url(path), data=data, headers=headers)
    await resp.read()
    return resp


async def refused(e: Env, path: str = "/rtc/v1/whip/", body: str | None = None, method: str = "POST") -> None:
    """SRS: a refused WHIP/WHEP request gets no response at all."""
    data = body if body is not None else await offer()
    with pytest.raises(CLOSED):
        async with e.http.request(method, e.url(path), data=data) as resp:
            await resp.read()
            pytest.fail(f"answered {resp.status} {resp.headers}")


async def legacy(e: Env, path: str, body: Any, query: str = "") -> Any:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    async with e.http.post(e.url(path + query), data=raw) as resp:
        assert resp.status == 200
        assert resp.headers["Connection"].lower() == "close"
        text = await resp.text()
        if resp.headers["Content-Type"] == "application/json":
            return json.loads(text)
        return text


# ---------------------------------------------------------------- WHIP / WHEP


async def test_whip_publish_answer_location_and_spec(env: Env) -> None:
    resp = await whip(env, "/rtc/v1/whip/?app=live&stream=cam")
    assert resp.status == 201
    assert resp.headers["Content-Type"] == "application/sdp"
    assert resp.headers["Connection"].lower() == "close"
    assert await resp.text() == ANSWER
    spec = env.rtc.last
    remote = spec.offer.media[0].ice_ufrag
    assert resp.headers["Location"] == (
        f"/rtc/v1/whip/?action=delete&token=tok456&app=live&stream=cam&session=local123:{remote}"
    )
    assert spec.publish and spec.kind == "rtc-publish"
    req = spec.request
    assert (req.vhost, req.app, req.stream, req.param) == (
        "__defaultVhost__",
        "live",
        "cam",
        "app=live&stream=cam",
    )
    assert req.ip == spec.client_ip == "127.0.0.1"
    assert spec.vhost.name == "__defaultVhost__"
    assert [m.kind for m in spec.offer.media] == ["audio", "video"]
    assert (spec.codec, spec.encrypt, spec.dtls, spec.ice_ufrag, spec.ice_pwd) == ("h264", True, True, "", "")
    assert [str(c) for c in spec.candidates] == [
        "candidate:0 1 udp 2130706431 1.2.3.4 8000 typ host generation 0"
    ]


async def test_whip_defaults_app_and_stream(env: Env) -> None:
    assert (await whip(env)).status == 201
    req = env.rtc.last.request
    assert (req.app, req.stream, req.param) == ("live", "livestream", "")


@pytest.mark.parametrize(
    ("path", "publish"),
    [
        ("/rtc/v1/whip/", True),
        ("/rtc/v1/whip/?action=publish", True),
        ("/rtc/v1/whip/?action=play", False),
        ("/rtc/v1/whip/?action=other", False),  # SRS: anything but publish plays
        ("/rtc/v1/whep/", False),
        ("/rtc/v1/whep/?action=publish", False),  # the path forces play
        ("/rtc/v1/whip-play/", False),
        ("/rtc/v1/whip-play/?action=publish", False),
    ],
)
async def test_action_by_path_and_query(env: Env, path: str, publish: bool) -> None:
    resp = await whip(env, path, body=await offer(publish))
    assert resp.status == 201
    spec = env.rtc.last
    assert spec.publish is publish
    assert spec.kind == ("rtc-publish" if publish else "rtc-play")
    assert resp.headers["Location"].startswith("/rtc/v1/whip/?action=delete&token=tok456&app=live")


@pytest.mark.parametrize(
    ("query", "codec", "encrypt", "dtls"),
    [
        ("codec=hevc", "hevc", True, True),
        ("codec=HEVC", "hevc", True, True),
        ("codec=h265", "h265", True, True),
        ("codec=av1", "av1", True, True),
        ("codec=vp8", "vp8", True, True),
        ("codec=mpeg2", "h264", True, True),  # SRS: anything else is H.264
        ("encrypt=false", "h264", False, True),
        ("encrypt=true", "h264", True, True),
        ("encrypt=no", "h264", True, True),  # only "false" turns it off
        ("dtls=false", "h264", True, False),
        ("encrypt=false&dtls=false", "h264", False, False),
    ],
)
async def test_query_options(env: Env, query: str, codec: str, encrypt: bool, dtls: bool) -> None:
    assert (await whip(env, "/rtc/v1/whep/?" + query)).status == 201
    spec = env.rtc.last
    assert (spec.codec, spec.encrypt, spec.dtls) == (codec, encrypt, dtls)
    assert spec.request.param == query


async def test_encrypt_default_from_rtc_server(tmp_path: Path) -> None:
    async for e in _env(tmp_path, EXTRA.replace("candidate 1.2.3.4;", "candidate 1.2.3.4; encrypt off;")):
        assert (await whip(e, "/rtc/v1/whep/")).status == 201
        assert e.rtc.last.encrypt is False
        assert (await whip(e, "/rtc/v1/whep/?encrypt=true")).status == 201
        assert e.rtc.last.encrypt is True


@pytest.mark.parametrize(
    ("query", "hosts"),
    [
        ("eip=5.6.7.8", [("1.2.3.4", 8000), ("5.6.7.8", 8000)]),
        ("candidate=5.6.7.8", [("1.2.3.4", 8000), ("5.6.7.8", 8000)]),
        ("eip=5.6.7.8:9000", [("1.2.3.4", 8000), ("5.6.7.8", 9000)]),
        ("eip=0.9.9.9&candidate=5.6.7.8", [("0.9.9.9", 8000), ("1.2.3.4", 8000)]),  # eip first
        ("eip=a%0D%0Ab", [("1.2.3.4", 8000)]),  # never written into the SDP
    ],
)
async def test_eip(env: Env, query: str, hosts: list[tuple[str, int]]) -> None:
    assert (await whip(env, "/rtc/v1/whip/?" + query)).status == 201
    assert [(c.address, c.port) for c in env.rtc.last.candidates] == hosts


async def test_valid_ice_credentials_are_passed(env: Env) -> None:
    ufrag, pwd = "abcd", "p" * 22
    assert (await whip(env, f"/rtc/v1/whip/?ice-ufrag={ufrag}&ice-pwd={pwd}")).status == 201
    assert (env.rtc.last.ice_ufrag, env.rtc.last.ice_pwd) == (ufrag, pwd)
    ufrag, pwd = "u" * 32, "A+/z" * 8
    assert (
        await whip(env, f"/rtc/v1/whip/?ice-ufrag={ufrag}&ice-pwd={pwd.replace('+', '%2B')}")
    ).status == 201
    assert (env.rtc.last.ice_ufrag, env.rtc.last.ice_pwd) == (ufrag, pwd)


@pytest.mark.parametrize(
    "query",
    [
        "ice-ufrag=abc",  # < 4
        "ice-ufrag=" + "u" * 33,  # > 32
        "ice-pwd=" + "p" * 21,  # < 22
        "ice-pwd=" + "p" * 33,  # > 32
        "ice-ufrag=ab%0Dcd",  # not ICE characters: it would go into the answer
        "ice-pwd=" + "p" * 20 + "%20x",
    ],
)
async def test_bad_ice_credentials_close(env: Env, query: str) -> None:
    await refused(env, "/rtc/v1/whip/?" + query)
    assert env.rtc.specs == []


@pytest.mark.parametrize(
    ("query", "headers", "vhost"),
    [
        ("vhost=rtc.example", {}, "rtc.example"),
        ("domain=rtc.example", {}, "rtc.example"),
        ("vhost=rtc.example&domain=nortc.example", {}, "rtc.example"),
        ("", {"Host": "rtc.example:1985"}, "rtc.example"),
        ("", {"Host": "unknown.example"}, "__defaultVhost__"),
        ("vhost=unknown.example", {}, "__defaultVhost__"),
    ],
)
async def test_vhost_from_query_or_host(env: Env, query: str, headers: dict[str, str], vhost: str) -> None:
    assert (await whip(env, "/rtc/v1/whip/?" + query, headers=headers)).status == 201
    spec = env.rtc.last
    assert spec.request.vhost == spec.vhost.name == vhost


async def raw_post(port: int, target: str, host: str | None, body: bytes) -> bytes:
    """A raw HTTP/1.1 POST with any ``Host`` header; returns what came back (b"": closed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"POST {target} HTTP/1.1", f"Content-Length: {len(body)}", "Connection: close"]
    if host is not None:
        head.append(f"Host: {host}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    try:
        return await reader.read()
    except ConnectionError:
        return b""
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("h:99999", None),
        ("h:x", None),
        ("::1", None),
        ("[::1]:1985", None),
        ("[fd00::5]:1985", "fd00::5"),  # not "digits and dots": resolved like a name, here unknown
        ("[bad", None),
        ("", None),
        ("10.1.1.1:1", "10.1.1.1"),
    ],
)
async def test_odd_host_headers(env: Env, no_dns: dict[str, str], host: str, address: str | None) -> None:
    no_dns["fd00::5"] = "fd00::5"
    answer = await raw_post(env.r.ports.api, "/rtc/v1/whip/", host, (await offer()).encode())
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:200]
    spec = env.rtc.last
    assert spec.vhost.name == "__defaultVhost__"
    assert [c.address for c in spec.candidates] == ["1.2.3.4", *([address] if address else [])]


async def test_api_host_as_candidate(env: Env, no_dns: dict[str, str]) -> None:
    # The WHIP host (vhost/domain query, else Host header) is a candidate too, as SRS.
    assert (await whip(env, "/rtc/v1/whip/", headers={"Host": "10.9.8.7:1985"})).status == 201
    assert [c.address for c in env.rtc.last.candidates] == ["1.2.3.4", "10.9.8.7"]
    no_dns["api.example"] = "8.8.4.4"
    assert (await whip(env, "/rtc/v1/whip/", headers={"Host": "api.example"})).status == 201
    assert [c.address for c in env.rtc.last.candidates] == ["1.2.3.4", "8.8.4.4"]
    assert (await whip(env, "/rtc/v1/whip/", headers={"Host": "localhost:1985"})).status == 201
    assert [c.address for c in env.rtc.last.candidates] == ["1.2.3.4"]


async def test_auto_detected_candidates_and_protocol_all(tmp_path: Path) -> None:
    extra = EXTRA.replace("candidate 1.2.3.4;", "candidate *; protocol all; tcp { enabled on; listen 8443; }")
    async for e in _env(tmp_path, extra):
        e.rtc.tcp = 8443
        assert (await whip(e, "/rtc/v1/whip/")).status == 201
        got = [(c.transport, c.address, c.port) for c in e.rtc.last.candidates]
        assert got == [("udp", "192.168.9.9", 8000), ("tcp", "192.168.9.9", 8443)]


async def test_vhost_rtc_off_closes(env: Env) -> None:
    await refused(env, "/rtc/v1/whip/?vhost=nortc.example")
    await refused(env, "/rtc/v1/whep/?domain=nortc.example")
    assert env.rtc.specs == []


async def test_rtc_server_off_closes(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.r.ctx.rtc = None
    with caplog.at_level(logging.WARNING, logger="srs"):
        await refused(env, "/rtc/v1/whip/")
        await refused(env, "/rtc/v1/whep/")
    assert "rtc_server is off" in caplog.text
    features = await (await env.http.get(env.url("/api/v1/features"))).json()
    assert features["data"]["options2"] == "--rtc=off"


async def test_features_report_rtc(env: Env) -> None:
    body = await (await env.http.get(env.url("/api/v1/features"))).json()
    assert body["code"] == 0 and body["data"]["options2"] == "--rtc=on"


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        "not an sdp",
        "v=0\r\n",
        "v=1\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n",
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio x UDP/TLS/RTP/SAVPF 111\r\n",
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:x opus\r\n",
    ],
)
async def test_bad_sdp_closes(env: Env, sdp: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="srs"):
        await refused(env, "/rtc/v1/whip/", body=sdp)
    assert "sdp:" in caplog.text and "refused" in caplog.text
    assert env.rtc.specs == []


@pytest.mark.parametrize(
    "path", ["/rtc/v1/whip/?stream=..", "/rtc/v1/whip/?app=a//b", "/rtc/v1/whep/?stream=a%00b"]
)
async def test_unsafe_names_close(env: Env, path: str) -> None:
    await refused(env, path)
    assert env.rtc.specs == []


async def test_media_side_refusal_closes(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.rtc.error = AccessDeniedError("on_publish hook refused")
    with caplog.at_level(logging.WARNING, logger="srs"):
        await refused(env, "/rtc/v1/whip/")
    assert "on_publish hook refused" in caplog.text
    env.rtc.error = RuntimeError("a bug")
    await refused(env, "/rtc/v1/whip/")  # a bug on the media side: closed, never a 500 traceback


async def test_oversized_body(env: Env) -> None:
    await refused(env, "/rtc/v1/whip/", body="v=0\r\n" + "a=x\r\n" * 400_000)  # > client_max_size
    big = json.dumps({"sdp": "x" * (2 << 20), "streamurl": "webrtc://h/live/s"})
    assert await legacy(env, "/rtc/v1/play/", big) == {"code": 400}
    assert env.rtc.specs == []


async def test_empty_answer_is_500(env: Env) -> None:
    env.rtc.answer = ""
    resp = await whip(env)
    assert resp.status == 500


async def test_location_escapes_unsafe_characters(env: Env) -> None:
    resp = await whip(env, "/rtc/v1/whip/?app=live&stream=a%20b%26c")
    assert resp.status == 201
    assert "&stream=a%20b%26c&session=local123:" in resp.headers["Location"]
    assert env.rtc.last.request.stream == "a b&c"


async def test_only_on_the_api_port(env: Env) -> None:
    async with env.http.post(env.url("/rtc/v1/whip/", env.r.ports.http), data=await offer()) as resp:
        assert resp.status != 201
    assert env.rtc.specs == []


# ---------------------------------------------------------------- DELETE


async def test_delete_with_the_right_token(env: Env) -> None:
    for path in ("/rtc/v1/whip/", "/rtc/v1/whep/", "/rtc/v1/whip-play/"):
        async with env.http.delete(
            env.url(path + "?action=delete&token=tok456&session=local123:remote")
        ) as resp:
            assert resp.status == 200
            assert await resp.read() == b""
            assert resp.headers["Connection"].lower() == "close"
    assert env.rtc.deleted == [("local123:remote", "tok456")] * 3
    assert env.rtc.specs == []


async def test_delete_by_jsonp_method(env: Env) -> None:
    q = "?callback=cb&method=DELETE&token=tok456&session=local123:remote"
    async with env.http.get(env.url("/rtc/v1/whip/" + q)) as resp:
        assert resp.status == 200
    assert env.rtc.deleted == [("local123:remote", "tok456")]


@pytest.mark.parametrize(
    "query",
    [
        "?action=delete&session=local123:remote",  # no token
        "?action=delete&token=&session=local123:remote",
        "?action=delete&token=wrong&session=local123:remote",
    ],
)
async def test_delete_refused_closes(env: Env, query: str) -> None:
    await refused(env, "/rtc/v1/whip/" + query, body="", method="DELETE")


async def test_delete_of_a_session_already_gone_is_200(env: Env) -> None:
    """SRS: a WHIP client deleting after a timeout or a kick gets 200."""
    async with env.http.delete(env.url("/rtc/v1/whip/?action=delete&token=tok456&session=nope")) as resp:
        assert resp.status == 200


async def test_delete_when_rtc_off_closes(env: Env) -> None:
    env.r.ctx.rtc = None
    await refused(env, "/rtc/v1/whip/?token=tok456&session=local123:remote", body="", method="DELETE")


# ---------------------------------------------------------------- legacy JSON API


async def test_legacy_play_success_shape(env: Env) -> None:
    body = {
        "sdp": await offer(False),
        "streamurl": "webrtc://127.0.0.1/live/livestream",
        "api": "x",
        "tid": "t",
    }
    got = await legacy(env, "/rtc/v1/play/", body)
    ident = env.r.ctx.identity
    remote = env.rtc.last.offer.media[0].ice_ufrag
    assert got == {
        "code": 0,
        "server": ident.server_id,
        "service": ident.service_id,
        "pid": str(ident.pid),
        "sdp": ANSWER,
        "sessionid": f"local123:{remote}",
    }
    spec = env.rtc.last
    assert not spec.publish and spec.kind == "rtc-play"
    req = spec.request
    assert (req.vhost, req.app, req.stream, req.param, req.host) == (
        "__defaultVhost__",
        "live",
        "livestream",
        "",
        "127.0.0.1",
    )
    assert req.tc_url == "webrtc://127.0.0.1/live" and req.schema == "webrtc"
    assert spec.client_ip == "127.0.0.1"
    assert [c.address for c in spec.candidates] == ["1.2.3.4"]


async def test_legacy_publish_param_and_encryption(env: Env) -> None:
    sdp = await offer(True)
    await legacy(
        env, "/rtc/v1/publish/", {"sdp": sdp, "streamurl": "webrtc://h/live/cam"}, "?encrypt=false&dtls=false"
    )
    spec = env.rtc.last
    assert spec.publish and spec.kind == "rtc-publish"
    assert spec.request.param == "upstream=rtc"  # SRS: trim_start(param + "&upstream=rtc", "&")
    assert (spec.encrypt, spec.dtls) == (True, True)  # the legacy publish API ignores both
    url = "webrtc://h/live/cam?vhost=rtc.example&token=1"
    await legacy(env, "/rtc/v1/publish/", {"sdp": sdp, "streamurl": url})
    spec = env.rtc.last
    assert spec.request.param == "?vhost=rtc.example&token=1&upstream=rtc"
    assert spec.request.vhost == spec.vhost.name == "rtc.example"


async def test_legacy_play_options(env: Env) -> None:
    body = {
        "sdp": await offer(False),
        "streamurl": "http://127.0.0.1/rtc/regression-1",
        "clientip": "7.7.7.7",
    }
    got = await legacy(env, "/rtc/v1/play/", body, "?encrypt=false&dtls=false&codec=hevc&eip=5.6.7.8:9")
    assert got["code"] == 0
    spec = env.rtc.last
    assert (spec.encrypt, spec.dtls, spec.codec) == (False, False, "hevc")
    assert (spec.request.app, spec.request.stream, spec.request.schema) == ("rtc", "regression-1", "http")
    assert spec.client_ip == spec.request.ip == "7.7.7.7"  # SRS takes the body's clientip
    assert [(c.address, c.port) for c in spec.candidates] == [("1.2.3.4", 8000), ("5.6.7.8", 9)]


async def test_legacy_jsonp(env: Env) -> None:
    body = {"sdp": await offer(False), "streamurl": "webrtc://127.0.0.1/live/livestream"}
    text = await legacy(env, "/rtc/v1/play/", body, "?callback=cb1")
    assert text.startswith("cb1({") and text.endswith("})")
    assert json.loads(text[4:-1])["code"] == 0
    got = await legacy(env, "/rtc/v1/play/", body, "?callback=bad%20name")
    assert got == {"code": 400}


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[1, 2]",
        "null",
        "[" * 100_000,
        {"streamurl": "webrtc://h/live/s"},  # no sdp
        {"sdp": 1, "streamurl": "webrtc://h/live/s"},
        {"sdp": "OFFER"},  # no streamurl
        {"sdp": "OFFER", "streamurl": ["x"]},
        {"sdp": "not an sdp", "streamurl": "webrtc://h/live/s"},
        {"sdp": "OFFER", "streamurl": "webrtc://h/live/"},  # empty stream
        {"sdp": "OFFER", "streamurl": "webrtc://h/live/.."},
        {"sdp": "OFFER", "streamurl": "webrtc://h/live/s?vhost=nortc.example"},
    ],
)
@pytest.mark.parametrize("path", ["/rtc/v1/play/", "/rtc/v1/publish/"])
async def test_legacy_failures_are_code_400(env: Env, path: str, body: Any) -> None:
    if isinstance(body, dict) and body.get("sdp") == "OFFER":
        body = dict(body, sdp=await offer("publish" in path))
    assert await legacy(env, path, body) == {"code": 400}
    assert env.rtc.specs == []


async def test_legacy_media_side_and_server_off(env: Env) -> None:
    body = {"sdp": await offer(False), "streamurl": "webrtc://127.0.0.1/live/livestream"}
    env.rtc.error = SrsError("no such stream")
    assert await legacy(env, "/rtc/v1/play/", body) == {"code": 400}
    env.rtc.error = ValueError("a bug")
    assert await legacy(env, "/rtc/v1/play/", body) == {"code": 400}
    env.r.ctx.rtc = None
    assert await legacy(env, "/rtc/v1/play/", body) == {"code": 400}
