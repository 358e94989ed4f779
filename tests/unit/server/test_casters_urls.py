"""Caster output URLs: SRS's [app]/[stream] substitution for FLV POSTs, and the request an output names."""

from __future__ import annotations

import pytest

from srs.server.caster_flv import output_for
from srs.server.casters import output_request


@pytest.mark.parametrize(
    ("output", "path", "expected"),
    [
        ("rtmp://127.0.0.1/[app]/[stream]", "/live/x.flv", "rtmp://127.0.0.1/live/x"),
        ("rtmp://127.0.0.1/[app]/[stream]", "/a/b/cam.flv", "rtmp://127.0.0.1/a/b/cam"),
        ("rtmp://127.0.0.1/[app]/[stream]", "/x.flv", "rtmp://127.0.0.1/[app]/x"),  # no directory: [app] kept
        ("rtmp://127.0.0.1/live/[stream]", "/any/x", "rtmp://127.0.0.1/live/x"),
        ("rtmp://127.0.0.1/live/fixed", "/a/b.flv", "rtmp://127.0.0.1/live/fixed"),
    ],
)
def test_flv_output_for_path(output: str, path: str, expected: str) -> None:
    assert output_for(output, path) == expected


@pytest.mark.parametrize(
    ("output", "vhost", "app", "stream", "param"),
    [
        ("rtmp://127.0.0.1/live/livestream", "127.0.0.1", "live", "livestream", ""),
        ("rtmp://127.0.0.1:1935/live/s?k=v", "127.0.0.1", "live", "s", "?k=v"),
        ("rtmp://127.0.0.1/live/s?vhost=v.com", "v.com", "live", "s", "?vhost=v.com"),
        ("rtmp://h/a/b/s", "h", "a/b", "s", ""),
    ],
)
def test_output_request(output: str, vhost: str, app: str, stream: str, param: str) -> None:
    req = output_request(output, "1.2.3.4")
    assert (req.vhost, req.app, req.stream, req.param, req.ip) == (vhost, app, stream, param, "1.2.3.4")
