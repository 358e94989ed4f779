"""Request resolution and HTTP mount matching take untrusted strings: they never raise."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from srs.config import parse_text
from srs.protocol.request import parse_http, parse_rtmp, stream_url, unsafe_name
from srs.server.mounts import match_stream

EXAMPLES = int(os.environ.get("SRS_FUZZ_EXAMPLES", "300"))
URLISH = st.text(
    alphabet=st.sampled_from([*list("rtmp:/?#&=.[]_-vhostdefinst12 \t\n%@"), "é", "\x00"]), max_size=60
)
CONFIG = parse_text(
    "listen 1935; http_server { enabled on; } "
    "vhost __defaultVhost__ { http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } } "
    "vhost v.com { http_remux { enabled on; mount [vhost]/live/[stream].flv; } }"
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(URLISH, st.text(max_size=60)), st.one_of(URLISH, st.text(max_size=60)))
def test_parse_rtmp_never_raises(tc_url: str, stream: str) -> None:
    r = parse_rtmp(tc_url, stream)
    assert r.app and not r.app.startswith("/") and not r.stream.endswith("/")
    assert stream_url(r.vhost, r.app, r.stream)


@settings(max_examples=EXAMPLES, deadline=None)
@given(URLISH, URLISH, URLISH)
def test_http_mounts_never_raise(host: str, path: str, query: str) -> None:
    found = match_stream(CONFIG, host, "/" + path, query)
    if found is not None:
        assert ".." not in found.app and ".." not in found.stream
        parse_http(host, "/" + path, query, app=found.app, stream=found.stream)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(URLISH, st.text(max_size=60)), st.one_of(URLISH, st.text(max_size=60)))
def test_names_that_pass_stay_inside_any_output_directory(tc_url: str, stream: str) -> None:
    """HLS/DVR paths are ``<dir>/[app]/[stream].<ext>``: a name unsafe_name() lets through can
    never point outside ``<dir>``, whatever the client sent."""
    r = parse_rtmp(tc_url, stream)
    if unsafe_name(r.app, r.stream) is not None:
        return
    root = "/srv/hls"
    path = os.path.normpath(os.path.join(root, r.app, r.stream + ".m3u8"))
    assert path.startswith(root + "/"), (r.app, r.stream, path)
    assert "\x00" not in path and "\n" not in path
