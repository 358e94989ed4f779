"""Each legacy rewrite of srs_config_transform_vhost (reference 2.1 "Legacy forms")."""

from __future__ import annotations

import pytest

from srs.config import parse_string, parse_text
from srs.config.legacy import transform


def rewritten(text: str) -> str:
    root, _ = transform(parse_string(text))
    return root.dump()


CASES = [
    ("http_stream", "http_stream { enabled on; }", "http_server {\n    enabled on;\n}\n"),
    (
        "vhost http",
        "vhost v { http { enabled on; } }",
        "vhost v {\n    http_static {\n        enabled on;\n    }\n}\n",
    ),
    (
        "play shadows",
        "vhost v { gop_cache off; queue_length 10; time_jitter zero; mix_correct on; atc on; atc_auto on; "
        "mw_latency 1; gop_cache_max_frames 2; send_min_interval 3; reduce_sequence_header on; }",
        "vhost v {\n    play {\n        gop_cache off;\n        queue_length 10;\n        time_jitter zero;\n"
        "        mix_correct on;\n        atc on;\n        atc_auto on;\n        mw_latency 1;\n"
        "        gop_cache_max_frames 2;\n        send_min_interval 3;\n        reduce_sequence_header on;\n"
        "    }\n}\n",
    ),
    (
        "mr block",
        "vhost v { mr { enabled on; latency 100; } }",
        "vhost v {\n    publish {\n        mr on;\n        mr_latency 100;\n    }\n}\n",
    ),
    (
        "publish timeouts",
        "vhost v { publish_1stpkt_timeout 1000; publish_normal_timeout 2000; }",
        "vhost v {\n    publish {\n        firstpkt_timeout 1000;\n        normal_timeout 2000;\n    }\n}\n",
    ),
    (
        "refer args",
        "vhost v { refer a.com b.com; refer_play c.com; refer_publish d.com; }",
        "vhost v {\n    refer {\n        enabled on;\n        all a.com b.com;\n        play c.com;\n"
        "        publish d.com;\n    }\n}\n",
    ),
    (
        "forward host:port",
        "vhost v { forward 127.0.0.1:1936 127.0.0.1:1937; }",
        "vhost v {\n    forward {\n        enabled on;\n        destination 127.0.0.1:1936 127.0.0.1:1937;\n    }\n}\n",
    ),
    (
        "cluster shadows",
        "vhost v { mode remote; origin 1.1.1.1; token_traverse on; vhost x; debug_srs_upnode off; }",
        "vhost v {\n    cluster {\n        mode remote;\n        origin 1.1.1.1;\n        token_traverse on;\n"
        "        vhost x;\n        debug_srs_upnode off;\n    }\n}\n",
    ),
    (
        "nack twcc",
        "vhost v { nack { enabled off; no_copy off; } twcc { enabled off; } }",
        "vhost v {\n    rtc {\n        nack off;\n        nack_no_copy off;\n        twcc off;\n    }\n}\n",
    ),
    (
        "rtc aac bframe",
        "vhost v { rtc { aac transcode; bframe keep; } }",
        "vhost v {\n    rtc {\n        rtmp_to_rtc on;\n        keep_bframe on;\n    }\n}\n",
    ),
    ("srt tlpkdrop", "srt_server { tlpkdrop off; }", "srt_server {\n    tlpktdrop off;\n}\n"),
    (
        "rtc_server removed keys",
        "rtc_server { perf_stat on; queue_length 1; enabled on; }",
        "rtc_server {\n    enabled on;\n}\n",
    ),
    (
        "hstrs dropped",
        "vhost v { http_remux { hstrs on; enabled on; } }",
        "vhost v {\n    http_remux {\n        enabled on;\n    }\n}\n",
    ),
    (
        "old GB keys ignored",
        "stream_caster { caster gb28181; tcp_enable on; rtp_port_min 1; host 1.2.3.4; sip { serial x; listen 5060; } }",
        "stream_caster {\n    caster gb28181;\n    sip {\n        listen 5060;\n        candidate 1.2.3.4;\n    }\n}\n",
    ),
]


@pytest.mark.parametrize(("name", "old", "new"), CASES, ids=[c[0] for c in CASES])
def test_rewrite(name: str, old: str, new: str) -> None:
    assert rewritten(old) == new


def test_rewrites_warn_with_location() -> None:
    _, warnings = transform(parse_string("vhost v {\n  gop_cache off;\n}\n", filename="l.conf"))
    assert warnings == ("l.conf:2: transform: vhost.gop_cache => vhost.play.gop_cache of v",)


def test_shadow_merges_into_existing_play_block() -> None:
    assert rewritten("vhost v { play { atc on; } gop_cache off; }") == (
        "vhost v {\n    play {\n        atc on;\n        gop_cache off;\n    }\n}\n"
    )


def test_rewritten_values_reach_the_typed_config() -> None:
    cfg = parse_text(
        "listen 1935;\nhttp_stream { enabled on; }\nvhost v { gop_cache off; mr { enabled on; } }\n"
    )
    v = cfg.vhost("v")
    assert cfg.http_server.enabled and v is not None and not v.play.gop_cache and v.publish.mr
