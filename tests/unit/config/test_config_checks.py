"""check_normal_config / check_number_connections rules, each refusing with file:line."""

from __future__ import annotations

import pytest

from srs.config import ConfigError, check_not_full, load_config, parse_text

REFUSED = [
    ("empty conf", "", "conf is empty", None),
    ("only comments", "# nothing\n", "conf is empty", None),
    ("listen required", "max_connections 10;\n", "listen requires params", 1),
    ("listen ip invalid", "listen localhost:1935;\n", "listen.ip=localhost is invalid", 1),
    ("listen port invalid", "listen 0;\n", "listen.port=0 is invalid", 1),
    ("illegal root", "listen 1935;\nfoo bar;\n", "illegal directive foo", 2),
    ("illegal http_api", "listen 1935;\nhttp_api {\n x 1;\n}\n", "illegal http_api.x", 3),
    ("illegal raw_api", "listen 1935;\nhttp_api { raw_api {\n x 1;\n} }\n", "illegal http_api.raw_api.x", 3),
    ("illegal auth", "listen 1935;\nhttp_api { auth {\n x 1;\n} }\n", "illegal http_api.auth.x", 3),
    ("illegal http_server", "listen 1935;\nhttp_server {\n x 1;\n}\n", "illegal http_stream.x", 3),
    ("illegal srt_server", "listen 1935;\nsrt_server {\n x 1;\n}\n", "illegal srt_server.x", 3),
    ("illegal heartbeat", "listen 1935;\nheartbeat {\n x 1;\n}\n", "illegal heartbeat.x", 3),
    ("illegal stats", "listen 1935;\nstats {\n x 1;\n}\n", "illegal stats.x", 3),
    ("illegal rtc_server", "listen 1935;\nrtc_server {\n x 1;\n}\n", "illegal rtc_server.x", 3),
    ("illegal exporter", "listen 1935;\nexporter {\n x 1;\n}\n", "illegal exporter.x", 3),
    ("illegal stream_caster", "listen 1935;\nstream_caster {\n x 1;\n}\n", "illegal stream_caster.x", 3),
    ("illegal sip", "listen 1935;\nstream_caster { sip {\n x 1;\n} }\n", "illegal stream_caster.sip.x", 3),
    ("illegal vhost", "listen 1935;\nvhost v {\n x 1;\n}\n", "illegal vhost.x of v", 3),
    ("illegal play", "listen 1935;\nvhost v { play {\n x 1;\n} }\n", "illegal vhost.play.x of v", 3),
    ("illegal publish", "listen 1935;\nvhost v { publish {\n x 1;\n} }\n", "illegal vhost.publish.x of v", 3),
    (
        "illegal http_remux",
        "listen 1935;\nvhost v { http_remux {\n x 1;\n} }\n",
        "illegal vhost.http_remux.x",
        3,
    ),
    ("illegal hls", "listen 1935;\nvhost v { hls {\n x 1;\n} }\n", "illegal vhost.hls.x of v", 3),
    ("illegal dvr", "listen 1935;\nvhost v { dvr {\n x 1;\n} }\n", "illegal vhost.dvr.x of v", 3),
    ("illegal rtc", "listen 1935;\nvhost v { rtc {\n x 1;\n} }\n", "illegal vhost.rtc.x of v", 3),
    (
        "illegal engine",
        "listen 1935;\nvhost v { transcode { engine e {\n x 1;\n} } }\n",
        "illegal vhost.transcode.engine.x",
        3,
    ),
    (
        "two http_remux",
        "listen 1935;\nvhost v {\nhttp_remux { }\nhttp_remux { }\n}\n",
        "http_remux only one but count=2",
        4,
    ),
    (
        "hls with http-ts",
        "listen 1935;\nvhost v {\nhls { enabled on; }\nhttp_remux { enabled on; mount [vhost]/[app]/[stream].ts; }\n}\n",
        "vhost.hls conflict with vhost.http-ts of v",
        4,
    ),
    (
        "forward with kickoff",
        "listen 1935;\nvhost v {\nforward { enabled on; }\npublish { kickoff_for_idle 1; }\n}\n",
        "vhost.forward conflicts with vhost.publish.kickoff_for_idle",
        2,
    ),
    (
        "ingest ids unique",
        "listen 1935;\nvhost v {\ningest a { }\ningest a { }\n}\n",
        "ingest id=a exists for v",
        4,
    ),
    ("heartbeat interval", "listen 1935;\nheartbeat {\n interval 0;\n}\n", "invalid heartbeat.interval=0", 2),
    ("stats network", "listen 1935;\nstats { network -1; }\n", "invalid stats.network=-1", 2),
    (
        "https api needs http",
        "listen 1935;\nhttp_api { https { enabled on; } }\n",
        "https api depends on http",
        2,
    ),
    (
        "https server needs http",
        "listen 1935;\nhttp_server { https { enabled on; } }\n",
        "https stream depends on http",
        2,
    ),
    (
        "same http different https",
        "listen 1935;\nhttp_api { listen 8080; https { listen 1990; } }\nhttp_server { https { listen 8088; } }\n",
        "for same http, https api(1990) != server(8088)",
        2,
    ),
    ("daemon and asprocess", "listen 1935;\nasprocess on;\n", "daemon conflicts with asprocess", 2),
    ("max_connections", "listen 1935;\nmax_connections 0;\n", "max_connections=0 is invalid", 2),
    ("mw_cpu_budget over 100", "listen 1935;\nmw_cpu_budget 101;\n", "invalid mw_cpu_budget=101", 2),
    ("mw_cpu_budget negative", "listen 1935;\nmw_cpu_budget -1;\n", "invalid mw_cpu_budget=-1", 2),
    (
        "trusted_proxies garbage",
        "listen 1935;\ntrusted_proxies 10.0.0.1 nginx;\n",
        "invalid trusted_proxies 'nginx'",
        2,
    ),
    ("log file empty", "listen 1935;\nsrs_log_file '';\n", None, None),
]


@pytest.mark.parametrize(("name", "text", "message", "line"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(name: str, text: str, message: str | None, line: int | None) -> None:
    if message is None:
        # srs_log_file '' is an empty arg0: SRS falls back to the default file, so it passes.
        assert parse_text(text, filename="c.conf").srs_log_file == "./objs/srs.log"
        return
    with pytest.raises(ConfigError) as e:
        parse_text(text, filename="c.conf")
    assert message in str(e.value)
    assert e.value.file == "c.conf"
    assert e.value.line == line


ACCEPTED = [
    ("minimal", "listen 1935;\n"),
    ("ipv6 listen", "listen [::]:1935 0.0.0.0:1936;\n"),
    (
        "not validated blocks",
        "listen 1935;\nthreads { x 1; }\ncircuit_breaker { y 2; }\nvhost v { hds { z 3; } bandcheck { k 1; } }\n",
    ),
    (
        "free-form transcode",
        "listen 1935;\nvhost v { transcode { engine { vfilter { any thing; } vparams { x 1; } } } }\n",
    ),
    (
        "ingest inner blocks",
        "listen 1935;\nvhost v { ingest i { input { whatever 1; } engine { what 2; } } }\n",
    ),
    (
        "hls + flv remux",
        "listen 1935;\nvhost v { hls { enabled on; } http_remux { enabled on; mount [vhost]/[app]/[stream].flv; } }\n",
    ),
    (
        "hls off + ts remux",
        "listen 1935;\nvhost v { hls { enabled off; } http_remux { enabled on; mount x.ts; } }\n",
    ),
    ("ingest ids per vhost", "listen 1935;\nvhost a { ingest i { } }\nvhost b { ingest i { } }\n"),
    ("daemon off asprocess", "listen 1935;\ndaemon off;\nasprocess on;\n"),
    ("heartbeat ports", "listen 1935;\nheartbeat { ports on; }\n"),
    ("rtc keep_avc_nalu_sei", "listen 1935;\nvhost v { rtc { keep_avc_nalu_sei off; } }\n"),
    (
        "same port api and server",
        "listen 1935;\nhttp_api { enabled on; listen 8080; }\nhttp_server { enabled on; }\n",
    ),
]


@pytest.mark.parametrize(("name", "text"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted(name: str, text: str) -> None:
    assert parse_text(text).listen


def test_same_port_api_follows_server_https() -> None:
    cfg = parse_text("listen 1935;\nhttp_api { listen 8080; }\nhttp_server { https { listen 9443; } }\n")
    assert str(cfg.http_api.https.listen) == "9443"


def test_chunk_size_out_of_range_only_warns() -> None:
    cfg = parse_text("listen 1935;\nchunk_size 100;\nvhost v { chunk_size 70000; }\n", filename="w.conf")
    assert "w.conf:2: chunk_size=100 should be in [128, 65536]" in cfg.warnings
    assert any("chunk_size=70000 of v should be in" in w for w in cfg.warnings)


def test_hls_storage_only_warns() -> None:
    cfg = parse_text("listen 1935;\nvhost v { hls { hls_storage ram; } }\n")
    assert any("HLS RAM is removed" in w for w in cfg.warnings)


def test_open_files_limit_when_known() -> None:
    text = "listen 1935;\nmax_connections 1000;\n"
    assert parse_text(text, max_open_files=2000).max_connections == 1000
    with pytest.raises(ConfigError, match="1128 exceed max open files=1024"):
        parse_text(text, max_open_files=1024)


def test_stats_network_index_when_known() -> None:
    parse_text("listen 1935;\nstats { network 1; }\n", local_ip_count=2)
    with pytest.raises(ConfigError, match=r"invalid stats\.network=1 of 1"):
        parse_text("listen 1935;\nstats { network 1; }\n", local_ip_count=1)


def test_is_full_loads_but_is_refused_to_run(tmp_path: object) -> None:
    import pathlib

    p = pathlib.Path(str(tmp_path)) / "full.conf"
    p.write_text("listen 1935;\nis_full on;\n")
    cfg = load_config(str(p))
    assert cfg.is_full
    with pytest.raises(ConfigError) as e:
        check_not_full(cfg)
    assert "never use full.conf" in str(e.value) and e.value.line == 2
    check_not_full(parse_text("listen 1935;\nis_full off;\n"))


def test_http_listen_garbage_only_warns_like_srs() -> None:
    cfg = parse_text("listen 1935;\nhttp_server { enabled on; listen xxx; }\n", filename="x.conf")
    assert "x.conf:2: http_server.listen=0 is not a valid port" in cfg.warnings


def test_mw_cpu_budget_ours_default_and_env() -> None:
    assert parse_text("listen 1935;\n").mw_cpu_budget == 20
    assert parse_text("listen 1935;\nmw_cpu_budget 0;\n").mw_cpu_budget == 0
    cfg = parse_text("listen 1935;\nmw_cpu_budget 5;\n", env={"SRS_MW_CPU_BUDGET": "50"})
    assert cfg.mw_cpu_budget == 50


def test_trusted_proxies_ours_off_by_default_and_env() -> None:
    assert parse_text("listen 1935;\n").trusted_proxies == ()
    cfg = parse_text("listen 1935;\ntrusted_proxies 127.0.0.1 10.0.0.0/8 ::1;\n")
    assert cfg.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    env = {"SRS_TRUSTED_PROXIES": "192.168.0.0/16 127.0.0.1"}
    assert parse_text("listen 1935;\n", env=env).trusted_proxies == ("192.168.0.0/16", "127.0.0.1")
