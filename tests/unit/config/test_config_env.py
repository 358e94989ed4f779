"""Environment overrides: each rule, alias and gotcha of reference 2.2."""

from __future__ import annotations

import pytest

from srs.config import DEFAULT_VHOST, ConfigError, Endpoint, env_name, load_config, parse_text

BASE = "listen 1935;\nvhost a { play { gop_cache on; } }\nvhost b { }\n"


def test_derived_names() -> None:
    assert env_name("listen") == "SRS_LISTEN"
    assert env_name("http_api.auth.username") == "SRS_HTTP_API_AUTH_USERNAME"
    assert env_name("rtc_server.tcp.listen") == "SRS_RTC_SERVER_TCP_LISTEN"
    assert env_name("vhost.play.gop_cache") == "SRS_VHOST_PLAY_GOP_CACHE"


def test_non_empty_env_wins_over_file_empty_is_ignored() -> None:
    cfg = parse_text("listen 1935;\nmax_connections 10;\n", env={"SRS_MAX_CONNECTIONS": "20"})
    assert cfg.max_connections == 20
    cfg = parse_text("listen 1935;\nmax_connections 10;\n", env={"SRS_MAX_CONNECTIONS": ""})
    assert cfg.max_connections == 10


def test_multi_value_space_separated() -> None:
    cfg = parse_text("listen 1935;\n", env={"SRS_LISTEN": "1936 127.0.0.1:1937"})
    assert cfg.listen == (Endpoint("", 1936), Endpoint("127.0.0.1", 1937))
    cfg = parse_text(BASE, env={"SRS_VHOST_HTTP_HOOKS_ON_PUBLISH": "http://a/x http://b/y"})
    assert cfg.vhost("b").http_hooks.on_publish == ("http://a/x", "http://b/y")  # type: ignore[union-attr]


def test_vhost_level_env_applies_to_all_vhosts() -> None:
    cfg = parse_text(BASE, env={"SRS_VHOST_PLAY_GOP_CACHE": "off", "SRS_VHOST_HLS_ENABLED": "on"})
    for name in ("a", "b"):
        v = cfg.vhost(name)
        assert v is not None and v.play.gop_cache is False and v.hls.enabled is True


def test_env_values_follow_bool_and_unit_rules() -> None:
    env = {"SRS_VHOST_TCP_NODELAY": "true", "SRS_VHOST_PLAY_QUEUE_LENGTH": "5", "SRS_DAEMON": "no"}
    cfg = parse_text(BASE, env=env)
    v = cfg.vhost("a")
    assert v is not None and v.tcp_nodelay is False  # "true" is not "on"
    assert v.play.queue_length_ms == 5000
    assert cfg.daemon is True  # default-on: anything but "off"


@pytest.mark.parametrize("name", ["SRS_LOG_TANK", "SRS_SRS_LOG_TANK"])
def test_log_tank_aliases(name: str) -> None:
    assert parse_text("listen 1935;\n", env={name: "console"}).srs_log_tank == "console"


def test_alias_order_derived_name_first() -> None:
    env = {"SRS_SRS_LOG_LEVEL": "warn", "SRS_LOG_LEVEL": "error"}
    assert parse_text("listen 1935;\n", env=env).srs_log_level == "warn"
    assert parse_text("listen 1935;\n", env={"SRS_LOG_LEVEL": "error"}).srs_log_level == "error"
    assert parse_text("listen 1935;\n", env={"SRS_LOG_LEVEL_V2": "debug"}).srs_log_level_v2 == "debug"
    assert parse_text("listen 1935;\n", env={"SRS_LOG_FILE": "/x.log"}).srs_log_file == "/x.log"


@pytest.mark.parametrize("name", ["SRS_VHOST_SRT_TO_RTMP", "SRS_VHOST_SRT_SRT_TO_RTMP"])
def test_srt_to_rtmp_aliases(name: str) -> None:
    assert parse_text(BASE, env={name: "off"}).vhost("a").srt.srt_to_rtmp is False  # type: ignore[union-attr]


def test_gotcha_vhost_chunk_size_feeds_global_and_srs_chunk_size_ignored() -> None:
    cfg = parse_text("listen 1935;\nchunk_size 4096;\nvhost a { }\n", env={"SRS_CHUNK_SIZE": "128"})
    assert cfg.chunk_size == 4096  # SRS compat: SRS_CHUNK_SIZE is ignored
    cfg = parse_text(
        "listen 1935;\nchunk_size 4096;\nvhost a { chunk_size 1000; }\n", env={"SRS_VHOST_CHUNK_SIZE": "8192"}
    )
    assert cfg.chunk_size == 8192
    assert cfg.vhost("a").chunk_size == 8192  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("env", "text", "read"),
    [
        ({"SRS_STATS_NETWORK": "3"}, "stats { network 1; }", lambda c: c.stats.network == 1),
        ({"SRS_VHOST_ENABLED": "off"}, "vhost v { }", lambda c: c.vhost("v").enabled),
        ({"SRS_VHOST_REFER_ENABLED": "on"}, "vhost v { }", lambda c: not c.vhost("v").refer.enabled),
        ({"SRS_VHOST_SECURITY_ENABLED": "on"}, "vhost v { }", lambda c: not c.vhost("v").security.enabled),
        ({"SRS_VHOST_CLUSTER_MODE": "remote"}, "vhost v { }", lambda c: c.vhost("v").cluster.mode == "local"),
        ({"SRS_VHOST_FORWARD_ENABLED": "on"}, "vhost v { }", lambda c: not c.vhost("v").forward.enabled),
        ({"SRS_VHOST_EXEC_ENABLED": "on"}, "vhost v { }", lambda c: not c.vhost("v").exec.enabled),
        ({"SRS_VHOST_DVR_DVR_APPLY": "x/y"}, "vhost v { }", lambda c: c.vhost("v").dvr.apply == ("all",)),
        ({"SRS_IS_FULL": "on"}, "", lambda c: c.is_full is False),
        ({"SRS_STREAM_CASTER_ENABLED": "on"}, "stream_caster { }", lambda c: not c.stream_casters[0].enabled),
    ],
)
def test_not_env_overridable(env: dict[str, str], text: str, read: object) -> None:
    cfg = parse_text("listen 1935;\n" + text, env=env)
    assert read(cfg)  # type: ignore[operator]


def test_candidate_env_and_dollar_variable() -> None:
    text = "listen 1935;\nrtc_server { candidate $CANDIDATE; }\n"
    assert parse_text(text).rtc_server.candidate == "*"  # unset variable: default
    assert parse_text(text, env={"CANDIDATE": "1.2.3.4"}).rtc_server.candidate == "1.2.3.4"
    assert parse_text(text, env={"SRS_RTC_SERVER_CANDIDATE": "5.6.7.8"}).rtc_server.candidate == "5.6.7.8"
    env = {"SRS_RTC_SERVER_CANDIDATE": "$MYIP", "MYIP": "9.9.9.9"}
    assert parse_text(text, env=env).rtc_server.candidate == "9.9.9.9"


def test_nested_env_names() -> None:
    env = {
        "SRS_HTTP_API_AUTH_USERNAME": "u",
        "SRS_HTTP_API_LISTEN": "127.0.0.1:2000",
        "SRS_RTC_SERVER_TCP_LISTEN": "9000",
        "SRS_HTTP_SERVER_HTTPS_ENABLED": "on",
        "SRS_HTTP_SERVER_ENABLED": "on",
    }
    cfg = parse_text("listen 1935;\n", env=env)
    assert cfg.http_api.auth.username == "u"
    assert cfg.http_api.listen == Endpoint("127.0.0.1", 2000)
    assert cfg.rtc_server.tcp.listen == 9000
    assert cfg.http_server.https.enabled


def test_env_only_mode() -> None:
    cfg = load_config(None, env={"SRS_LISTEN": "1935"}, env_only=True)
    assert cfg.env_only and cfg.file is None
    assert cfg.daemon is False and cfg.srs_log_tank == "console"
    assert list(cfg.vhosts) == [DEFAULT_VHOST]
    assert cfg.listen == (Endpoint("", 1935),)


def test_env_only_via_variable_and_overrides_kept() -> None:
    env = {"SRS_ENV_ONLY": "", "SRS_DAEMON": "on", "SRS_LOG_TANK": "file", "SRS_VHOST_PLAY_GOP_CACHE": "off"}
    cfg = load_config("/does/not/exist.conf", env=env)
    assert cfg.env_only and cfg.daemon is True and cfg.srs_log_tank == "file"
    assert cfg.vhost(DEFAULT_VHOST).play.gop_cache is False  # type: ignore[union-attr]


def test_env_only_without_listen_is_allowed() -> None:
    assert load_config(None, env_only=True).listen == ()


def test_config_file_env_overrides_path(tmp_path: object) -> None:
    import pathlib

    p = pathlib.Path(str(tmp_path)) / "x.conf"
    p.write_text("listen 1999;\n")
    cfg = load_config("/nope.conf", env={"SRS_CONFIG_FILE": str(p)})
    assert cfg.file == str(p) and cfg.listen == (Endpoint("", 1999),)


def test_no_config_file() -> None:
    with pytest.raises(ConfigError, match="no config file"):
        load_config(None)
