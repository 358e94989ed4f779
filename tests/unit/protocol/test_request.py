"""SRS request resolution (reference 1.2): tcUrl + stream name -> vhost/app/stream/param."""

from __future__ import annotations

import pytest

from srs.protocol.request import DEFAULT_APP, parse_rtmp, stream_url, unsafe_name

CASES = [
    # (tcUrl, stream name) -> (vhost, app, stream, param)
    (("rtmp://127.0.0.1/live", "livestream"), ("127.0.0.1", "live", "livestream", "")),
    (("rtmp://127.0.0.1:1935/live", "livestream"), ("127.0.0.1", "live", "livestream", "")),
    (("rtmp://127.0.0.1/live", "livestream?token=abc"), ("127.0.0.1", "live", "livestream", "?token=abc")),
    (("rtmp://127.0.0.1/live", "livestream?vhost=v.com"), ("v.com", "live", "livestream", "?vhost=v.com")),
    (("rtmp://127.0.0.1/live", "s?domain=d.com&k=1"), ("d.com", "live", "s", "?domain=d.com&k=1")),
    (("rtmp://v.com/live", "s"), ("v.com", "live", "s", "")),
    # vhost=__defaultVhost__ counts as not given; as the only param it is cleared
    (("rtmp://127.0.0.1/live", "s?vhost=__defaultVhost__"), ("127.0.0.1", "live", "s", "")),
    (
        ("rtmp://127.0.0.1/live", "s?vhost=__defaultVhost__&a=1"),
        ("127.0.0.1", "live", "s", "?vhost=__defaultVhost__&a=1"),
    ),
    # FMLE: query on the app
    (("rtmp://127.0.0.1/live?vhost=v.com", "s"), ("v.com", "live", "s", "?vhost=v.com")),
    (("rtmp://127.0.0.1/live#k=v", "s"), ("127.0.0.1", "live", "s", "#k=v")),
    (("rtmp://127.0.0.1/live...vhost...v.com", "s"), ("v.com", "live", "s", "?vhost=v.com")),
    # _definst_ removed
    (("rtmp://127.0.0.1/live/_definst_", "s"), ("127.0.0.1", "live", "s", "")),
    # multi-level app
    (("rtmp://127.0.0.1/live/sub", "s"), ("127.0.0.1", "live/sub", "s", "")),
    # empty app
    (("rtmp://127.0.0.1", "s"), ("127.0.0.1", DEFAULT_APP, "s", "")),
    # empty stream guessed from app
    (("rtmp://127.0.0.1/live/s", ""), ("127.0.0.1", "live", "s", "")),
    # whitespace and slashes stripped
    (("rtmp://127.0.0.1/live", " s \t"), ("127.0.0.1", "live", "s", "")),
    # tcUrl scheme is free-form (the SRS regression tool uses http://)
    (("http://127.0.0.1/rtc", "regression"), ("127.0.0.1", "rtc", "regression", "")),
    # IPv6 host
    (("rtmp://[::1]:1935/live", "s"), ("::1", "live", "s", "")),
]


@pytest.mark.parametrize(("given", "expected"), CASES)
def test_parse_rtmp(given: tuple[str, str], expected: tuple[str, str, str, str]) -> None:
    r = parse_rtmp(*given)
    assert (r.vhost, r.app, r.stream, r.param) == expected


def test_stream_url_forms() -> None:
    assert stream_url("__defaultVhost__", "live", "s") == "/live/s"
    assert stream_url("v.com", "live", "s") == "v.com/live/s"
    assert stream_url("__defaultVhost__", "live", "s.flv") == "/live/s"
    assert stream_url("__defaultVhost__", "live", "s.m3u8") == "/live/s"


def test_port_and_schema() -> None:
    r = parse_rtmp("rtmp://host:19350/live", "s")
    assert (r.schema, r.host, r.port) == ("rtmp", "host", 19350)
    assert parse_rtmp("rtmp://host/live", "s").port == 1935


@pytest.mark.parametrize(
    ("app", "stream", "refused"),
    [
        ("live", "livestream", None),
        ("live/sub", "s.1-2_x", None),  # several app elements are fine (SRS allows them)
        ("live", "é中文", None),
        ("live", "..", "'..'"),
        ("live/..", "s", "'..'"),
        ("live", "a/./b", "'.'"),
        ("live", "a//b", "empty"),
        ("", "s", "empty"),
        ("live", "a\x00b", "\\x00"),
        ("live", "a\rb", "\\r"),
        ("live", "a\x7fb", "\\x7f"),
        ("live", "a\\b", "\\\\"),
        ("live", "x" * 255, None),
        ("live", "x" * 256, "255 bytes"),
        ("live", "é" * 128, "255 bytes"),  # bytes, not characters
    ],
)
def test_unsafe_names(app: str, stream: str, refused: str | None) -> None:
    why = unsafe_name(app, stream)
    if refused is None:
        assert why is None
    else:
        assert why is not None and refused in why, why


def test_long_names_are_cleaned_in_linear_time() -> None:
    """The clean-up once rebuilt names a character at a time; now it is one translate per name."""
    r = parse_rtmp("rtmp://h/" + "a b" * 100_000, "s\t" * 100_000)
    assert r.app == "ab" * 100_000 and r.stream == "s" * 100_000
