"""Typed root-level config values with SRS 7.0's defaults (reference 2.3.1-2.3.10).

Everything is a frozen dataclass: the config is read once and handed down (DESIGN rule 4).
``Config.root`` keeps the raw (legacy-rewritten) tree for anything not typed yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from srs.config.parser import Directive
from srs.config.schema_vhost import VhostConfig
from srs.config.values import Endpoint

__all__ = [
    "AuthConfig",
    "BlackHoleConfig",
    "CircuitBreakerConfig",
    "Config",
    "ExporterConfig",
    "HeartbeatConfig",
    "HttpApiConfig",
    "HttpServerConfig",
    "HttpsConfig",
    "RawApiConfig",
    "RtcServerConfig",
    "RtcTcpConfig",
    "SipConfig",
    "SrtServerConfig",
    "StatsConfig",
    "StreamCasterConfig",
    "TencentCloudApmConfig",
    "TencentCloudClsConfig",
]

_KEY = "./conf/server.key"
_CRT = "./conf/server.crt"
# Endpoints are frozen, so module constants are safe dataclass defaults.
_HTTPS_API_LISTEN = Endpoint("", 1990)
_API_LISTEN = Endpoint("", 1985)
_SERVER_LISTEN = Endpoint("", 8080)
_EXPORTER_LISTEN = Endpoint("", 9972)


@dataclass(frozen=True, slots=True)
class HttpsConfig:
    enabled: bool = False
    listen: Endpoint = _HTTPS_API_LISTEN
    key: str = _KEY
    cert: str = _CRT


@dataclass(frozen=True, slots=True)
class RawApiConfig:
    enabled: bool = False
    allow_reload: bool = False
    # SRS compat: query/update are always off since SRS 4 (ossrs/srs#2653), whatever the file says.
    allow_query: bool = False
    allow_update: bool = False


@dataclass(frozen=True, slots=True)
class AuthConfig:
    enabled: bool = False
    username: str = ""
    password: str = ""


@dataclass(frozen=True, slots=True)
class HttpApiConfig:
    enabled: bool = False
    listen: Endpoint = _API_LISTEN
    # SRS compat: parsed but unused; CORS on every HTTP port follows http_server.crossdomain.
    crossdomain: bool = True
    raw_api: RawApiConfig = field(default_factory=RawApiConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    https: HttpsConfig = field(default_factory=HttpsConfig)


@dataclass(frozen=True, slots=True)
class HttpServerConfig:
    enabled: bool = False
    listen: Endpoint = _SERVER_LISTEN
    dir: str = "./objs/nginx/html"
    crossdomain: bool = True
    https: HttpsConfig = field(default_factory=lambda: HttpsConfig(listen=Endpoint("", 8088)))


@dataclass(frozen=True, slots=True)
class RtcTcpConfig:
    enabled: bool = False
    listen: int = 8000


@dataclass(frozen=True, slots=True)
class BlackHoleConfig:
    enabled: bool = False
    addr: str = ""


@dataclass(frozen=True, slots=True)
class RtcServerConfig:
    enabled: bool = False
    listen: int = 8000
    tcp: RtcTcpConfig = field(default_factory=RtcTcpConfig)
    protocol: str = "udp"  # "udp" | "tcp" | "all"
    candidate: str = "*"  # after $VAR expansion; "*" = auto-detect
    use_auto_detect_network_ip: bool = True
    ip_family: str = "ipv4"
    api_as_candidates: bool = True
    resolve_api_domain: bool = True
    keep_api_domain: bool = False
    ecdsa: bool = True
    encrypt: bool = True
    reuseport: int = 1
    merge_nalus: bool = False
    black_hole: BlackHoleConfig = field(default_factory=BlackHoleConfig)


@dataclass(frozen=True, slots=True)
class SrtServerConfig:
    enabled: bool = False
    listen: int = 10080
    maxbw: int = -1
    mss: int = 1500
    connect_timeout_ms: int = 3000
    peer_idle_timeout_ms: int = 10_000
    default_app: str = "live"
    peerlatency_ms: int = 0
    recvlatency_ms: int = 120
    latency_ms: int = 120
    tsbpdmode: bool = True
    tlpktdrop: bool = True
    sendbuf: int = 8192 * (1500 - 28)
    recvbuf: int = 8192 * (1500 - 28)
    payloadsize: int = 1316
    passphrase: str = ""
    pbkeylen: int = 0
    sei_filter: bool = True


@dataclass(frozen=True, slots=True)
class RtspAuthConfig:
    """Ours (SRS has no RTSP auth): ``rtsp_server.auth { enabled on; realm SRS; user NAME PASSWORD; }``."""

    enabled: bool = False
    realm: str = "SRS"
    users: tuple[tuple[str, str], ...] = ()  # (name, password), file order


@dataclass(frozen=True, slots=True)
class RtspServerConfig:
    """SRS 7.0.47+ ``rtsp_server``: the RTSP listener (TCP; our UDP media ports are ephemeral)."""

    enabled: bool = False
    listen: int = 554
    auth: RtspAuthConfig = field(default_factory=RtspAuthConfig)


@dataclass(frozen=True, slots=True)
class SipConfig:
    enabled: bool = True
    listen: int = 5060
    timeout_s: float = 60.0
    reinvite_s: float = 5.0
    candidate: str = "*"


@dataclass(frozen=True, slots=True)
class StreamCasterConfig:
    enabled: bool = False
    caster: str = ""  # "mpegts_over_udp" | "flv" | "gb28181"
    output: str = ""
    listen: int = 0
    sip: SipConfig = field(default_factory=SipConfig)
    file: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class HeartbeatConfig:
    enabled: bool = False
    interval_s: int = 10  # SRS reads it with atoi (full.conf's 9.3 is 9)
    url: str = "http://127.0.0.1:8085/api/v1/servers"
    device_id: str = ""
    summaries: bool = False
    ports: bool = False


@dataclass(frozen=True, slots=True)
class StatsConfig:
    enabled: bool = True
    network: int = 0
    disk: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExporterConfig:
    enabled: bool = False
    listen: Endpoint = _EXPORTER_LISTEN
    label: str = ""
    tag: str = ""
    # Ours, not in SRS: per-stream series (vhost/app/stream labels), off by default so the output
    # is SRS's; at most ``max_streams`` streams (the busiest by players) bound the cardinality.
    stream_metrics: bool = False
    max_streams: int = 100


@dataclass(frozen=True, slots=True)
class CircuitBreakerConfig:
    enabled: bool = True
    high_threshold: int = 90
    high_pulse: int = 2
    critical_threshold: int = 95
    critical_pulse: int = 1
    dying_threshold: int = 99
    dying_pulse: int = 5


@dataclass(frozen=True, slots=True)
class TencentCloudClsConfig:
    enabled: bool = False
    label: str = ""
    tag: str = ""
    secret_id: str = ""
    secret_key: str = ""
    endpoint: str = ""
    topic_id: str = ""
    debug_logging: bool = False
    stat_heartbeat: bool = True
    heartbeat_ratio: int = 1
    stat_streams: bool = True
    streams_ratio: int = 1


@dataclass(frozen=True, slots=True)
class TencentCloudApmConfig:
    enabled: bool = False
    team: str = ""
    token: str = ""
    endpoint: str = ""
    service_name: str = "srs-server"
    debug_logging: bool = False


_EMPTY_VHOSTS: Mapping[str, VhostConfig] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration, typed. Build it with :func:`srs.config.load_config`."""

    file: str | None = None
    root: Directive = field(default_factory=lambda: Directive("root", is_block=True))
    listen: tuple[Endpoint, ...] = ()
    chunk_size: int = 60_000
    server_id: str | None = None  # None: the app generates/persists one (pid path .pid -> .id)
    pid: str = "./objs/srs.pid"
    daemon: bool = True
    srs_log_tank: str = "file"  # "console" | "file"
    srs_log_level: str = "trace"
    srs_log_level_v2: str = ""
    srs_log_file: str = "./objs/srs.log"
    ff_log_dir: str = "./objs"
    ff_log_level: str = "info"
    utc_time: bool = False
    max_connections: int = 1000
    # Ours, not in SRS: the share of one core (percent) the live fan-out may spend to deliver
    # sooner than the merged write (mw_latency) would; 0 is SRS's merged write exactly.
    mw_cpu_budget: int = 20
    # Ours, not in SRS: peers (addresses or CIDR blocks) whose X-Forwarded-For / X-Real-IP name the
    # HTTP client's address; empty (the default) = SRS: the TCP peer is the client, headers ignored.
    trusted_proxies: tuple[str, ...] = ()
    pithy_print_ms: int = 10_000
    work_dir: str = "./"
    asprocess: bool = False
    grace_start_wait_ms: int = 2300
    grace_final_wait_ms: int = 3200
    force_grace_quit: bool = False
    empty_ip_ok: bool = True
    disable_daemon_for_docker: bool = True
    in_docker: bool = False
    inotify_auto_reload: bool = False
    auto_reload_for_docker: bool = True
    tcmalloc_release_rate: float = 0.8
    query_latest_version: bool = False
    first_wait_for_qlv_s: int = 300
    threads_interval_s: int = 5
    circuit_breaker: CircuitBreakerConfig = field(default_factory=CircuitBreakerConfig)
    tencentcloud_cls: TencentCloudClsConfig = field(default_factory=TencentCloudClsConfig)
    tencentcloud_apm: TencentCloudApmConfig = field(default_factory=TencentCloudApmConfig)
    is_full: bool = False
    env_only: bool = False
    http_api: HttpApiConfig = field(default_factory=HttpApiConfig)
    http_server: HttpServerConfig = field(default_factory=HttpServerConfig)
    rtc_server: RtcServerConfig = field(default_factory=RtcServerConfig)
    srt_server: SrtServerConfig = field(default_factory=SrtServerConfig)
    rtsp_server: RtspServerConfig = field(default_factory=RtspServerConfig)
    stream_casters: tuple[StreamCasterConfig, ...] = ()
    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)
    exporter: ExporterConfig = field(default_factory=ExporterConfig)
    vhosts: Mapping[str, VhostConfig] = field(default_factory=lambda: _EMPTY_VHOSTS)
    warnings: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()

    def vhost(self, name: str) -> VhostConfig | None:
        """The vhost named exactly ``name`` (no default-vhost fallback: the caller decides)."""
        return self.vhosts.get(name)

    @property
    def log_level(self) -> str:
        """The effective level: ``srs_log_level_v2`` wins when set, as in SRS."""
        return self.srs_log_level_v2 or self.srs_log_level
