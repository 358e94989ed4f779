"""diff(old, new): each field of ConfigDiff."""

from __future__ import annotations

import pytest

from srs.config import Endpoint, diff, parse_text

BASE = (
    "listen 1935;\nmax_connections 1000;\nsrs_log_tank console;\n"
    "http_api { enabled on; listen 1985; }\nhttp_server { enabled on; listen 8080; }\n"
    "vhost a { }\nvhost b { }\n"
)


def d(new: str, old: str = BASE):  # type: ignore[no-untyped-def]
    return diff(parse_text(old), parse_text(new))


def test_no_change() -> None:
    r = d(BASE)
    assert not r.changed and r.vhosts_changed == {} and r.vhosts_added == ()


def test_rtmp_listen_endpoints() -> None:
    r = d(BASE.replace("listen 1935;", "listen 1936 1935;"))
    assert (
        r.rtmp_listen_changed and r.rtmp_listen_added == (Endpoint("", 1936),) and r.rtmp_listen_removed == ()
    )
    r = d(BASE.replace("listen 1935;", "listen 1936;"))
    assert r.rtmp_listen_added == (Endpoint("", 1936),) and r.rtmp_listen_removed == (Endpoint("", 1935),)


def test_http_api_and_server() -> None:
    r = d(BASE.replace("listen 1985;", "listen 1986;"))
    assert r.http_api_changed and r.http_api_listen_changed and not r.http_server_changed
    r = d(BASE.replace("http_server { enabled on;", "http_server { enabled on; crossdomain off;"))
    assert r.http_server_changed and not r.http_server_listen_changed and not r.http_api_changed
    r = d(BASE.replace("http_server { enabled on;", "http_server { enabled off;"))
    assert r.http_server_listen_changed


def test_vhosts_added_removed() -> None:
    r = d(BASE.replace("vhost b { }\n", "vhost c { }\n"))
    assert r.vhosts_added == ("c",) and r.vhosts_removed == ("b",)


@pytest.mark.parametrize(
    ("body", "section"),
    [
        ("play { gop_cache off; }", "play"),
        ("publish { mr on; }", "publish"),
        ("http_remux { enabled on; }", "http_remux"),
        ("chunk_size 4096;", "chunk_size"),
        ("tcp_nodelay on;", "tcp_nodelay"),
        ("enabled off;", "enabled"),
        ("out_ack_size 1000;", "ack"),
        ("in_ack_size 1000;", "ack"),
        ("hls { enabled on; }", "hls"),
        ("dash { enabled on; }", "dash"),
        ("security { enabled on; }", "other"),
        ("dvr { enabled on; }", "dvr"),
    ],
)
def test_vhost_sections(body: str, section: str) -> None:
    r = d(BASE.replace("vhost a { }", f"vhost a {{ {body} }}"))
    assert dict(r.vhosts_changed) == {"a": frozenset({section})}


def test_min_latency_also_changes_play_mw_msgs() -> None:
    # mw_msgs is derived from min_latency, so both sections are reported.
    r = d(BASE.replace("vhost a { }", "vhost a { min_latency on; }"))
    assert r.vhosts_changed["a"] == frozenset({"min_latency", "play"})
    assert parse_text(BASE.replace("vhost a { }", "vhost a { min_latency on; }")).vhost("a").play.mw_msgs == 0  # type: ignore[union-attr]


def test_vhost_moved_in_file_is_not_a_change() -> None:
    r = d(BASE.replace("vhost a { }\nvhost b { }\n", "\n\nvhost b { }\nvhost a { }\n"))
    assert r.vhosts_changed == {}


def test_logging_and_max_connections() -> None:
    assert d(BASE.replace("srs_log_tank console;", "srs_log_tank file;")).logging_changed
    assert d(BASE + "srs_log_level warn;\n").logging_changed
    assert d(BASE + "utc_time on;\n").logging_changed
    r = d(BASE.replace("max_connections 1000;", "max_connections 10;"))
    assert r.max_connections_changed and not r.logging_changed


def test_global_chunk_size_changes_vhosts() -> None:
    r = d(BASE + "chunk_size 4096;\n")
    assert r.chunk_size_changed and r.vhosts_changed["a"] == frozenset({"chunk_size"})


def test_mw_cpu_budget() -> None:
    assert d(BASE + "mw_cpu_budget 0;\n").mw_cpu_budget_changed
    assert d(BASE + "mw_cpu_budget 20;\n").changed is False  # 20 is the default
