"""Timestamps across the 24-bit/extended boundary (4.66 h) and the 32-bit wrap (49.7 days)."""

from __future__ import annotations

import itertools

import pytest

from srs.format import flv
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags
from support.server import DEFAULT_VHOST_BODY

from .conftest import start_app

AV = [t for t in flv_tags(clip("bbb.flv")) if t.tag_type != flv.TagType.SCRIPT][:200]


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(0xFFFFFF - 2000, id="24bit-to-extended"),
        pytest.param((1 << 32) - 2000, id="32bit-wrap"),
    ],
)
@pytest.mark.parametrize("jitter", ["off", "full"])
async def test_timestamps_stay_monotonic(tmp_path, start: int, jitter: str) -> None:  # type: ignore[no-untyped-def]
    body = DEFAULT_VHOST_BODY + f" play {{ time_jitter {jitter}; mw_latency 0; }}"
    r = await start_app(tmp_path, vhost_body=body)
    try:
        player = await RtmpClient.open(r.ports.rtmp)
        await player.play("ts")
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("ts")
        base = AV[0].timestamp
        # our client writes timestamps modulo 2^32 on the wire, as any encoder would after 49.7 days
        sent = [(t.tag_type, start + t.timestamp - base, t.body) for t in AV]
        for kind, ts, payload in sent:
            pub.send(kind, ts % (1 << 32), payload)
        await player.wait_media(len(sent), timeout_s=10)
        got = player.media
        assert len(got) == len(sent)
        for kind in (8, 9):
            ts = [m.timestamp for m in got if m.msg_type == kind]
            assert ts == sorted(ts), f"kind {kind} not monotonic"
            src = [s[1] for s in sent if s[0] == kind]
            if jitter == "off":
                # the server passed the publisher's timeline through, across the boundary
                assert [t - ts[0] for t in ts] == [t - src[0] for t in src]
            else:
                # full jitter re-bases at zero and keeps each delta
                assert ts[0] < 1000
                assert [b - a for a, b in itertools.pairwise(ts)][3:] == [
                    b - a for a, b in itertools.pairwise(src)
                ][3:]
        await pub.close()
        await player.close()
    finally:
        await r.app.stop(graceful=False)
