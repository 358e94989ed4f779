"""Hook bodies (field names, order, values) and SRS's success rule, from case tables."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srs.control import hooks_payload as hp
from srs.protocol.request import parse_http, parse_rtmp

SID, SVC = "vid-abc1234", "svc12345"
RTMP_REQ = parse_rtmp(
    "rtmp://127.0.0.1:1935/live",
    "cam1?token=xyz",
    page_url="http://www.example.com/player.html",
    ip="10.1.2.3",
).with_vhost("__defaultVhost__")
VHOST_REQ = parse_rtmp("rtmp://v.example.com/live", "s", ip="1.1.1.1")

# (status, body, accepted) - reference 4.1 and SrsHttpHooks::do_post
JUDGE_CASES = [
    (200, b"0", True),
    (201, b"0", True),
    (200, b'{"code":0}', True),
    (200, b'{"code": 0, "data": {"x": 1}}', True),
    (201, b'{"code":0}', True),
    (200, b"0\n", False),
    (200, b" 0", False),
    (200, b"00", False),
    (200, b'{"code":"0"}', False),
    (200, b'{"code":0.0}', False),
    (200, b'{"code":true}', False),
    (200, b'{"code":false}', False),
    (200, b'{"code":1}', False),
    (200, b'{"code":null}', False),
    (200, b"{}", False),
    (200, b"[0]", False),
    (200, b"", False),
    (200, b"ok", False),
    (200, b"\xff\xfe", False),
    (200, b"1", False),
    (204, b"0", False),
    (202, b"0", False),
    (301, b"0", False),
    (404, b"0", False),
    (500, b"0", False),
    (500, b'{"code":0}', False),
]


@pytest.mark.parametrize(("status", "body", "ok"), JUDGE_CASES)
def test_judge(status: int, body: bytes, ok: bool) -> None:
    why = hp.judge(status, body)
    assert (why is None) is ok, why
    if not ok:
        assert isinstance(why, str) and why


def test_judge_deep_json_is_a_failure_not_a_crash() -> None:
    assert hp.judge(200, b"[" * 100_000) is not None


def test_connect_payload_fields_in_srs_order() -> None:
    p = hp.connect_payload(SID, SVC, "cid00001", RTMP_REQ, RTMP_REQ.tc_url)
    assert list(p) == [
        "server_id", "service_id", "action", "client_id", "ip", "vhost", "app",
        "stream", "param", "tcUrl", "pageUrl",
    ]  # fmt: skip
    assert p == {
        "server_id": SID,
        "service_id": SVC,
        "action": "on_connect",
        "client_id": "cid00001",
        "ip": "10.1.2.3",
        "vhost": "__defaultVhost__",
        "app": "live",
        "stream": "cam1",
        "param": "?token=xyz",
        "tcUrl": "rtmp://127.0.0.1:1935/live",
        "pageUrl": "http://www.example.com/player.html",
    }


def test_close_payload() -> None:
    p = hp.close_payload(SID, SVC, "c1", RTMP_REQ, 1234, 5678)
    assert list(p) == [
        "server_id", "service_id", "action", "client_id", "ip", "vhost", "app", "send_bytes", "recv_bytes",
    ]  # fmt: skip
    assert (p["action"], p["send_bytes"], p["recv_bytes"]) == ("on_close", 1234, 5678)


@pytest.mark.parametrize("action", ["on_publish", "on_unpublish", "on_stop"])
def test_publish_like_payloads(action: str) -> None:
    p = hp.publish_payload(SID, SVC, action, "c1", RTMP_REQ, RTMP_REQ.tc_url, "vid-0000001")
    assert list(p) == [
        "server_id", "service_id", "action", "client_id", "ip", "vhost", "app",
        "tcUrl", "stream", "param", "stream_url", "stream_id",
    ]  # fmt: skip
    assert p["action"] == action
    assert p["stream_url"] == "/live/cam1"
    assert p["stream_id"] == "vid-0000001"
    # no stream_id when the stream is unknown to stats
    q = hp.publish_payload(SID, SVC, action, "c1", VHOST_REQ, VHOST_REQ.tc_url, None)
    assert "stream_id" not in q
    assert q["stream_url"] == "v.example.com/live/s"
    assert q["param"] == ""


def test_play_payload() -> None:
    p = hp.play_payload(SID, SVC, "c1", RTMP_REQ, RTMP_REQ.tc_url, None)
    assert list(p) == [
        "server_id", "service_id", "action", "client_id", "ip", "vhost", "app",
        "stream", "tcUrl", "param", "pageUrl", "stream_url",
    ]  # fmt: skip
    assert p["pageUrl"] == "http://www.example.com/player.html"


def test_http_player_tc_url_is_srs_rtmp_form() -> None:
    req = parse_http("127.0.0.1:8080", "/live/s.flv", "a=1", app="live", stream="s", ip="9.9.9.9")
    req = req.with_vhost("__defaultVhost__")
    assert hp.hook_tc_url("flv-play", req) == "rtmp://__defaultVhost__/live"
    assert hp.hook_tc_url("rtmp-play", RTMP_REQ) == RTMP_REQ.tc_url
    p = hp.play_payload(SID, SVC, "c", req, hp.hook_tc_url("flv-play", req), None)
    assert (p["param"], p["stream"], p["stream_url"]) == ("?a=1", "s", "/live/s")


def test_dvr_payload() -> None:
    p = hp.dvr_payload(SID, SVC, "c1", RTMP_REQ, "/srv", "./objs/nginx/html/live/cam1.1.flv", "vid-1")
    assert list(p)[7:] == ["tcUrl", "stream", "param", "cwd", "file", "stream_url", "stream_id"]
    assert (p["action"], p["cwd"], p["file"]) == ("on_dvr", "/srv", "./objs/nginx/html/live/cam1.1.flv")


def test_hls_payload() -> None:
    p = hp.hls_payload(
        SID,
        SVC,
        "c1",
        RTMP_REQ,
        duration_s=9.98765,
        cwd="/srv",
        file="./objs/nginx/html/live/cam1-3.ts",
        ts_url="cam1-3.ts",
        m3u8="./objs/nginx/html/live/cam1.m3u8",
        m3u8_url="live/cam1.m3u8",
        seq_no=3,
        stream_id=None,
    )
    assert list(p)[7:] == [
        "tcUrl", "stream", "param", "duration", "cwd", "file", "url", "m3u8", "m3u8_url", "seq_no", "stream_url",
    ]  # fmt: skip
    assert p["duration"] == 9.988
    assert p["url"] == "live/cam1-3.ts"  # under the playlist's directory, as SRS 7
    assert p["seq_no"] == 3


@pytest.mark.parametrize(
    ("ts_url", "m3u8_url", "want"),
    [
        ("x-1.ts", "live/x.m3u8", "live/x-1.ts"),
        ("x-1.ts", "x.m3u8", "x-1.ts"),
        ("http://cdn/x-1.ts", "live/x.m3u8", "http://cdn/x-1.ts"),
        ("https://cdn/x-1.ts", "live/x.m3u8", "https://cdn/x-1.ts"),
    ],
)
def test_hls_segment_url(ts_url: str, m3u8_url: str, want: str) -> None:
    assert hp.hls_segment_url(ts_url, m3u8_url) == want


def test_hls_notify_url_substitutions() -> None:
    t = "http://cdn.example.com/notify?s=[server_id]&v=[service_id]&[app]/[stream]/[ts_url][param]"
    url = hp.hls_notify_url(t, SID, SVC, RTMP_REQ, "cam1-7.ts")
    assert url == (f"http://cdn.example.com/notify?s={SID}&v={SVC}&live/cam1/cam1-7.ts?token=xyz")
    # an absolute segment URL replaces the template
    assert hp.hls_notify_url(t, SID, SVC, RTMP_REQ, "https://e/x.ts") == "https://e/x.ts"


def test_encode_is_compact_utf8_json() -> None:
    p = hp.connect_payload(SID, SVC, "c", RTMP_REQ, "rtmp://h/é")
    raw = hp.encode(p)
    assert b", " not in raw and b": " not in raw
    assert json.loads(raw) == p
    assert "é".encode() in raw


@settings(max_examples=300, deadline=None)
@given(
    status=st.integers(0, 999),
    body=st.one_of(st.binary(max_size=64), st.sampled_from([c[1] for c in JUDGE_CASES])),
)
def test_judge_fuzz_accepts_only_srs_successes(status: int, body: bytes) -> None:
    why = hp.judge(status, body)
    assert why is None or isinstance(why, str)
    if why is None:
        assert status in (200, 201)
        if body != b"0":
            v = json.loads(body)
            assert isinstance(v, dict) and type(v["code"]) is int and v["code"] == 0
