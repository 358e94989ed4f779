"""Read the (legacy-rewritten) tree plus the environment into a typed :class:`Config`."""

from __future__ import annotations

from types import MappingProxyType

from srs.config.env import EnvSource
from srs.config.parser import Directive
from srs.config.reader import Reader
from srs.config.schema import (
    AuthConfig,
    BlackHoleConfig,
    CircuitBreakerConfig,
    Config,
    ExporterConfig,
    HeartbeatConfig,
    HttpApiConfig,
    HttpsConfig,
    HttpServerConfig,
    RawApiConfig,
    RtcServerConfig,
    RtcTcpConfig,
    RtspAuthConfig,
    RtspServerConfig,
    SipConfig,
    SrtServerConfig,
    StatsConfig,
    StreamCasterConfig,
    TencentCloudApmConfig,
    TencentCloudClsConfig,
)
from srs.config.schema_vhost import VhostConfig
from srs.config.typed_vhost import read_vhost
from srs.config.values import Endpoint, atof, atoi, bool_off, bool_on

__all__ = ["build_config"]


def build_config(
    root: Directive, env: EnvSource, *, file: str | None, env_only: bool, warnings: list[str]
) -> Config:
    """Every typed value, as SRS's getters compute them (env first, then file, then default)."""
    r = Reader(env, warnings)
    chunk_size = r.i("chunk_size", root, "chunk_size", 60_000)
    listen = tuple(Endpoint.parse(w) for w in r.words("listen", root, "listen"))
    server_id = r.raw("server_id", root, "server_id")[0]
    tank = r.s("srs_log_tank", root, "srs_log_tank", "file")

    vhosts: dict[str, VhostConfig] = {}
    for v in root.get_all("vhost"):
        if v.arg0 in vhosts:
            # SRS compat: get_vhost() returns the first vhost of a name; later ones are dead.
            warnings.append(f"{v.where}: vhost {v.arg0!r} is defined again, the first one is used")
            continue
        vhosts[v.arg0] = read_vhost(r, v, chunk_size)

    return Config(
        file=file,
        root=root,
        listen=listen,
        chunk_size=chunk_size,
        server_id=server_id,
        pid=r.s("pid", root, "pid", "./objs/srs.pid"),
        daemon=r.b("daemon", root, "daemon", True),
        # SRS: anything but "console" logs to a file (get_log_tank_file()).
        srs_log_tank="console" if tank == "console" else "file",
        srs_log_level=r.s("srs_log_level", root, "srs_log_level", "trace"),
        srs_log_level_v2=r.s("srs_log_level_v2", root, "srs_log_level_v2", ""),
        srs_log_file=r.s("srs_log_file", root, "srs_log_file", "./objs/srs.log"),
        ff_log_dir=r.s("ff_log_dir", root, "ff_log_dir", "./objs"),
        ff_log_level=r.s("ff_log_level", root, "ff_log_level", "info"),
        utc_time=r.b("utc_time", root, "utc_time", False),
        max_connections=r.i("max_connections", root, "max_connections", 1000),
        mw_cpu_budget=r.i("mw_cpu_budget", root, "mw_cpu_budget", 20),
        trusted_proxies=r.words("trusted_proxies", root, "trusted_proxies"),
        pithy_print_ms=r.i("pithy_print_ms", root, "pithy_print_ms", 10_000),
        work_dir=r.s("work_dir", root, "work_dir", "./"),
        asprocess=r.b("asprocess", root, "asprocess", False),
        grace_start_wait_ms=r.i("grace_start_wait", root, "grace_start_wait", 2300),
        grace_final_wait_ms=r.i("grace_final_wait", root, "grace_final_wait", 3200),
        force_grace_quit=r.b("force_grace_quit", root, "force_grace_quit", False),
        empty_ip_ok=r.b("empty_ip_ok", root, "empty_ip_ok", True),
        disable_daemon_for_docker=r.b("disable_daemon_for_docker", root, "disable_daemon_for_docker", True),
        in_docker=r.b("in_docker", root, "in_docker", False),
        inotify_auto_reload=r.b("inotify_auto_reload", root, "inotify_auto_reload", False),
        auto_reload_for_docker=r.b("auto_reload_for_docker", root, "auto_reload_for_docker", True),
        # SRS clamps the tcmalloc release rate to [0, 10].
        tcmalloc_release_rate=min(
            10.0, max(0.0, r.f("tcmalloc_release_rate", root, "tcmalloc_release_rate", 0.8))
        ),
        query_latest_version=r.b("query_latest_version", root, "query_latest_version", False),
        first_wait_for_qlv_s=r.i("first_wait_for_qlv", root, "first_wait_for_qlv", 300),
        threads_interval_s=_threads_interval(r, root),
        circuit_breaker=_circuit_breaker(r, root.get("circuit_breaker")),
        tencentcloud_cls=_cls(r, root.get("tencentcloud_cls")),
        tencentcloud_apm=_apm(r, root.get("tencentcloud_apm")),
        is_full=bool_off(_arg0(root, "is_full")),  # not env-overridable
        env_only=env_only,
        http_api=_http_api(r, root),
        http_server=_http_server(r, root),
        rtc_server=_rtc_server(r, root.get("rtc_server")),
        srt_server=_srt_server(r, root.get("srt_server")),
        rtsp_server=_rtsp_server(r, root.get("rtsp_server")),
        stream_casters=tuple(_caster(env, c) for c in root.get_all("stream_caster")),
        heartbeat=_heartbeat(r, root.get("heartbeat")),
        stats=_stats(root.get("stats")),
        exporter=_exporter(r, root.get("exporter")),
        vhosts=MappingProxyType(vhosts),
        warnings=(),
        unsupported=(),
    )


def _arg0(block: Directive | None, name: str) -> str | None:
    d = block.get(name) if block is not None else None
    return d.arg0 if d is not None and d.arg0 else None


def _threads_interval(r: Reader, root: Directive) -> int:
    v = r.i("threads.interval", root.get("threads"), "interval", 5)
    return v if v > 0 else 5  # SRS: a non-positive interval falls back to 5 s


def _https(r: Reader, prefix: str, b: Directive | None, default_listen: str) -> HttpsConfig:
    return HttpsConfig(
        enabled=r.b(prefix + "enabled", b, "enabled", False),
        listen=Endpoint.parse(r.s(prefix + "listen", b, "listen", default_listen)),
        key=r.s(prefix + "key", b, "key", "./conf/server.key"),
        cert=r.s(prefix + "cert", b, "cert", "./conf/server.crt"),
    )


def _http_api(r: Reader, root: Directive) -> HttpApiConfig:
    b = root.get("http_api")
    raw = b.get("raw_api") if b is not None else None
    auth = b.get("auth") if b is not None else None
    listen = r.s("http_api.listen", b, "listen", "1985")
    server_listen = r.s("http_server.listen", root.get("http_server"), "listen", "8080")
    # get_https_api_listen(): when the API shares the HTTP server's port, HTTPS follows the server's.
    https_default = "1990"
    if listen == server_listen:
        hs = root.get("http_server")
        https_default = r.s("http_server.https.listen", hs.get("https") if hs else None, "listen", "8088")
    return HttpApiConfig(
        enabled=r.b("http_api.enabled", b, "enabled", False),
        listen=Endpoint.parse(listen),
        crossdomain=r.b("http_api.crossdomain", b, "crossdomain", True),
        raw_api=RawApiConfig(
            enabled=r.b("http_api.raw_api.enabled", raw, "enabled", False),
            allow_reload=r.b("http_api.raw_api.allow_reload", raw, "allow_reload", False),
        ),
        auth=AuthConfig(
            enabled=r.b("http_api.auth.enabled", auth, "enabled", False),
            username=r.s("http_api.auth.username", auth, "username", ""),
            password=r.s("http_api.auth.password", auth, "password", ""),
        ),
        https=_https(r, "http_api.https.", b.get("https") if b is not None else None, https_default),
    )


def _http_server(r: Reader, root: Directive) -> HttpServerConfig:
    b = root.get("http_server")
    return HttpServerConfig(
        enabled=r.b("http_server.enabled", b, "enabled", False),
        listen=Endpoint.parse(r.s("http_server.listen", b, "listen", "8080")),
        dir=r.s("http_server.dir", b, "dir", "./objs/nginx/html"),
        crossdomain=r.b("http_server.crossdomain", b, "crossdomain", True),
        https=_https(r, "http_server.https.", b.get("https") if b is not None else None, "8088"),
    )


def _rtc_server(r: Reader, b: Directive | None) -> RtcServerConfig:
    k = "rtc_server."
    tcp = b.get("tcp") if b is not None else None
    hole = b.get("black_hole") if b is not None else None
    return RtcServerConfig(
        enabled=r.b(k + "enabled", b, "enabled", False),
        listen=r.i(k + "listen", b, "listen", 8000),
        tcp=RtcTcpConfig(
            enabled=r.b(k + "tcp.enabled", tcp, "enabled", False),
            listen=r.i(k + "tcp.listen", tcp, "listen", 8000),
        ),
        protocol=r.s(k + "protocol", b, "protocol", "udp"),
        candidate=_candidate(r, b),
        use_auto_detect_network_ip=r.b(
            k + "use_auto_detect_network_ip", b, "use_auto_detect_network_ip", True
        ),
        ip_family=r.s(k + "ip_family", b, "ip_family", "ipv4"),
        api_as_candidates=r.b(k + "api_as_candidates", b, "api_as_candidates", True),
        resolve_api_domain=r.b(k + "resolve_api_domain", b, "resolve_api_domain", True),
        keep_api_domain=r.b(k + "keep_api_domain", b, "keep_api_domain", False),
        ecdsa=r.b(k + "ecdsa", b, "ecdsa", True),
        encrypt=r.b(k + "encrypt", b, "encrypt", True),
        reuseport=r.i(k + "reuseport", b, "reuseport", 1),
        merge_nalus=r.b(k + "merge_nalus", b, "merge_nalus", False),
        black_hole=BlackHoleConfig(
            enabled=r.b(k + "black_hole.enabled", hole, "enabled", False),
            addr=r.s(k + "black_hole.addr", hole, "addr", ""),
        ),
    )


def _candidate(r: Reader, b: Directive | None) -> str:
    # get_rtc_server_candidates(): SRS_RTC_SERVER_CANDIDATE may itself name a variable ($VAR);
    # a configured "$CANDIDATE" reads env CANDIDATE, and falls back to "*" when it is unset.
    env_value = r.env.value("rtc_server.candidate")
    if env_value is not None:
        if not env_value.startswith("$"):
            return env_value
        expanded = r.env.expand(env_value)
        if expanded:
            return expanded
    value = _arg0(b, "candidate")
    if value is None:
        return "*"
    expanded = r.env.expand(value)
    return expanded if expanded else "*"


def _rtsp_server(r: Reader, b: Directive | None) -> RtspServerConfig:
    k = "rtsp_server."
    auth = b.get("auth") if b is not None else None
    # Ours: users are ``user NAME PASSWORD;`` lines; SRS_RTSP_SERVER_AUTH_USER="n1 p1 n2 p2" replaces them.
    env_users = r.env.get(k + "auth.user")
    if env_users is not None:
        words = [w for w in env_users[1].split(" ") if w]
        users = tuple(zip(words[0::2], words[1::2], strict=False))
    else:
        users = tuple(
            (u.args[0], u.args[1]) for u in (auth.get_all("user") if auth else ()) if len(u.args) == 2
        )
    return RtspServerConfig(
        enabled=r.b(k + "enabled", b, "enabled", False),
        listen=r.i(k + "listen", b, "listen", 554),
        auth=RtspAuthConfig(
            enabled=r.b(k + "auth.enabled", auth, "enabled", False),
            realm=r.s(k + "auth.realm", auth, "realm", "SRS"),
            users=users,
        ),
    )


def _srt_server(r: Reader, b: Directive | None) -> SrtServerConfig:
    k = "srt_server."
    return SrtServerConfig(
        enabled=r.b(k + "enabled", b, "enabled", False),
        listen=r.i(k + "listen", b, "listen", 10080),
        maxbw=r.i(k + "maxbw", b, "maxbw", -1),
        mss=r.i(k + "mss", b, "mss", 1500),
        connect_timeout_ms=r.i(k + "connect_timeout", b, "connect_timeout", 3000),
        peer_idle_timeout_ms=r.i(k + "peer_idle_timeout", b, "peer_idle_timeout", 10_000),
        default_app=r.s(k + "default_app", b, "default_app", "live"),
        peerlatency_ms=r.i(k + "peerlatency", b, "peerlatency", 0),
        recvlatency_ms=r.i(k + "recvlatency", b, "recvlatency", 120),
        latency_ms=r.i(k + "latency", b, "latency", 120),
        tsbpdmode=r.b(k + "tsbpdmode", b, "tsbpdmode", True),
        tlpktdrop=r.b(k + "tlpktdrop", b, "tlpktdrop", True),
        sendbuf=r.i(k + "sendbuf", b, "sendbuf", 8192 * (1500 - 28)),
        recvbuf=r.i(k + "recvbuf", b, "recvbuf", 8192 * (1500 - 28)),
        payloadsize=r.i(k + "payloadsize", b, "payloadsize", 1316),
        passphrase=r.s(k + "passphrase", b, "passphrase", ""),
        pbkeylen=r.i(k + "pbkeylen", b, "pbkeylen", 0),
        sei_filter=r.b(k + "sei_filter", b, "sei_filter", True),
    )


def _caster(env: EnvSource, c: Directive) -> StreamCasterConfig:
    # stream_caster is not env-overridable (reference 2.2) except the $VAR form of sip.candidate.
    sip = c.get("sip")
    cand = _arg0(sip, "candidate")
    expanded = env.expand(cand) if cand else None
    return StreamCasterConfig(
        enabled=bool_off(_arg0(c, "enabled")),
        caster=_arg0(c, "caster") or "",
        output=_arg0(c, "output") or "",
        listen=atoi(_arg0(c, "listen") or "0"),
        sip=SipConfig(
            enabled=bool_on(_arg0(sip, "enabled")),
            listen=atoi(_arg0(sip, "listen") or "5060"),
            timeout_s=atof(_arg0(sip, "timeout") or "60"),
            reinvite_s=atof(_arg0(sip, "reinvite") or "5"),
            candidate=expanded or "*",
        ),
        file=c.file,
        line=c.line,
    )


def _heartbeat(r: Reader, b: Directive | None) -> HeartbeatConfig:
    k = "heartbeat."
    return HeartbeatConfig(
        enabled=r.b(k + "enabled", b, "enabled", False),
        interval_s=r.i(k + "interval", b, "interval", 10),
        url=r.s(k + "url", b, "url", "http://127.0.0.1:8085/api/v1/servers"),
        device_id=r.s(k + "device_id", b, "device_id", ""),
        summaries=r.b(k + "summaries", b, "summaries", False),
        ports=r.b(k + "ports", b, "ports", False),
    )


def _stats(b: Directive | None) -> StatsConfig:
    disk = b.get("disk") if b is not None else None
    return StatsConfig(
        enabled=bool_on(_arg0(b, "enabled")),
        network=atoi(_arg0(b, "network") or "0"),
        disk=disk.args if disk is not None else (),
    )


def _exporter(r: Reader, b: Directive | None) -> ExporterConfig:
    return ExporterConfig(
        enabled=r.b("exporter.enabled", b, "enabled", False),
        listen=Endpoint.parse(r.s("exporter.listen", b, "listen", "9972")),
        label=r.s("exporter.label", b, "label", ""),
        tag=r.s("exporter.tag", b, "tag", ""),
        stream_metrics=r.b("exporter.stream_metrics", b, "stream_metrics", False),
        max_streams=r.i("exporter.max_streams", b, "max_streams", 100),
    )


def _circuit_breaker(r: Reader, b: Directive | None) -> CircuitBreakerConfig:
    k = "circuit_breaker."
    return CircuitBreakerConfig(
        enabled=r.b(k + "enabled", b, "enabled", True),
        high_threshold=r.i(k + "high_threshold", b, "high_threshold", 90),
        high_pulse=r.i(k + "high_pulse", b, "high_pulse", 2),
        critical_threshold=r.i(k + "critical_threshold", b, "critical_threshold", 95),
        critical_pulse=r.i(k + "critical_pulse", b, "critical_pulse", 1),
        dying_threshold=r.i(k + "dying_threshold", b, "dying_threshold", 99),
        dying_pulse=r.i(k + "dying_pulse", b, "dying_pulse", 5),
    )


def _cls(r: Reader, b: Directive | None) -> TencentCloudClsConfig:
    k = "tencentcloud_cls."
    return TencentCloudClsConfig(
        enabled=r.b(k + "enabled", b, "enabled", False),
        label=r.s(k + "label", b, "label", ""),
        tag=r.s(k + "tag", b, "tag", ""),
        secret_id=r.s(k + "secret_id", b, "secret_id", ""),
        secret_key=r.s(k + "secret_key", b, "secret_key", ""),
        endpoint=r.s(k + "endpoint", b, "endpoint", ""),
        topic_id=r.s(k + "topic_id", b, "topic_id", ""),
        debug_logging=r.b(k + "debug_logging", b, "debug_logging", False),
        stat_heartbeat=r.b(k + "stat_heartbeat", b, "stat_heartbeat", True),
        heartbeat_ratio=r.i(k + "heartbeat_ratio", b, "heartbeat_ratio", 1),
        stat_streams=r.b(k + "stat_streams", b, "stat_streams", True),
        streams_ratio=r.i(k + "streams_ratio", b, "streams_ratio", 1),
    )


def _apm(r: Reader, b: Directive | None) -> TencentCloudApmConfig:
    k = "tencentcloud_apm."
    return TencentCloudApmConfig(
        enabled=r.b(k + "enabled", b, "enabled", False),
        team=r.s(k + "team", b, "team", ""),
        token=r.s(k + "token", b, "token", ""),
        endpoint=r.s(k + "endpoint", b, "endpoint", ""),
        service_name=r.s(k + "service_name", b, "service_name", "srs-server"),
        debug_logging=r.b(k + "debug_logging", b, "debug_logging", False),
    )
