"""Typed values: every default of reference 2.3, the boolean rule, units, computed values."""

from __future__ import annotations

import dataclasses

import pytest

from srs.config import DEFAULT_VHOST, Config, Endpoint, VhostConfig, parse_text
from srs.config.schema_vhost import HlsConfig, PlayConfig, PublishConfig

BASE = "listen 1935;\n"


def vhost_of(body: str, env: dict[str, str] | None = None, name: str = DEFAULT_VHOST) -> VhostConfig:
    cfg = parse_text(f"{BASE}vhost {name} {{\n{body}\n}}\n", env=env or {})
    v = cfg.vhost(name)
    assert v is not None
    return v


def test_empty_vhost_has_every_reference_default() -> None:
    v = vhost_of("")
    # The dataclass defaults are the reference defaults; an empty vhost must equal them exactly.
    assert dataclasses.replace(v, file="", line=0) == VhostConfig(name=DEFAULT_VHOST)
    # And the reference tables, spelled out (2.3.11).
    expected = {
        "enabled": True, "min_latency": False, "tcp_nodelay": False, "chunk_size": 60000,
        "in_ack_size": 0, "out_ack_size": 2500000,
        "play.gop_cache": True, "play.gop_cache_max_frames": 2500, "play.queue_length_ms": 30000,
        "play.time_jitter": "full", "play.mix_correct": False, "play.atc": False, "play.atc_auto": False,
        "play.mw_latency_ms": 350, "play.mw_msgs": 8, "play.send_min_interval_ms": 0.0,
        "play.reduce_sequence_header": False,
        "publish.mr": False, "publish.mr_latency_ms": 350, "publish.firstpkt_timeout_ms": 20000,
        "publish.normal_timeout_ms": 5000, "publish.parse_sps": True, "publish.try_annexb_first": True,
        "publish.kickoff_for_idle_s": 0.0,
        "http_remux.enabled": False, "http_remux.mount": "[vhost]/[app]/[stream].flv",
        "http_remux.fast_cache_s": 0.0, "http_remux.drop_if_not_match": True, "http_remux.has_audio": True,
        "http_remux.has_video": True, "http_remux.guess_has_av": True,
        "refer.enabled": False, "security.enabled": False,
        "http_static.enabled": False, "http_static.mount": "[vhost]/", "http_static.dir": "./objs/nginx/html",
        "http_hooks.enabled": False, "http_hooks.on_publish": (),
        "hls.enabled": False, "hls.fragment_s": 10.0, "hls.td_ratio": 1.0, "hls.aof_ratio": 2.1,
        "hls.window_s": 60.0, "hls.on_error": "continue", "hls.path": "./objs/nginx/html",
        "hls.m3u8_file": "[app]/[stream].m3u8", "hls.ts_file": "[app]/[stream]-[seq].ts",
        "hls.entry_prefix": "", "hls.acodec": "aac", "hls.vcodec": "h264", "hls.cleanup": True,
        "hls.dispose_s": 120, "hls.wait_keyframe": True, "hls.ts_floor": False, "hls.nb_notify": 64,
        "hls.ctx": True, "hls.ts_ctx": True, "hls.keys": False, "hls.fragments_per_key": 5,
        "hls.key_file": "[app]/[stream]-[seq].key", "hls.key_file_path": "./objs/nginx/html",
        "hls.key_url": "./objs/nginx/html", "hls.dts_directly": True, "hls.use_fmp4": False,
        "hls.fmp4_file": "[app]/[stream]-[seq].m4s", "hls.init_file": "[app]/[stream]-init.mp4",
        "hls.ll": False, "hls.part_s": 0.2,
        "hds.enabled": False, "hds.fragment_s": 10.0, "hds.window_s": 60.0, "hds.path": "./objs/nginx/html",
        "dash.enabled": False, "dash.fragment_s": 10.0, "dash.update_period_s": 5.0, "dash.timeshift_s": 300.0,
        "dash.path": "./objs/nginx/html", "dash.mpd_file": "[app]/[stream].mpd", "dash.window_size": 5,
        "dash.cleanup": True, "dash.dispose_s": 120,
        "dvr.enabled": False, "dvr.apply": ("all",), "dvr.plan": "session",
        "dvr.path": "./objs/nginx/html/[app]/[stream].[timestamp].flv", "dvr.duration_s": 30,
        "dvr.wait_keyframe": True, "dvr.time_jitter": "full",
        "forward.enabled": False, "forward.destination": (), "forward.backend": "",
        "cluster.mode": "local", "cluster.token_traverse": False, "cluster.vhost": "[vhost]",
        "cluster.debug_srs_upnode": True, "cluster.origin_cluster": False, "cluster.protocol": "rtmp",
        "cluster.follow_client": False, "exec.enabled": False, "ingests": (), "transcodes": (),
        "rtc.enabled": False, "rtc.nack": True, "rtc.nack_no_copy": True, "rtc.twcc": True,
        "rtc.stun_timeout_s": 30, "rtc.stun_strict_check": False, "rtc.dtls_role": "passive",
        "rtc.dtls_version": "auto", "rtc.drop_for_pt": 0, "rtc.rtmp_to_rtc": False, "rtc.keep_bframe": False,
        "rtc.keep_avc_nalu_sei": True, "rtc.opus_bitrate": 48000, "rtc.rtc_to_rtmp": False,
        "rtc.pli_for_rtmp_s": 6.0, "rtc.aac_bitrate": 48000, "rtc.min_latency": True, "rtc.mw_latency_ms": 0,
        "srt.enabled": False, "srt.srt_to_rtmp": True,
    }  # fmt: skip
    for path, want in expected.items():
        obj: object = v
        for part in path.split("."):
            obj = getattr(obj, part)
        assert obj == want, path


def test_root_defaults() -> None:
    cfg = parse_text(BASE)
    expected = {
        "chunk_size": 60000, "server_id": None, "pid": "./objs/srs.pid", "daemon": True,
        "srs_log_tank": "file", "srs_log_level": "trace", "srs_log_level_v2": "",
        "srs_log_file": "./objs/srs.log", "ff_log_dir": "./objs", "ff_log_level": "info",
        "max_connections": 1000, "utc_time": False, "pithy_print_ms": 10000, "work_dir": "./",
        "asprocess": False, "empty_ip_ok": True, "in_docker": False, "disable_daemon_for_docker": True,
        "inotify_auto_reload": False, "auto_reload_for_docker": True, "grace_start_wait_ms": 2300,
        "grace_final_wait_ms": 3200, "force_grace_quit": False, "tcmalloc_release_rate": 0.8,
        "query_latest_version": False, "first_wait_for_qlv_s": 300, "threads_interval_s": 5, "is_full": False,
        "circuit_breaker.enabled": True, "circuit_breaker.high_threshold": 90, "circuit_breaker.high_pulse": 2,
        "circuit_breaker.critical_threshold": 95, "circuit_breaker.critical_pulse": 1,
        "circuit_breaker.dying_threshold": 99, "circuit_breaker.dying_pulse": 5,
        "tencentcloud_cls.enabled": False, "tencentcloud_cls.stat_heartbeat": True,
        "tencentcloud_cls.heartbeat_ratio": 1, "tencentcloud_cls.stat_streams": True,
        "tencentcloud_apm.service_name": "srs-server", "tencentcloud_apm.debug_logging": False,
        "http_api.enabled": False, "http_api.listen": Endpoint("", 1985), "http_api.crossdomain": True,
        "http_api.raw_api.enabled": False, "http_api.raw_api.allow_reload": False,
        "http_api.raw_api.allow_query": False, "http_api.raw_api.allow_update": False,
        "http_api.auth.enabled": False, "http_api.auth.username": "", "http_api.auth.password": "",
        "http_api.https.enabled": False, "http_api.https.listen": Endpoint("", 1990),
        "http_api.https.key": "./conf/server.key", "http_api.https.cert": "./conf/server.crt",
        "http_server.enabled": False, "http_server.listen": Endpoint("", 8080),
        "http_server.dir": "./objs/nginx/html", "http_server.crossdomain": True,
        "http_server.https.enabled": False, "http_server.https.listen": Endpoint("", 8088),
        "rtc_server.enabled": False, "rtc_server.listen": 8000, "rtc_server.tcp.enabled": False,
        "rtc_server.tcp.listen": 8000, "rtc_server.protocol": "udp", "rtc_server.candidate": "*",
        "rtc_server.use_auto_detect_network_ip": True, "rtc_server.ip_family": "ipv4",
        "rtc_server.api_as_candidates": True, "rtc_server.resolve_api_domain": True,
        "rtc_server.keep_api_domain": False, "rtc_server.ecdsa": True, "rtc_server.encrypt": True,
        "rtc_server.reuseport": 1, "rtc_server.merge_nalus": False, "rtc_server.black_hole.enabled": False,
        "rtc_server.black_hole.addr": "",
        "srt_server.enabled": False, "srt_server.listen": 10080, "srt_server.maxbw": -1, "srt_server.mss": 1500,
        "srt_server.connect_timeout_ms": 3000, "srt_server.peer_idle_timeout_ms": 10000,
        "srt_server.default_app": "live", "srt_server.peerlatency_ms": 0, "srt_server.recvlatency_ms": 120,
        "srt_server.latency_ms": 120, "srt_server.tsbpdmode": True, "srt_server.tlpktdrop": True,
        "srt_server.sendbuf": 8192 * 1472, "srt_server.recvbuf": 8192 * 1472, "srt_server.payloadsize": 1316,
        "srt_server.passphrase": "", "srt_server.pbkeylen": 0, "srt_server.sei_filter": True,
        "stream_casters": (),
        "heartbeat.enabled": False, "heartbeat.interval_s": 10,
        "heartbeat.url": "http://127.0.0.1:8085/api/v1/servers", "heartbeat.device_id": "",
        "heartbeat.summaries": False, "heartbeat.ports": False,
        "stats.enabled": True, "stats.network": 0, "stats.disk": (),
        "exporter.enabled": False, "exporter.listen": Endpoint("", 9972), "exporter.label": "",
        "exporter.tag": "",
    }  # fmt: skip
    for path, want in expected.items():
        obj: object = cfg
        for part in path.split("."):
            obj = getattr(obj, part)
        assert obj == want, path
    # Everything typed equals the dataclass defaults too.
    assert dataclasses.replace(cfg, root=Config().root, file=None, listen=()) == Config()


def test_stream_caster_defaults() -> None:
    cfg = parse_text(BASE + "stream_caster { }\n")
    (c,) = cfg.stream_casters
    assert (c.enabled, c.caster, c.output, c.listen) == (False, "", "", 0)
    assert (c.sip.enabled, c.sip.listen, c.sip.timeout_s, c.sip.reinvite_s, c.sip.candidate) == (
        True, 5060, 60.0, 5.0, "*",
    )  # fmt: skip


BOOLS = [
    # (block, directive, default) - a sample of default-off and default-on switches
    ("", "tcp_nodelay", False),
    ("", "min_latency", False),
    ("play", "gop_cache", True),
    ("play", "atc", False),
    ("publish", "parse_sps", True),
    ("publish", "mr", False),
    ("http_remux", "enabled", False),
    ("http_remux", "has_audio", True),
]


def _read(v: VhostConfig, block: str, name: str) -> object:
    field = {"tcp_nodelay": "tcp_nodelay", "min_latency": "min_latency"}.get(name, name)
    return getattr(getattr(v, block) if block else v, field)


@pytest.mark.parametrize(("block", "name", "default"), BOOLS)
@pytest.mark.parametrize("value", ["on", "off", "true", "false", "yes", "1", "ON"])
def test_boolean_rule(block: str, name: str, default: bool, value: str) -> None:
    body = f"{block} {{ {name} {value}; }}" if block else f"{name} {value};"
    got = _read(vhost_of(body), block, name)
    # default-off needs the literal "on"; default-on stays on unless literally "off".
    assert got == (value == "on" if not default else value != "off")


@pytest.mark.parametrize(("block", "name", "default"), BOOLS)
def test_boolean_without_value_is_default(block: str, name: str, default: bool) -> None:
    body = f"{block} {{ {name}; }}" if block else f"{name};"
    assert _read(vhost_of(body), block, name) == default


def test_units_converted() -> None:
    v = vhost_of(
        "play { queue_length 10; mw_latency 100; send_min_interval 12.5; }\n"
        "publish { mr_latency 200; firstpkt_timeout 3000; normal_timeout 700; kickoff_for_idle 1.5; }\n"
        "http_remux { fast_cache 2.5; }"
    )
    assert v.play.queue_length_ms == 10_000
    assert v.play.mw_latency_ms == 100
    assert v.play.send_min_interval_ms == 12.5
    assert (v.publish.mr_latency_ms, v.publish.firstpkt_timeout_ms, v.publish.normal_timeout_ms) == (
        200,
        3000,
        700,
    )
    assert v.publish.kickoff_for_idle_s == 1.5
    assert v.http_remux.fast_cache_s == 2.5


@pytest.mark.parametrize(
    ("body", "mw_msgs"),
    [("", 8), ("min_latency on;", 0), ("play { mw_msgs 4; }", 4), ("play { mw_msgs 500; }", 128),
     ("min_latency on; play { mw_msgs 16; }", 16)],
)  # fmt: skip
def test_mw_msgs_as_srs_computes_it(body: str, mw_msgs: int) -> None:
    assert vhost_of(body).play.mw_msgs == mw_msgs


@pytest.mark.parametrize(
    ("value", "want"), [("full", "full"), ("zero", "zero"), ("off", "off"), ("bogus", "off")]
)
def test_time_jitter(value: str, want: str) -> None:
    assert vhost_of(f"play {{ time_jitter {value}; }}").play.time_jitter == want


def test_chunk_size_vhost_or_global() -> None:
    cfg = parse_text(BASE + "chunk_size 4096;\nvhost a { }\nvhost b { chunk_size 128; }\n")
    assert cfg.chunk_size == 4096
    assert cfg.vhost("a").chunk_size == 4096  # type: ignore[union-attr]
    assert cfg.vhost("b").chunk_size == 128  # type: ignore[union-attr]


def test_numbers_read_like_atoi_with_a_warning() -> None:
    cfg = parse_text(
        BASE + "vhost v {\n play { queue_length 10s; gop_cache_max_frames abc; }\n}\n", filename="n.conf"
    )
    v = cfg.vhost("v")
    assert v is not None and v.play.queue_length_ms == 10_000 and v.play.gop_cache_max_frames == 0
    assert any(w.startswith("n.conf:3: vhost.play.queue_length '10s' is not a number") for w in cfg.warnings)


@pytest.mark.parametrize(
    ("text", "host", "port", "back"),
    [("1935", "", 1935, "1935"), ("0.0.0.0:1935", "0.0.0.0", 1935, "0.0.0.0:1935"),
     ("[::]:1935", "::", 1935, "[::]:1935"), ("127.0.0.1:19350", "127.0.0.1", 19350, "127.0.0.1:19350"),
     ("xxx", "", 0, "0")],
)  # fmt: skip
def test_endpoint(text: str, host: str, port: int, back: str) -> None:
    e = Endpoint.parse(text)
    assert (e.host, e.port, str(e)) == (host, port, back)
    assert Endpoint.parse(str(e)) == e
    assert e.bind_host == (host or "0.0.0.0")


def test_listen_multiple_endpoints() -> None:
    cfg = parse_text("listen 1935 127.0.0.1:1936 [::1]:1937;\n")
    assert cfg.listen == (Endpoint("", 1935), Endpoint("127.0.0.1", 1936), Endpoint("::1", 1937))


def test_log_tank_anything_but_console_is_file() -> None:
    assert parse_text(BASE + "srs_log_tank console;").srs_log_tank == "console"
    assert parse_text(BASE + "srs_log_tank syslog;").srs_log_tank == "file"


def test_log_level_v2_wins() -> None:
    cfg = parse_text(BASE + "srs_log_level warn;\nsrs_log_level_v2 debug;\n")
    assert (cfg.srs_log_level, cfg.log_level) == ("warn", "debug")


def test_sub_blocks_typed() -> None:
    v = vhost_of(
        "security { enabled on; deny publish 10.0.0.0/8; allow play all; }\n"
        "refer { enabled on; all a.com b.com; play c.com; }\n"
        "http_hooks { enabled on; on_publish http://a/1 http://b/2; }\n"
        "forward { enabled on; destination 127.0.0.1:1936 127.0.0.1:1937; backend http://x; }\n"
        "cluster { mode remote; origin 1.1.1.1 2.2.2.2:1936; }\n"
        "exec { enabled on; publish ./a.sh [app]; publish ./b.sh; }\n"
        "ingest live { enabled on; input { type stream; url rtsp://x; } ffmpeg ff; engine { enabled off; output o; } }\n"
        "transcode live { enabled on; ffmpeg ff; engine hd { enabled on; vcodec libx264; vfps 25; vfilter { i x; } } }\n"
        "hls { enabled on; hls_path /h; hls_fragment 2.5; }\n"
        "dvr { dvr_apply live/a live/b; dvr_plan segment; }\n"
        "rtc { enabled on; opus_bitrate 1000; pli_for_rtmp 0.1; }"
    )
    assert [(r.action, r.method, r.entry) for r in v.security.rules] == [
        ("deny", "publish", "10.0.0.0/8"),
        ("allow", "play", "all"),
    ]
    assert v.refer.all == ("a.com", "b.com") and v.refer.play == ("c.com",) and v.refer.enabled
    assert v.http_hooks.on_publish == ("http://a/1", "http://b/2")
    assert v.forward.destination == ("127.0.0.1:1936", "127.0.0.1:1937") and v.forward.backend == "http://x"
    assert v.cluster.is_edge and v.cluster.origin == ("1.1.1.1", "2.2.2.2:1936")
    assert v.exec.publish == (("./a.sh", "[app]"), ("./b.sh",))
    (ing,) = v.ingests
    assert (ing.id, ing.enabled, ing.input_type, ing.input_url, ing.engines[0].output) == (
        "live", True, "stream", "rtsp://x", "o",
    )  # fmt: skip
    (tr,) = v.transcodes
    assert (tr.scope, tr.engines[0].id, tr.engines[0].vfps, tr.engines[0].vfilter) == (
        "live",
        "hd",
        25.0,
        (("i", "x"),),
    )
    assert v.hls == HlsConfig(enabled=True, path="/h", fragment_s=2.5, key_file_path="/h", key_url="/h")
    assert v.dvr.apply == ("live/a", "live/b") and v.dvr.plan == "segment"
    # SRS resets out-of-range RTC values to defaults.
    assert v.rtc.opus_bitrate == 48000 and v.rtc.pli_for_rtmp_s == 6.0


def test_play_and_publish_dataclasses_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PlayConfig().gop_cache = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        PublishConfig().mr = True  # type: ignore[misc]


def test_vhosts_keep_file_order_and_first_wins() -> None:
    cfg = parse_text(BASE + "vhost b { }\nvhost a { tcp_nodelay on; }\nvhost a { }\n", filename="o.conf")
    assert list(cfg.vhosts) == ["b", "a"]
    assert cfg.vhost("a").tcp_nodelay  # type: ignore[union-attr]
    assert cfg.vhost("nope") is None
    assert any("o.conf:4: vhost 'a' is defined again" in w for w in cfg.warnings)
    with pytest.raises(TypeError):
        cfg.vhosts["c"] = cfg.vhosts["a"]  # type: ignore[index]
