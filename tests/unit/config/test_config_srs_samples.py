"""SRS's own sample configs (tests/data/srs_conf, see NOTICE) get SRS 7.0.18's ``srs -t`` verdict.

They are run from a directory where ``./conf`` is the sample folder, because their include paths
are relative to SRS's trunk/ (the process cwd), exactly as SRS resolves them.

The verdicts follow SRS's own trunk/scripts/verify_confs.sh: every conf/*.conf passes ``srs -t``
except full.conf (refused only for being full.conf), the two NGINX configs and the bare include
fragment include.vhost.conf; include_test/ holds more fragments that are only meant to be included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from srs import cli
from srs.config import ConfigError, check_not_full, load_config, parse_text

DATA = Path(__file__).resolve().parents[2] / "data" / "srs_conf"

LOADS = None
# file -> LOADS, or substrings of which one must be in the ConfigError.
VERDICTS: dict[str, tuple[str, ...] | None] = {
    "clion-ingest.conf": LOADS,
    "clion-srt.conf": LOADS,
    "clion.conf": LOADS,
    "compatible.conf": LOADS,
    "console.ipv46.conf": LOADS,
    "dash.conf": LOADS,
    "docker.conf": LOADS,
    "dvr.mp4.conf": LOADS,
    "dvr.path.conf": LOADS,
    "dvr.segment.conf": LOADS,
    "dvr.session.conf": LOADS,
    "edge.conf": LOADS,
    "edge2.conf": LOADS,
    "exec.conf": LOADS,
    "ffmpeg.transcode.conf": LOADS,
    "forward.backend.conf": LOADS,
    "forward.master.conf": LOADS,
    "forward.slave.conf": LOADS,
    # Loads and passes every check; only running it is refused (see test_full_conf_*).
    "full.conf": LOADS,
    "gb28181-without-sip.conf": LOADS,
    "gb28181.conf": LOADS,
    "hds.conf": LOADS,
    "hevc.flv.conf": LOADS,
    "hevc.ts.conf": LOADS,
    "hls.origin.conf": LOADS,
    "hls.realtime.conf": LOADS,
    "http.aac.live.conf": LOADS,
    "http.api.auth.conf": LOADS,
    "http.flv.live.conf": LOADS,
    "http.hls.conf": LOADS,
    "http.mp3.live.conf": LOADS,
    "http.ts.live.conf": LOADS,
    "https.flv.live.conf": LOADS,
    "https.hooks.callback.conf": LOADS,
    "https.rtc.conf": LOADS,
    "https.rtmp2rtc.conf": LOADS,
    "https.srs.conf": LOADS,
    "include.conf": LOADS,
    "ingest.conf": LOADS,
    "log-file.conf": LOADS,
    "mp3.conf": LOADS,
    "mp3.http.conf": LOADS,
    "mp3.rtc.conf": LOADS,
    "mp3.ts.conf": LOADS,
    "origin.cluster.edge.conf": LOADS,
    "origin.cluster.serverA.conf": LOADS,
    "origin.cluster.serverB.conf": LOADS,
    "origin.conf": LOADS,
    "origin1-for-proxy.conf": LOADS,
    "origin3-for-proxy.conf": LOADS,
    "prometheus.conf": LOADS,
    "push.flv.conf": LOADS,
    "rtc.conf": LOADS,
    "rtc.tcp.only.conf": LOADS,
    "rtc.tcp.udp.conf": LOADS,
    "rtsp.conf": LOADS,
    "rtc2rtmp.conf": LOADS,
    "rtmp.conf": LOADS,
    "rtmp2rtc.conf": LOADS,
    "srs.conf": LOADS,
    "srt2rtc.conf": LOADS,
    "transcode2hls.audio.only.conf": LOADS,
    "include_test/include.conf": LOADS,
    "include_test/include_2.conf": LOADS,
    "include_test/include_4.conf": LOADS,
    # NGINX configs: the http{} block's include of /etc/nginx/mime.types is read first (it parses
    # if the host has it); then the root check refuses the first NGINX directive.
    "nginx.proxy.conf": ("illegal directive worker_processes", "include '/etc/nginx/mime.types'"),
    "hls.edge.conf": ("illegal directive worker_processes",),
    # Bare fragments, meant only to be included.
    "include.vhost.conf": ("listen requires params",),
    "include_test/include_1.conf": ("listen requires params",),
    "include_test/include_3.conf": ("illegal directive hls",),
    "include_test/include_5.conf": ("listen requires params",),
    "include_test/include_6.conf": ("listen requires params",),
}


@pytest.fixture
def srs_trunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "conf").symlink_to(DATA, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_table_covers_every_sample() -> None:
    on_disk = {p.relative_to(DATA).as_posix() for p in DATA.rglob("*.conf")}
    assert on_disk == set(VERDICTS)
    assert len(on_disk) == 72  # 71 of 7.0.18, rtsp.conf of 7.0.47+


def test_notice_names_every_sample() -> None:
    notice = (DATA / "NOTICE").read_text()
    for name in VERDICTS:
        assert f"\n  {name} " in notice, name


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_srs_verdict(name: str, srs_trunk: Path) -> None:
    expected = VERDICTS[name]
    path = f"./conf/{name}"
    if expected is LOADS:
        cfg = load_config(path)
        assert cfg.file == path and cfg.listen and cfg.vhosts
        assert cfg.is_full == (name == "full.conf")
        if not cfg.is_full:
            check_not_full(cfg)
        return
    with pytest.raises(ConfigError) as e:
        load_config(path)
    err = e.value
    assert any(s in str(err) for s in expected), str(err)
    # Located at file:line of the sample itself, so the user sees which line is not SRS.
    assert err.file == path and err.line is not None and err.line > 0
    assert str(err).startswith(f"{path}:{err.line}: ")


def test_missing_listen_points_at_the_first_directive_of_the_file(tmp_path: Path) -> None:
    # SRS only says "listen requires params"; we locate it at the file's first directive.
    with pytest.raises(ConfigError) as e:
        parse_text("# a fragment\n\nvhost v {\n}\n", filename="frag.conf")
    assert str(e.value) == "frag.conf:3: listen requires params"
    # Directives that all come from an included file give no line in the main file.
    (tmp_path / "inc.conf").write_text("max_connections 10;\n")
    main = tmp_path / "main.conf"
    main.write_text(f"include {tmp_path / 'inc.conf'};\n")
    with pytest.raises(ConfigError) as e:
        load_config(str(main))
    assert (e.value.file, e.value.line) == (str(main), None)


def test_nginx_proxy_without_mime_types(srs_trunk: Path) -> None:
    def reader(p: str) -> str:
        if p == "/etc/nginx/mime.types":
            raise ConfigError("cannot read config file: No such file or directory", file=p)
        return Path(p).read_text()

    with pytest.raises(ConfigError) as e:
        load_config("./conf/nginx.proxy.conf", reader=reader)
    assert (e.value.file, e.value.line, e.value.directive) == ("./conf/nginx.proxy.conf", 10, "include")
    assert str(e.value).endswith(
        "include '/etc/nginx/mime.types': /etc/nginx/mime.types: cannot read config file: No such file or directory"
    )


def test_nginx_configs_fail_on_their_first_directive(srs_trunk: Path) -> None:
    for name in ("hls.edge.conf", "nginx.proxy.conf"):
        if name == "nginx.proxy.conf" and not Path("/etc/nginx/mime.types").exists():
            continue
        with pytest.raises(ConfigError) as e:
            load_config(f"./conf/{name}")
        assert (e.value.line, e.value.directive) == (4, "worker_processes"), name


def test_full_conf_loads_but_is_not_runnable(srs_trunk: Path) -> None:
    cfg = load_config("./conf/full.conf")
    assert cfg.is_full and cfg.listen[0].port == 1935 and cfg.daemon is False
    # The include in the middle of full.conf pulls in include.vhost.conf's vhost.
    inc = cfg.vhost("include.srs.com")
    assert inc is not None and inc.hls.enabled and inc.http_remux.enabled
    # SRS takes the first of repeated root blocks: http_api listens on 8080, not 9090/9091.
    assert cfg.http_api.listen.port == 8080 and cfg.http_api.auth.username == "admin"
    assert cfg.heartbeat.interval_s == 9 and cfg.heartbeat.ports is False
    assert [c.caster for c in cfg.stream_casters] == ["mpegts_over_udp", "flv", "gb28181"]
    assert cfg.srt_server.enabled and cfg.srt_server.listen == 10080 and cfg.srt_server.tsbpdmode is False
    origin = cfg.vhost("a.origin.cluster.srs.com")
    assert (
        origin is not None
        and origin.cluster.origin_cluster
        and origin.cluster.coworkers == ("127.0.0.1:9091",)
    )
    assert len(cfg.vhosts) > 40
    # ... and `srs -t -c conf/full.conf` fails in SRS 7.0.18: check_config() ends with
    # "never use full.conf(%s)"; we keep that step apart so the file can still be loaded.
    with pytest.raises(ConfigError) as e:
        check_not_full(cfg)
    assert str(e.value) == "./conf/full.conf:2719: directive 'is_full': never use full.conf(./conf/full.conf)"


def test_cli_full_conf_loads_under_test_but_never_runs(
    srs_trunk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The issue: every SRS config loads with -t, full.conf included. SRS still refuses to *run* it
    # ("never use full.conf"): -t says so and succeeds, starting the server fails.
    assert cli.main(["-t", "-c", "./conf/full.conf"], env={}) == 0
    out = capsys.readouterr().out
    assert "never use full.conf(./conf/full.conf)" in out and "test is successful" in out
    assert cli.main(["-c", "./conf/full.conf"], env={}) == 1
    assert "never use full.conf(./conf/full.conf)" in capsys.readouterr().err


def test_cli_test_mode_passes_a_sample(srs_trunk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-t", "-c", "./conf/rtmp.conf"], env={}) == 0
    assert "./conf/rtmp.conf test is successful" in capsys.readouterr().out
    assert cli.main(["-t", "-c", "./conf/include.vhost.conf"], env={}) == 1
    assert "./conf/include.vhost.conf:1: listen requires params" in capsys.readouterr().err


def test_samples_build_the_expected_values(srs_trunk: Path) -> None:
    srs = load_config("./conf/srs.conf")
    assert srs.daemon and srs.http_api.enabled and srs.http_api.listen.port == 1985
    assert srs.rtc_server.enabled and srs.rtc_server.listen == 8000
    d = srs.vhost("__defaultVhost__")
    assert d is not None and d.hls.enabled and d.http_remux.mount == "[vhost]/[app]/[stream].flv"
    gb = load_config("./conf/gb28181-without-sip.conf").stream_casters
    assert [(c.caster, c.listen, c.sip.enabled) for c in gb] == [("gb28181", 9000, False)]
    proxy = load_config("./conf/origin1-for-proxy.conf")
    assert proxy.heartbeat.enabled and proxy.heartbeat.ports and proxy.heartbeat.device_id == "origin1"
    assert proxy.heartbeat.url == "http://127.0.0.1:12025/api/v1/srs/register"
    dvr = load_config("./conf/dvr.path.conf").vhost("__defaultVhost__")
    assert dvr is not None and dvr.dvr.enabled and dvr.dvr.plan == "segment"
    assert dvr.dvr.path == "./objs/nginx/html/[app]/[stream]/[2006]/[01]/[02]/[15].[04].[05].[999].flv"
    ipv46 = load_config("./conf/console.ipv46.conf")
    assert [(ep.host, ep.port) for ep in ipv46.listen] == [("", 1935), ("::", 1935)]
    assert load_config("./conf/prometheus.conf").exporter.enabled


def test_include_samples_build_the_expected_tree(srs_trunk: Path) -> None:
    cfg = load_config("./conf/include_test/include_4.conf")
    v = cfg.vhost("ossrs.net")
    assert v is not None and v.hls.enabled and v.hls.path == "xxx" and v.hls.m3u8_file == "xxx1"
    assert cfg.http_api.enabled and cfg.http_server.enabled
    inc = load_config("./conf/include.conf")
    assert list(inc.vhosts) == ["include.srs.com"] and inc.vhost("include.srs.com").http_remux.enabled  # type: ignore[union-attr]


def test_legacy_samples_are_rewritten(srs_trunk: Path) -> None:
    old = load_config("./conf/compatible.conf")
    v = old.vhost("__defaultVhost__")
    assert (
        v is not None
        and v.cluster.mode == "remote"
        and v.cluster.origin == ("127.0.0.1:1935", "localhost:1935")
    )
    assert v.cluster.vhost == "same.edge.srs.com" and v.play.gop_cache is False and v.publish.mr is False
    assert old.http_server.enabled and any("http_stream => http_server" in w for w in old.warnings)
    edge = load_config("./conf/edge.conf").vhost("__defaultVhost__")
    assert edge is not None and edge.cluster.mode == "remote" and edge.cluster.origin == ("127.0.0.1:19350",)


def test_our_default_configs_load_without_unsupported_lines() -> None:
    root = Path(__file__).resolve().parents[3] / "conf"
    names = ("srs.conf", "rtmp.conf", "http.flv.live.conf", "hls.conf")
    for name in (
        *names,
        "http.ts.live.conf",
        "http.aac.live.conf",
        "http.mp3.live.conf",
        "hls.mp4.conf",
        "hls.aes.conf",
        "rtc.conf",
        "rtc2rtmp.conf",
        "rtmp2rtc.conf",
        "rtc.tcp.only.conf",
        "rtc.tcp.udp.conf",
        "srt.conf",
    ):
        cfg = load_config(str(root / name))
        check_not_full(cfg)
        assert cfg.unsupported == () and cfg.daemon is False and cfg.srs_log_tank == "console", name
    srs = load_config(str(root / "srs.conf"))
    assert srs.http_api.enabled and srs.http_server.enabled and srs.max_connections == 1000
    assert srs.vhost("__defaultVhost__").http_remux.enabled  # type: ignore[union-attr]
    assert srs.vhost("__defaultVhost__").hls.enabled  # type: ignore[union-attr]  # SRS's default
    # SRS 7's own srs.conf: WebRTC on port 8000, candidate from $CANDIDATE (unset: auto-detect).
    assert srs.rtc_server.enabled and srs.rtc_server.listen == 8000
    assert srs.vhost("__defaultVhost__").rtc.enabled  # type: ignore[union-attr]
    assert srs.srt_server.enabled and srs.srt_server.listen == 10080  # make run: SRT in, anything out
    assert srs.vhost("__defaultVhost__").srt.enabled  # type: ignore[union-attr]
    mp4 = load_config(str(root / "hls.mp4.conf")).vhost("__defaultVhost__")
    assert mp4 is not None and mp4.hls.use_fmp4 and mp4.hls.init_file == "[app]/[stream]-init.mp4"
    aes = load_config(str(root / "hls.aes.conf")).vhost("__defaultVhost__")
    assert aes is not None and aes.hls.keys and aes.hls.fragments_per_key == 5
    for ext in ("ts", "aac", "mp3"):
        v = load_config(str(root / f"http.{ext}.live.conf")).vhost("__defaultVhost__")
        assert v is not None and v.http_remux.mount == f"[vhost]/[app]/[stream].{ext}"


RTC_SAMPLES = (
    "rtc.conf",
    "rtc.tcp.only.conf",
    "rtc.tcp.udp.conf",
    "rtc2rtmp.conf",
    "rtmp2rtc.conf",
    "https.rtc.conf",
    "https.rtmp2rtc.conf",
    "mp3.rtc.conf",
    "srt2rtc.conf",
)


@pytest.mark.parametrize("name", RTC_SAMPLES)
def test_rtc_samples_are_supported(name: str, srs_trunk: Path) -> None:
    # rtc_server and vhost rtc are read in full: no "not supported yet" line names them.
    cfg = load_config(f"./conf/{name}")
    assert cfg.rtc_server.enabled
    assert not [u for u in cfg.unsupported if "'rtc_server'" in u or "'vhost.rtc'" in u], cfg.unsupported
    d = cfg.vhost("__defaultVhost__")
    assert d is not None and d.rtc.enabled


def test_rtc_sample_values(srs_trunk: Path) -> None:
    only = load_config("./conf/rtc.tcp.only.conf").rtc_server
    assert (only.protocol, only.tcp.enabled, only.tcp.listen, only.candidate) == ("tcp", True, 8000, "*")
    both = load_config("./conf/rtc.tcp.udp.conf").rtc_server
    assert (both.protocol, both.listen, both.tcp.enabled) == ("all", 8000, True)
    bridge = load_config("./conf/rtc2rtmp.conf").vhost("__defaultVhost__")
    assert bridge is not None and bridge.rtc.rtc_to_rtmp and bridge.rtc.rtmp_to_rtc
