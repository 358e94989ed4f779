"""Fuzz WebRTC signalling (srs.server.rtc.signal) on a live server whose media side is a fake: random
paths, methods, query strings and bodies (garbage, JSON, real offers) sent as raw HTTP.

Invariants: WHIP/WHEP answer 201 (an offer that parses), 200 (a DELETE with the right token), a 4xx,
or close the connection without a response; the legacy API answers HTTP 200 JSON(P) whose code is
0 or 400. Never a 5xx, never a traceback in the log."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.test_fuzz_api import Recorder, raw_request
from integration.conftest import Running, start_app
from srs.server.rtc import signal
from srs.server.rtc.candidates import HostResolver, LocalAddress
from srs.server.rtc.spec import Created, SessionSpec
from srs.util.errors import SrsError
from support.server import DEFAULT_VHOST_BODY

WHIP_PATHS = ["/rtc/v1/whip/", "/rtc/v1/whep/", "/rtc/v1/whip-play/"]
LEGACY_PATHS = ["/rtc/v1/play/", "/rtc/v1/publish/"]
KEYS = [
    "app",
    "stream",
    "action",
    "eip",
    "candidate",
    "codec",
    "encrypt",
    "dtls",
    "ice-ufrag",
    "ice-pwd",
    "vhost",
    "domain",
    "token",
    "session",
    "callback",
    "method",
]
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "false",
            "true",
            "hevc",
            "av1",
            "publish",
            "play",
            "delete",
            "DELETE",
            "cb",
            "1.2.3.4:9000",
            "[::1]:9",
            "rtc.example",
            "nortc.example",
            "tok",
            "s1:r1",
            "abcd",
            "p" * 22,
            "..",
            "a/b",
        ]
    ),
)


class FakeRtc:
    def __init__(self) -> None:
        self.n = 0

    async def create(self, spec: SessionSpec) -> Created:
        self.n += 1
        if spec.request.stream == "refuse":
            raise SrsError("refused by the fake")
        return Created("v=0\r\n", "s1:r1", "tok", "cid")

    def delete(self, session_id: str, token: str) -> bool:
        return (session_id, token) == ("s1:r1", "tok")

    @property
    def udp_port(self) -> int | None:
        return 8000

    @property
    def tcp_port(self) -> int | None:
        return 8000


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Recorder, dict[str, str]]]:
    loop = asyncio.new_event_loop()
    box: dict[str, Any] = {}
    ready = threading.Event()

    async def lookup(host: str) -> str | None:
        return "10.0.0.1" if host.endswith(".example") else None

    saved = (signal.RESOLVER, signal.INTERFACES)
    signal.RESOLVER = HostResolver(lookup)
    signal.INTERFACES = lambda: (LocalAddress("192.168.9.9", True), LocalAddress("fd00::9", False))

    async def boot() -> None:
        from aiortc import RTCPeerConnection

        offers = {}
        for publish in (True, False):
            pc = RTCPeerConnection()
            for kind in ("audio", "video"):
                pc.addTransceiver(kind, direction="sendonly" if publish else "recvonly")
            offers[publish] = (await pc.createOffer()).sdp
            await pc.close()
        r = await start_app(
            tmp_path_factory.mktemp("fuzz-rtc"),
            vhost_body=DEFAULT_VHOST_BODY + "    rtc { enabled on; }\n",
            extra="rtc_server { enabled off; protocol all; }\nvhost rtc.example { rtc { enabled on; } }\n"
            "vhost nortc.example { }\n",
        )
        r.ctx.rtc = FakeRtc()
        box.update(r=r, offers=offers)

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(boot())
        finally:
            ready.set()
        loop.run_forever()

    recorder = Recorder()
    root = logging.getLogger()
    root.addHandler(recorder)
    thread = threading.Thread(target=run, name="fuzz-rtc-server", daemon=True)
    thread.start()
    assert ready.wait(60) and "r" in box, "server did not start"
    try:
        yield box["r"], recorder, {"publish": box["offers"][True], "play": box["offers"][False]}
    finally:

        async def shutdown() -> None:
            await box["r"].app.stop(graceful=False)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        root.removeHandler(recorder)
        signal.RESOLVER, signal.INTERFACES = saved


def _encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


SETTINGS = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
QUERY = st.one_of(
    st.lists(st.tuples(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), VALUES), max_size=6).map(
        _encode
    ),
    st.text(alphabet="%&=?;+#/aZ09-", max_size=30),
)
SDP_LINES = st.lists(
    st.one_of(
        st.sampled_from(
            ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE 0", "m=audio 9 X 111"]
        ),
        st.text(max_size=30),
    ),
    max_size=8,
).map(lambda ls: "\r\n".join(ls))


def _mutate(text: str, cut: int, junk: str) -> str:
    cut = cut % (len(text) + 1)
    return text[:cut] + junk + text[cut:]


@SETTINGS
@given(
    method=st.sampled_from(["POST", "POST", "POST", "DELETE", "GET", "PUT", "PATCH"]),
    path=st.one_of(st.sampled_from(WHIP_PATHS), st.sampled_from(WHIP_PATHS).map(lambda p: p + "x")),
    query=QUERY,
    body_kind=st.sampled_from(["offer", "mutated", "lines", "binary", "empty"]),
    cut=st.integers(min_value=0, max_value=5000),
    junk=st.text(max_size=10),
    binary=st.binary(max_size=300),
    lines=SDP_LINES,
)
def test_whip_never_fails(
    live: tuple[Running, Recorder, dict[str, str]],
    method: str,
    path: str,
    query: str,
    body_kind: str,
    cut: int,
    junk: str,
    binary: bytes,
    lines: str,
) -> None:
    r, recorder, offers = live
    offer = offers["play" if ("whep" in path or "play" in path) else "publish"]
    body = {
        "offer": offer.encode(),
        "mutated": _mutate(offer, cut, junk).encode("utf-8", "surrogatepass"),
        "lines": lines.encode("utf-8", "surrogatepass"),
        "binary": binary,
        "empty": b"",
    }[body_kind]
    target = quote(path, safe="/%") + ("?" + query if query else "")
    status, hdrs, payload = raw_request(r.ports.api, method, target, body, [])
    assert status == 0 or status in (200, 201) or 400 <= status < 500, (method, target, status, payload[:300])
    if status == 201:
        assert hdrs["content-type"] == "application/sdp" and payload == b"v=0\r\n"
        assert hdrs["location"].startswith("/rtc/v1/whip/?action=delete&token=tok&app=")
        assert "\r" not in hdrs["location"] and "\n" not in hdrs["location"]
    assert not recorder.bad, recorder.bad


@SETTINGS
@given(
    path=st.sampled_from(LEGACY_PATHS),
    query=QUERY,
    sdp=st.one_of(st.sampled_from(["offer", "mutated"]), st.text(max_size=40), st.integers(), st.none()),
    streamurl=st.one_of(
        st.sampled_from(
            [
                "webrtc://127.0.0.1/live/livestream",
                "http://127.0.0.1/rtc/regression",
                "webrtc://h/live/s?vhost=rtc.example",
                "webrtc://h/live/s?vhost=nortc.example",
                "webrtc://h/live/refuse",
                "webrtc://h/live/",
                "",
            ]
        ),
        st.text(max_size=60),
        st.lists(st.text(max_size=5), max_size=2),
    ),
    extra=st.dictionaries(
        st.sampled_from(["clientip", "api", "tid", "x"]), st.one_of(st.text(max_size=20), st.integers())
    ),
    raw=st.one_of(st.none(), st.binary(max_size=200), st.just(b"[" * 3000), st.just(b'{"sdp": ')),
    cut=st.integers(min_value=0, max_value=5000),
    junk=st.text(max_size=10),
)
def test_legacy_never_fails(
    live: tuple[Running, Recorder, dict[str, str]],
    path: str,
    query: str,
    sdp: Any,
    streamurl: Any,
    extra: dict[str, Any],
    raw: bytes | None,
    cut: int,
    junk: str,
) -> None:
    r, recorder, offers = live
    offer = offers["publish" if "publish" in path else "play"]
    if sdp == "offer":
        sdp = offer
    elif sdp == "mutated":
        sdp = _mutate(offer, cut, junk)
    body = json.dumps({"sdp": sdp, "streamurl": streamurl, **extra}).encode() if raw is None else raw
    target = quote(path, safe="/%") + ("?" + query if query else "")
    status, hdrs, payload = raw_request(r.ports.api, "POST", target, body, [])
    assert status == 200 or 400 <= status < 500, (target, status, payload[:300])
    if status == 200:
        ctype = hdrs.get("content-type", "")
        if ctype == "text/javascript":
            payload = payload[payload.index(b"(") + 1 : -1]
        else:
            assert ctype == "application/json", hdrs
        answer = json.loads(payload)
        assert answer["code"] in (0, 400), answer
        if answer["code"] == 0:
            assert set(answer) == {"code", "server", "service", "pid", "sdp", "sessionid"}
    assert not recorder.bad, recorder.bad
