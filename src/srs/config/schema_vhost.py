"""Typed ``vhost <name> { ... }`` values with SRS 7.0's defaults (reference 2.3.11).

Defaults are the code's (``SrsConfig::get_*``), not full.conf's comments (reference gotcha 7).
Units are in the field names: ``*_ms`` milliseconds, ``*_s`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ClusterConfig",
    "DashConfig",
    "DvrConfig",
    "EngineConfig",
    "ExecConfig",
    "ForwardConfig",
    "HdsConfig",
    "HlsConfig",
    "HttpHooksConfig",
    "HttpRemuxConfig",
    "HttpStaticConfig",
    "IngestConfig",
    "PlayConfig",
    "PublishConfig",
    "RefererConfig",
    "RtcVhostConfig",
    "SecurityConfig",
    "SecurityRule",
    "SrtVhostConfig",
    "TranscodeConfig",
    "VhostConfig",
]

_NGINX_HTML = "./objs/nginx/html"


@dataclass(frozen=True, slots=True)
class PlayConfig:
    """``play {}``: consumer-side tuning of RTMP/HTTP-FLV players."""

    gop_cache: bool = True
    gop_cache_max_frames: int = 2500
    queue_length_ms: int = 30_000
    time_jitter: str = "full"  # "full" | "zero" | "off"
    mix_correct: bool = False
    atc: bool = False
    atc_auto: bool = False
    mw_latency_ms: int = 350
    # SRS get_mw_msgs(): 8, 0 when min_latency is on, at most 128.
    mw_msgs: int = 8
    send_min_interval_ms: float = 0.0
    reduce_sequence_header: bool = False


@dataclass(frozen=True, slots=True)
class PublishConfig:
    """``publish {}``: publisher-side tuning."""

    mr: bool = False
    mr_latency_ms: int = 350
    firstpkt_timeout_ms: int = 20_000
    normal_timeout_ms: int = 5_000
    parse_sps: bool = True
    try_annexb_first: bool = True
    kickoff_for_idle_s: float = 0.0


@dataclass(frozen=True, slots=True)
class HttpRemuxConfig:
    """``http_remux {}``: HTTP-FLV/TS/AAC/MP3 live streaming of this vhost."""

    enabled: bool = False
    mount: str = "[vhost]/[app]/[stream].flv"
    fast_cache_s: float = 0.0
    drop_if_not_match: bool = True
    has_audio: bool = True
    has_video: bool = True
    guess_has_av: bool = True


@dataclass(frozen=True, slots=True)
class RefererConfig:
    """``refer {}``: Referer/pageUrl hotlink protection (domain suffix lists)."""

    enabled: bool = False
    all: tuple[str, ...] = ()
    publish: tuple[str, ...] = ()
    play: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SecurityRule:
    """One ``allow|deny publish|play all|<ip>|<cidr>;`` line."""

    action: str  # "allow" | "deny"
    method: str  # "publish" | "play"
    entry: str  # "all", an IP or an IPv4 CIDR
    file: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    enabled: bool = False
    rules: tuple[SecurityRule, ...] = ()


@dataclass(frozen=True, slots=True)
class HttpStaticConfig:
    enabled: bool = False
    mount: str = "[vhost]/"
    dir: str = _NGINX_HTML


@dataclass(frozen=True, slots=True)
class HttpHooksConfig:
    """``http_hooks {}``: each hook is a list of URLs."""

    enabled: bool = False
    on_connect: tuple[str, ...] = ()
    on_close: tuple[str, ...] = ()
    on_publish: tuple[str, ...] = ()
    on_unpublish: tuple[str, ...] = ()
    on_play: tuple[str, ...] = ()
    on_stop: tuple[str, ...] = ()
    on_dvr: tuple[str, ...] = ()
    on_hls: tuple[str, ...] = ()
    on_hls_notify: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HlsConfig:
    """``hls {}`` (field names drop SRS's ``hls_`` prefix)."""

    enabled: bool = False
    fragment_s: float = 10.0
    td_ratio: float = 1.0
    aof_ratio: float = 2.1
    window_s: float = 60.0
    on_error: str = "continue"
    path: str = _NGINX_HTML
    m3u8_file: str = "[app]/[stream].m3u8"
    ts_file: str = "[app]/[stream]-[seq].ts"
    entry_prefix: str = ""
    acodec: str = "aac"
    vcodec: str = "h264"
    cleanup: bool = True
    dispose_s: int = 120
    wait_keyframe: bool = True
    ts_floor: bool = False
    nb_notify: int = 64
    ctx: bool = True
    ts_ctx: bool = True
    keys: bool = False
    fragments_per_key: int = 5
    key_file: str = "[app]/[stream]-[seq].key"
    key_file_path: str = _NGINX_HTML  # SRS: defaults to hls_path
    key_url: str = _NGINX_HTML  # SRS: defaults to hls_path
    dts_directly: bool = True
    use_fmp4: bool = False  # SRS 7.0.51+: fMP4 segments instead of MPEG-TS
    fmp4_file: str = "[app]/[stream]-[seq].m4s"
    init_file: str = "[app]/[stream]-init.mp4"  # the init segment, beside the playlist
    ll: bool = False  # ours: Low-Latency HLS (parts, blocking reload), served from memory
    part_s: float = 0.2  # ours: the part target duration


@dataclass(frozen=True, slots=True)
class HdsConfig:
    enabled: bool = False
    fragment_s: float = 10.0
    window_s: float = 60.0
    path: str = _NGINX_HTML


@dataclass(frozen=True, slots=True)
class DashConfig:
    enabled: bool = False
    fragment_s: float = 10.0
    update_period_s: float = 5.0
    timeshift_s: float = 300.0
    path: str = _NGINX_HTML
    mpd_file: str = "[app]/[stream].mpd"
    window_size: int = 5
    cleanup: bool = True
    dispose_s: int = 120


@dataclass(frozen=True, slots=True)
class DvrConfig:
    enabled: bool = False
    apply: tuple[str, ...] = ("all",)  # "all" or "app/stream" entries
    plan: str = "session"  # "session" | "segment"
    path: str = "./objs/nginx/html/[app]/[stream].[timestamp].flv"
    duration_s: int = 30
    wait_keyframe: bool = True
    time_jitter: str = "full"


@dataclass(frozen=True, slots=True)
class ForwardConfig:
    enabled: bool = False
    destination: tuple[str, ...] = ()
    backend: str = ""


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    mode: str = "local"  # "local" origin | "remote" edge
    origin: tuple[str, ...] = ()
    token_traverse: bool = False
    vhost: str = "[vhost]"
    debug_srs_upnode: bool = True
    origin_cluster: bool = False
    coworkers: tuple[str, ...] = ()
    protocol: str = "rtmp"  # "rtmp" | "flv" | "flvs"
    follow_client: bool = False

    @property
    def is_edge(self) -> bool:
        return self.mode == "remote"


@dataclass(frozen=True, slots=True)
class ExecConfig:
    enabled: bool = False
    publish: tuple[tuple[str, ...], ...] = ()  # one argv per ``publish`` line


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """A transcode/ingest ``engine [name] {}``; free-form blocks kept as (option, value) pairs."""

    id: str = ""
    enabled: bool = False
    iformat: str = "flv"
    perfile: tuple[tuple[str, str], ...] = ()
    vfilter: tuple[tuple[str, str], ...] = ()
    vcodec: str = ""
    vbitrate: int = 0
    vfps: float = 0.0
    vwidth: int = 0
    vheight: int = 0
    vthreads: int = 1
    vprofile: str = ""
    vpreset: str = ""
    vparams: tuple[tuple[str, str], ...] = ()
    acodec: str = ""
    abitrate: int = 0
    asample_rate: int = 0
    achannels: int = 0
    aparams: tuple[tuple[str, str], ...] = ()
    oformat: str = "flv"
    output: str = ""


@dataclass(frozen=True, slots=True)
class IngestConfig:
    id: str = ""
    enabled: bool = False
    input_type: str = "file"  # "file" | "stream" | "device"
    input_url: str = ""
    ffmpeg: str = ""
    engines: tuple[EngineConfig, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class TranscodeConfig:
    scope: str = ""  # "" (vhost), "app" or "app/stream"
    enabled: bool = False
    ffmpeg: str = ""
    engines: tuple[EngineConfig, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class RtcVhostConfig:
    """``rtc {}`` plus the RTC view of vhost settings that default differently for RTC."""

    enabled: bool = False
    nack: bool = True
    nack_no_copy: bool = True
    twcc: bool = True
    stun_timeout_s: int = 30
    stun_strict_check: bool = False
    dtls_role: str = "passive"
    dtls_version: str = "auto"
    drop_for_pt: int = 0
    rtmp_to_rtc: bool = False
    keep_bframe: bool = False
    keep_avc_nalu_sei: bool = True
    opus_bitrate: int = 48_000
    rtc_to_rtmp: bool = False
    pli_for_rtmp_s: float = 6.0
    aac_bitrate: int = 48_000
    # For RTC consumers min_latency defaults on and mw_latency is forced 0.
    min_latency: bool = True
    mw_latency_ms: int = 0
    mw_msgs: int = 0  # get_mw_msgs(realtime, rtc): RTC 1, but realtime (the RTC default) 0


@dataclass(frozen=True, slots=True)
class SrtVhostConfig:
    enabled: bool = False
    srt_to_rtmp: bool = True


@dataclass(frozen=True, slots=True)
class RtspVhostConfig:
    """SRS 7.0.47+ vhost ``rtsp``: ``rtmp_to_rtsp`` lets RTSP players play RTMP/SRT/WebRTC streams."""

    enabled: bool = False
    rtmp_to_rtsp: bool = False


@dataclass(frozen=True, slots=True)
class VhostConfig:
    """One ``vhost`` with every setting resolved (env, defaults, global fallbacks)."""

    name: str
    enabled: bool = True
    min_latency: bool = False
    tcp_nodelay: bool = False
    chunk_size: int = 60_000  # the vhost's value, else the global one
    in_ack_size: int = 0
    out_ack_size: int = 2_500_000
    play: PlayConfig = field(default_factory=PlayConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    http_remux: HttpRemuxConfig = field(default_factory=HttpRemuxConfig)
    refer: RefererConfig = field(default_factory=RefererConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    http_static: HttpStaticConfig = field(default_factory=HttpStaticConfig)
    http_hooks: HttpHooksConfig = field(default_factory=HttpHooksConfig)
    hls: HlsConfig = field(default_factory=HlsConfig)
    hds: HdsConfig = field(default_factory=HdsConfig)
    dash: DashConfig = field(default_factory=DashConfig)
    dvr: DvrConfig = field(default_factory=DvrConfig)
    forward: ForwardConfig = field(default_factory=ForwardConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    exec: ExecConfig = field(default_factory=ExecConfig)
    ingests: tuple[IngestConfig, ...] = ()
    transcodes: tuple[TranscodeConfig, ...] = ()
    rtc: RtcVhostConfig = field(default_factory=RtcVhostConfig)
    srt: SrtVhostConfig = field(default_factory=SrtVhostConfig)
    rtsp: RtspVhostConfig = field(default_factory=RtspVhostConfig)
    file: str = ""
    line: int = 0
