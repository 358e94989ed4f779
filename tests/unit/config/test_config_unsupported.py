"""Config.unsupported: one located line per used feature the server does not implement yet."""

from __future__ import annotations

import pytest

from srs.config import parse_text
from srs.config.unsupported import UNSUPPORTED

TODAY = (
    "listen 1935;\nchunk_size 4096;\npid ./x.pid;\ndaemon off;\nsrs_log_tank console;\nsrs_log_level warn;\n"
    "srs_log_file ./x.log;\nutc_time on;\nmax_connections 10;\nserver_id abc;\nwork_dir ./;\n"
    "http_api { enabled on; listen 1985; crossdomain on; }\n"
    "http_server { enabled on; listen 8080; dir ./html; crossdomain off; }\n"
    "vhost v { enabled on; min_latency on; tcp_nodelay on; chunk_size 128; in_ack_size 1; out_ack_size 2;\n"
    " play { gop_cache off; queue_length 5; mw_latency 1; } publish { mr on; }\n"
    " http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } }\n"
)


def test_supported_today_reports_nothing() -> None:
    assert parse_text(TODAY).unsupported == ()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("vhost v {\n exec { enabled on; }\n}\n", "u.conf:3: directive 'vhost.exec' is not supported yet"),
        (
            "vhost v {\n enabled on;\n hds { enabled on; }\n}\n",
            "u.conf:4: directive 'vhost.hds' is not supported yet",
        ),
        ("vhost v {\n mode remote;\n}\n", "u.conf:3: directive 'vhost.cluster' is not supported yet"),
        (
            "vhost v {\n ingest a { enabled on; }\n ingest b { enabled on; }\n}\n",
            "u.conf:4: directive 'vhost.ingest' is not supported yet",
        ),
        ("pithy_print_ms 1000;\n", "u.conf:2: directive 'pithy_print_ms' is not supported yet"),
        ("asprocess on;\ndaemon off;\n", "u.conf:2: directive 'asprocess' is not supported yet"),
        ("stats { network 0; }\n", "u.conf:2: directive 'stats' is not supported yet"),
    ],
)
def test_reported_with_location(text: str, line: str) -> None:
    assert line in parse_text("listen 1935;\n" + text, filename="u.conf").unsupported


@pytest.mark.parametrize(
    "text",
    [
        "vhost v { hls { enabled off; } }\n",
        "vhost v { hls { } }\n",
        "rtc_server { enabled true; }\n",
        "vhost v { cluster { mode local; } }\n",
        "asprocess off;\n",
        "stats { enabled off; }\n",
        "srt_server { enabled on; listen 10080; }\nvhost v { srt { enabled on; srt_to_rtmp on; } }\n",
        "stream_caster { enabled on; caster mpegts_over_udp; listen 8935; output rtmp://127.0.0.1/live/x; }\n",
        "stream_caster { enabled on; caster flv; listen 8936; output rtmp://127.0.0.1/[app]/[stream]; }\n",
        "stream_caster { enabled off; caster gb28181; }\n",
        "stream_caster { enabled on; caster gb28181; listen 9000; output rtmp://127.0.0.1/live/[stream];"
        " sip { enabled on; listen 5060; } }\n",
    ],
)
def test_disabled_features_are_not_reported(text: str) -> None:
    assert parse_text("listen 1935;\n" + text).unsupported == ()


def test_webrtc_is_supported() -> None:
    # rtc_server and vhost rtc are read in full (signalling: srs.server.rtc.signal).
    text = (
        "listen 1935;\nrtc_server { enabled on; listen 8000; tcp { enabled on; listen 8000; } protocol all;"
        " candidate $CANDIDATE; }\nvhost v { rtc { enabled on; rtmp_to_rtc on; rtc_to_rtmp on; } }\n"
    )
    assert parse_text(text).unsupported == ()


def test_env_enabled_feature_reported_once() -> None:
    cfg = parse_text("listen 1935;\nvhost a { }\nvhost b { }\n", env={"SRS_VHOST_HDS_ENABLED": "on"})
    assert cfg.unsupported == ("env SRS_VHOST_HDS_ENABLED: directive 'vhost.hds' is not supported yet",)


def test_table_has_one_entry_per_path() -> None:
    paths = [u.path for u in UNSUPPORTED]
    assert len(paths) == len(set(paths))
