"""SRT streamid -> (mode, vhost, app, stream, param): SRS's own cases (srs_utest_srt.cpp) and reference 1.5."""

from __future__ import annotations

import pytest

from srs.protocol.srt.streamid import parse_streamid
from srs.util.errors import ParseError

CASES = [
    # srs_utest_srt.cpp SrtGetStreamInfoNormal
    (
        "#!::r=live/livestream,key1=value1,key2=value2",
        "play",
        "",
        "live",
        "livestream",
        "?key1=value1&key2=value2",
    ),
    (
        "#!::h=host.com,r=live/livestream,key1=value1,key2=value2",
        "play",
        "host.com",
        "live",
        "livestream",
        "?vhost=host.com&key1=value1&key2=value2",
    ),
    # SrtGetStreamInfoMethod
    ("#!::r=live/livestream,m=request", "play", "", "live", "livestream", ""),
    ("#!::r=live/livestream,m=publish", "publish", "", "live", "livestream", ""),
    # SrtGetStreamInfoCompatible: old styles, h holds app/stream or vhost/app/stream
    ("#!::h=live/livestream,m=request", "play", "", "live", "livestream", ""),
    ("#!::h=live/livestream,m=publish", "publish", "", "live", "livestream", ""),
    (
        "#!::h=srs.srt.com.cn/live/livestream,m=request",
        "play",
        "srs.srt.com.cn",
        "live",
        "livestream",
        "?vhost=srs.srt.com.cn",
    ),
    (
        "#!::h=srs.srt.com.cn/live/livestream,m=publish",
        "publish",
        "srs.srt.com.cn",
        "live",
        "livestream",
        "?vhost=srs.srt.com.cn",
    ),
    (
        "#!::h=live/livestream?secret=d6d2be37,m=publish",
        "publish",
        "",
        "live",
        "livestream",
        "?secret=d6d2be37",
    ),
    # SrtStreamIdToRequest: "?" is a ","
    ("#!::r=live/livestream?key1=val1,key2=val2", "play", "", "live", "livestream", "?key1=val1&key2=val2"),
    (
        "#!::h=srs.srt.com.cn,r=live/livestream?key1=val1,key2=val2",
        "play",
        "srs.srt.com.cn",
        "live",
        "livestream",
        "?vhost=srs.srt.com.cn&key1=val1&key2=val2",
    ),
    ("#!::h=live/livestream?key1=val1,key2=val2", "play", "", "live", "livestream", "?key1=val1&key2=val2"),
    (
        "#!::h=srs.srt.com.cn/live/livestream?key1=val1,key2=val2",
        "play",
        "srs.srt.com.cn",
        "live",
        "livestream",
        "?vhost=srs.srt.com.cn&key1=val1&key2=val2",
    ),
    # reference 1.5: m is case-insensitive, plain paths, bare stream -> default_app, empty -> default
    ("#!::r=live/x,m=PUBLISH", "publish", "", "live", "x", ""),
    ("#!::m=publish,r=app/x,token=abc", "publish", "", "app", "x", "?token=abc"),
    ("live/x", "play", "", "live", "x", ""),
    ("x", "play", "", "dflt", "x", ""),
    ("live/x?token=1", "play", "", "live", "x", "?token=1"),
    ("app/sub/x", "play", "", "app", "sub/x", ""),
    ("#!::r=x,m=publish", "publish", "", "dflt", "x", ""),
    ("", "publish", "", "live", "livestream", ""),
    # r wins over an old-style h (SRS reads h before r)
    ("#!::h=a/b,r=live/x", "play", "", "live", "x", ""),
    ("#!::r=live/x,u=admin,s=1234", "play", "", "live", "x", "?u=admin&s=1234"),
]


@pytest.mark.parametrize(("sid", "mode", "vhost", "app", "stream", "param"), CASES)
def test_streamid(sid: str, mode: str, vhost: str, app: str, stream: str, param: str) -> None:
    got = parse_streamid(sid, default_app="dflt")
    assert (got.mode, got.vhost, got.app, got.stream, got.param) == (mode, vhost, app, stream, param)
    assert got.publish == (mode == "publish")


@pytest.mark.parametrize(
    "sid",
    [
        "#!::r=live/x,m=play",  # only publish / request
        "#!::r=live/x,m=",
        "#!::m=publish",  # no resource
        "#!::h=host.com,m=publish",  # h without a slash is a vhost, not a resource
        "#!::r=,m=request",
        "live/",
        "/x",
        "#!::",
        "?a=b",
        "x" * 513,
    ],
)
def test_rejected(sid: str) -> None:
    with pytest.raises(ParseError):
        parse_streamid(sid)
