"""SRS's ``check_config`` = ``check_normal_config`` + ``check_number_connections`` + is_full.

Names allowed in each block are SRS 7.0's lists (``srs_app_config.cpp`` ``check_normal_config``),
so a directive SRS calls "illegal" is refused here with the same words, plus file:line.
Not validated, as in SRS: ``threads``, ``circuit_breaker``, ``tencentcloud_*`` contents, vhost
``hds{}`` and ``bandcheck{}`` contents, ingest ``input{}``/``engine{}`` contents, and the free-form
transcode blocks (``perfile``, ``vfilter``, ``vparams``, ``aparams``).

Checks that need the host (open-file limit, local IP count) take the fact as an argument and are
skipped when it is None, keeping this module free of I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from srs.config.parser import Directive
from srs.config.schema import Config
from srs.util.errors import ConfigError

__all__ = ["ALLOWED", "check_config", "check_not_full", "check_number_connections"]

_LOG_DIRECTIVES = ("srs_log_tank", "srs_log_level", "srs_log_level_v2", "srs_log_file")

#: block path -> names SRS accepts inside it.
ALLOWED: Mapping[str, frozenset[str]] = {
    "": frozenset(
        {"listen", "pid", "chunk_size", "ff_log_dir", *_LOG_DIRECTIVES, "max_connections", "daemon"}
        | {"heartbeat", "tencentcloud_apm", "http_api", "stats", "vhost", "pithy_print_ms", "http_server"}
        | {
            "stream_caster",
            "rtc_server",
            "srt_server",
            "rtsp_server",
            "utc_time",
            "work_dir",
            "asprocess",
            "server_id",
        }
        | {"ff_log_level", "grace_final_wait", "force_grace_quit", "grace_start_wait", "empty_ip_ok"}
        | {"disable_daemon_for_docker", "inotify_auto_reload", "auto_reload_for_docker"}
        | {"tcmalloc_release_rate", "query_latest_version", "first_wait_for_qlv", "threads"}
        | {"circuit_breaker", "is_full", "in_docker", "tencentcloud_cls", "exporter"}
        | {"mw_cpu_budget"}  # ours, not in SRS (docs/USAGE.md, "Latency and merged writes")
        | {"trusted_proxies"}  # ours, not in SRS (docs/USAGE.md, "Client addresses behind a proxy")
    ),
    "http_api": frozenset({"enabled", "listen", "crossdomain", "raw_api", "auth", "https"}),
    "http_api.raw_api": frozenset({"enabled", "allow_reload", "allow_query", "allow_update"}),
    "http_api.auth": frozenset({"enabled", "username", "password"}),
    "http_server": frozenset({"enabled", "listen", "dir", "crossdomain", "https"}),
    "srt_server": frozenset(
        {"enabled", "listen", "maxbw", "mss", "latency", "recvlatency", "peerlatency", "connect_timeout"}
        | {"sendbuf", "recvbuf", "payloadsize", "default_app", "sei_filter", "mix_correct", "tlpktdrop"}
        # peer_idle_timeout: read by SRS's getter and documented (reference 2.3.6).
        | {"tsbpdmode", "passphrase", "pbkeylen", "peer_idle_timeout"}
    ),
    "rtsp_server": frozenset({"enabled", "listen", "auth"}),  # SRS 7.0.47+ (auth: ours)
    "rtsp_server.auth": frozenset({"enabled", "realm", "user"}),  # ours (docs/USAGE.md, RTSP)
    "heartbeat": frozenset({"enabled", "interval", "url", "device_id", "summaries", "ports"}),
    "stats": frozenset({"enabled", "network", "disk"}),
    "rtc_server": frozenset(
        {"enabled", "listen", "dir", "candidate", "ecdsa", "tcp", "encrypt", "reuseport", "merge_nalus"}
        | {"black_hole", "protocol", "ip_family", "api_as_candidates", "resolve_api_domain"}
        | {"keep_api_domain", "use_auto_detect_network_ip"}
    ),
    # stream_metrics, max_streams: ours (per-stream series), not in SRS.
    "exporter": frozenset({"enabled", "listen", "label", "tag", "stream_metrics", "max_streams"}),
    "stream_caster": frozenset({"enabled", "caster", "output", "listen", "sip"}),
    "stream_caster.sip": frozenset({"enabled", "listen", "timeout", "reinvite", "candidate"}),
    "vhost": frozenset(
        {"enabled", "chunk_size", "min_latency", "tcp_nodelay", "dvr", "ingest", "hls", "http_hooks"}
        | {"refer", "forward", "transcode", "bandcheck", "play", "publish", "cluster", "security"}
        | {"http_remux", "dash", "http_static", "hds", "exec", "in_ack_size", "out_ack_size", "rtc", "srt"}
        | {"rtsp"}
    ),
    "vhost.dvr": frozenset(
        {"enabled", "dvr_apply", "dvr_path", "dvr_plan", "dvr_duration", "dvr_wait_keyframe", "time_jitter"}
    ),
    "vhost.refer": frozenset({"enabled", "all", "publish", "play"}),
    "vhost.exec": frozenset({"enabled", "publish"}),
    "vhost.play": frozenset(
        {"time_jitter", "mix_correct", "atc", "atc_auto", "mw_latency", "gop_cache", "gop_cache_max_frames"}
        | {"queue_length", "send_min_interval", "reduce_sequence_header", "mw_msgs"}
    ),
    "vhost.cluster": frozenset(
        {"mode", "origin", "token_traverse", "vhost", "debug_srs_upnode", "coworkers", "origin_cluster"}
        | {"protocol", "follow_client"}
    ),
    "vhost.publish": frozenset(
        {"mr", "mr_latency", "firstpkt_timeout", "normal_timeout", "parse_sps", "try_annexb_first"}
        | {"kickoff_for_idle"}
    ),
    "vhost.ingest": frozenset({"enabled", "input", "ffmpeg", "engine"}),
    "vhost.http_static": frozenset({"enabled", "mount", "dir"}),
    "vhost.http_remux": frozenset(
        {"enabled", "mount", "fast_cache", "drop_if_not_match", "has_audio", "has_video", "guess_has_av"}
    ),
    "vhost.dash": frozenset(
        {"enabled", "dash_fragment", "dash_update_period", "dash_timeshift", "dash_path", "dash_mpd_file"}
        | {"dash_window_size", "dash_dispose", "dash_cleanup"}
    ),
    "vhost.hls": frozenset(
        {"enabled", "hls_entry_prefix", "hls_path", "hls_fragment", "hls_window", "hls_on_error"}
        | {"hls_storage", "hls_mount", "hls_td_ratio", "hls_aof_ratio", "hls_acodec", "hls_vcodec"}
        | {"hls_m3u8_file", "hls_ts_file", "hls_ts_floor", "hls_cleanup", "hls_nb_notify"}
        | {"hls_wait_keyframe", "hls_dispose", "hls_keys", "hls_fragments_per_key", "hls_key_file"}
        | {"hls_key_file_path", "hls_key_url", "hls_dts_directly", "hls_ctx", "hls_ts_ctx"}
        | {"hls_use_fmp4", "hls_fmp4_file", "hls_init_file"}  # SRS 7.0.51+ (HLS with fMP4 segments)
        | {"hls_ll", "hls_part"}  # ours: Low-Latency HLS
    ),
    "vhost.http_hooks": frozenset(
        {"enabled", "on_connect", "on_close", "on_publish", "on_unpublish", "on_play", "on_stop"}
        | {"on_dvr", "on_hls", "on_hls_notify"}
    ),
    "vhost.forward": frozenset({"enabled", "destination", "backend"}),
    "vhost.security": frozenset({"enabled", "deny", "allow"}),
    "vhost.transcode": frozenset({"enabled", "ffmpeg", "engine"}),
    "vhost.transcode.engine": frozenset(
        {"enabled", "vfilter", "vcodec", "vbitrate", "vfps", "vwidth", "vheight", "vthreads", "vprofile"}
        | {"vpreset", "vparams", "acodec", "abitrate", "asample_rate", "achannels", "aparams", "output"}
        | {"perfile", "iformat", "oformat"}
    ),
    "vhost.rtc": frozenset(
        {"enabled", "nack", "twcc", "nack_no_copy", "bframe", "aac", "stun_timeout", "stun_strict_check"}
        | {"dtls_role", "dtls_version", "drop_for_pt", "rtc_to_rtmp", "pli_for_rtmp", "rtmp_to_rtc"}
        # keep_avc_nalu_sei: SRS 7.0 (reference 2.3.11).
        | {"keep_bframe", "opus_bitrate", "aac_bitrate", "keep_avc_nalu_sei"}
    ),
    "vhost.srt": frozenset({"enabled", "srt_to_rtmp"}),
    "vhost.rtsp": frozenset({"enabled", "rtmp_to_rtsp"}),  # SRS 7.0.47+
}

# Blocks whose children are checked (SRS checks only the first http_api/http_server/... of a
# name, the blocks returned by root->get()).
_ROOT_FIRST_ONLY = (
    "http_api",
    "http_server",
    "srt_server",
    "rtsp_server",
    "heartbeat",
    "stats",
    "rtc_server",
    "exporter",
)
_NESTED = {"http_api": ("raw_api", "auth"), "rtsp_server": ("auth",)}
_VHOST_CHECKED = tuple(k.split(".", 1)[1] for k in ALLOWED if k.count(".") == 1 and k.startswith("vhost."))

RTMP_MIN_CHUNK_SIZE = 128
RTMP_MAX_CHUNK_SIZE = 65536


def _illegal(d: Directive, label: str) -> ConfigError:
    return ConfigError(f"illegal {label}", file=d.file, line=d.line, directive=d.name)


def _check_rtsp_auth(cfg: Config) -> None:
    """Ours: each ``rtsp_server.auth.user`` is ``NAME PASSWORD`` (no ``:`` in the name, as Basic
    needs), and an enabled auth needs a user (else every client would be refused)."""
    b = cfg.root.get("rtsp_server")
    auth = b.get("auth") if b is not None else None
    for u in auth.get_all("user") if auth is not None else ():
        if len(u.args) != 2 or not u.args[0] or ":" in u.args[0]:
            raise ConfigError(
                "rtsp_server.auth.user needs NAME PASSWORD (a name without ':')",
                file=u.file,
                line=u.line,
                directive="user",
            )
    a = cfg.rtsp_server.auth
    if cfg.rtsp_server.enabled and a.enabled and not a.users:
        where = auth if auth is not None else cfg.root
        raise ConfigError(
            "rtsp_server.auth is enabled without any user", file=where.file, line=where.line, directive="auth"
        )


def _check_names(block: Directive, key: str, label: str, of: str = "") -> None:
    allowed = ALLOWED[key]
    for c in block.children:
        if c.name not in allowed:
            raise _illegal(c, f"{label}.{c.name}{of}" if label else f"directive {c.name}")


def check_config(
    cfg: Config, *, max_open_files: int | None = None, local_ip_count: int | None = None
) -> list[str]:
    """``check_normal_config`` + ``check_number_connections``; returns warnings, raises ConfigError.

    ``is_full`` is not refused here: see :func:`check_not_full`.
    """
    warnings: list[str] = []
    root = cfg.root
    label_file = cfg.file or "<config>"

    if not cfg.env_only and not root.children:
        raise ConfigError("conf is empty", file=label_file)

    _check_names(root, "", "")
    for name in _ROOT_FIRST_ONLY:
        b = root.get(name)
        if b is None:
            continue
        # SRS compat: the http_server message says "http_stream" (its pre-2.0 name).
        _check_names(b, name, "http_stream" if name == "http_server" else name)
        for sub in _NESTED.get(name, ()):
            for s in b.get_all(sub):
                _check_names(s, f"{name}.{sub}", f"{name}.{sub}")
    _check_rtsp_auth(cfg)

    # listen: required (except env-only), each ip an IP literal and port > 0.
    listen_d = root.get("listen")
    if not cfg.env_only and not cfg.listen:
        # SRS says just "listen requires params"; without a listen directive we point at the
        # file's first directive, so a bare include fragment (conf/include.vhost.conf) is located.
        first = listen_d or next((d for d in root.children if d.file == label_file), None)
        raise ConfigError("listen requires params", file=label_file, line=first.line if first else None)
    for ep in cfg.listen:
        where = listen_d if listen_d is not None else root
        if not ep.host_is_valid():
            raise ConfigError(
                f"listen.ip={ep.host} is invalid", file=where.file, line=where.line, directive="listen"
            )
        if ep.port <= 0 or ep.port > 65535:
            raise ConfigError(
                f"listen.port={ep.port} is invalid", file=where.file, line=where.line, directive="listen"
            )

    if cfg.heartbeat.interval_s <= 0:
        raise _at(root, "heartbeat", f"invalid heartbeat.interval={cfg.heartbeat.interval_s}")
    if cfg.stats.network < 0:
        raise _at(root, "stats", f"invalid stats.network={cfg.stats.network}")
    if local_ip_count is not None and cfg.stats.network >= local_ip_count:
        raise _at(root, "stats", f"invalid stats.network={cfg.stats.network} of {local_ip_count}")

    warnings.extend(_check_http(cfg, root))
    if cfg.exporter.max_streams <= 0:
        raise _at(root, "exporter", f"invalid exporter.max_streams={cfg.exporter.max_streams}, must be > 0")

    if not 0 <= cfg.mw_cpu_budget <= 100:
        raise _at(
            root, "mw_cpu_budget", f"invalid mw_cpu_budget={cfg.mw_cpu_budget}, must be 0..100 (percent)"
        )

    for net in cfg.trusted_proxies:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise _at(
                root, "trusted_proxies", f"invalid trusted_proxies {net!r}: not an address or CIDR"
            ) from None

    if cfg.srs_log_tank == "file" and not cfg.srs_log_file:
        raise ConfigError("log file is empty", file=label_file)

    for caster in root.get_all("stream_caster"):
        _check_names(caster, "stream_caster", "stream_caster")
        for sip in caster.get_all("sip"):
            _check_names(sip, "stream_caster.sip", "stream_caster.sip")

    for vhost in root.get_all("vhost"):
        _check_vhost(vhost)
        for hls in vhost.get_all("hls"):
            for h in hls.children:
                if h.name in ("hls_storage", "hls_mount"):
                    warnings.append(f"{h.where}: vhost.hls.{h.name}: HLS RAM is removed in SRS3+, ignored")

    _check_vhost_semantics(cfg, root)

    if not RTMP_MIN_CHUNK_SIZE <= cfg.chunk_size <= RTMP_MAX_CHUNK_SIZE:
        warnings.append(
            f"{_where(root, 'chunk_size', label_file)}: chunk_size={cfg.chunk_size} should be in "
            f"[{RTMP_MIN_CHUNK_SIZE}, {RTMP_MAX_CHUNK_SIZE}]"
        )
    for v in cfg.vhosts.values():
        if not RTMP_MIN_CHUNK_SIZE <= v.chunk_size <= RTMP_MAX_CHUNK_SIZE:
            warnings.append(
                f"{v.file}:{v.line}: chunk_size={v.chunk_size} of {v.name} should be in "
                f"[{RTMP_MIN_CHUNK_SIZE}, {RTMP_MAX_CHUNK_SIZE}]"
            )

    if cfg.asprocess and cfg.daemon:
        raise _at(root, "asprocess", "daemon conflicts with asprocess")

    check_number_connections(cfg, max_open_files=max_open_files)
    return warnings


def check_number_connections(cfg: Config, *, max_open_files: int | None = None) -> None:
    """``max_connections`` > 0, and (when the limit is known) below ``ulimit -n`` - 128."""
    if cfg.max_connections <= 0:
        raise _at(cfg.root, "max_connections", f"max_connections={cfg.max_connections} is invalid")
    if max_open_files is not None:
        total = cfg.max_connections + 128  # SRS reserves some fds
        if total >= max_open_files:
            raise _at(
                cfg.root,
                "max_connections",
                f"{total} exceed max open files={max_open_files}, please run: ulimit -HSn "
                f"{max(10000, cfg.max_connections * 10)}",
            )


def check_not_full(cfg: Config) -> None:
    """SRS refuses to *run* a config marked ``is_full on`` (full.conf): "never use full.conf".

    SRS does this inside ``check_config``, so ``srs -t -c conf/full.conf`` fails too. We keep it a
    separate step so full.conf can be loaded and checked (tests, tooling); the app calls this
    before starting and for ``-t``.
    """
    if cfg.is_full:
        d = cfg.root.get("is_full")
        raise ConfigError(
            f"never use full.conf({cfg.file or ''})",
            file=d.file if d else cfg.file,
            line=d.line if d else None,
            directive="is_full",
        )


def _where(root: Directive, name: str, fallback: str) -> str:
    d = root.get(name)
    return d.where if d is not None else fallback


def _at(root: Directive, name: str, message: str) -> ConfigError:
    d = root.get(name)
    if d is None:
        return ConfigError(message, file=root.file)
    return ConfigError(message, file=d.file, line=d.line, directive=name)


def _check_http(cfg: Config, root: Directive) -> list[str]:
    api, server = cfg.http_api, cfg.http_server
    api_listen, server_listen = str(api.listen), str(server.listen)
    warnings: list[str] = []
    # SRS compat: SRS only refuses an empty listen here (include_test/include_1.conf has
    # "listen xxx;" and passes -t); binding fails later. We warn now, with the location.
    for name, block in (("http_api", api), ("http_server", server)):
        if block.enabled and not 0 < block.listen.port <= 65535:
            warnings.append(
                f"{_where(root, name, '<config>')}: {name}.listen={block.listen} is not a valid port"
            )
    apis, servers = str(api.https.listen), str(server.https.listen)
    if api_listen == server_listen and apis != servers:
        raise _at(root, "http_api", f"for same http, https api({apis}) != server({servers})")
    if apis == servers and api_listen != server_listen:
        raise _at(root, "http_api", f"for same https, http api({api_listen}) != server({server_listen})")
    if api.https.enabled and not api.enabled:
        raise _at(root, "http_api", "https api depends on http")
    if server.https.enabled and not server.enabled:
        raise _at(root, "http_server", "https stream depends on http")
    return warnings


def _check_vhost(vhost: Directive) -> None:
    of = f" of {vhost.arg0}"
    for c in vhost.children:
        if c.name not in ALLOWED["vhost"]:
            raise _illegal(c, f"vhost.{c.name}{of}")
        key = f"vhost.{c.name}"
        if c.name in _VHOST_CHECKED:
            for m in c.children:
                if m.name not in ALLOWED[key]:
                    raise _illegal(m, f"vhost.{c.name}.{m.name}{of}")
        if c.name == "transcode":
            for engine in c.get_all("engine"):
                for e in engine.children:
                    if e.name not in ALLOWED["vhost.transcode.engine"]:
                        raise _illegal(e, f"vhost.transcode.engine.{e.name}{of}")


def _check_vhost_semantics(cfg: Config, root: Directive) -> None:
    for vhost in root.get_all("vhost"):
        name = vhost.arg0
        remuxes = vhost.get_all("http_remux")
        if len(remuxes) > 1:
            d = remuxes[1]
            raise ConfigError(
                f"vhost.http_remux only one but count={len(remuxes)} of {name}",
                file=d.file,
                line=d.line,
                directive="http_remux",
            )
        # SRS scans the raw directives: literal "enabled on" and a mount ending in .ts.
        hls_on = any(m.name == "enabled" and m.arg0 == "on" for h in vhost.get_all("hls") for m in h.children)
        ts_remux = None
        for h in remuxes:
            on = False
            for m in h.children:
                if m.name == "enabled" and m.arg0 == "on":
                    on = True
                if on and m.name == "mount" and m.arg0.endswith(".ts"):
                    ts_remux = h
        if hls_on and ts_remux is not None:
            raise ConfigError(
                f"vhost.hls conflict with vhost.http-ts of {name}",
                file=ts_remux.file,
                line=ts_remux.line,
                directive="http_remux",
            )
        ids: set[str] = set()
        for ingest in vhost.get_all("ingest"):
            if ingest.arg0 in ids:
                raise ConfigError(
                    f"ingest id={ingest.arg0} exists for {name}",
                    file=ingest.file,
                    line=ingest.line,
                    directive="ingest",
                )
            ids.add(ingest.arg0)

    for v in cfg.vhosts.values():
        if v.forward.enabled and v.publish.kickoff_for_idle_s > 0:
            raise ConfigError(
                "vhost.forward conflicts with vhost.publish.kickoff_for_idle",
                file=v.file,
                line=v.line,
                directive="forward",
            )
