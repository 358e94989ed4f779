"""Read one ``vhost {}`` directive into a :class:`VhostConfig` (SRS's vhost getters)."""

from __future__ import annotations

from srs.config.parser import Directive
from srs.config.reader import Reader
from srs.config.schema_vhost import (
    ClusterConfig,
    DashConfig,
    DvrConfig,
    EngineConfig,
    ExecConfig,
    ForwardConfig,
    HdsConfig,
    HlsConfig,
    HttpHooksConfig,
    HttpRemuxConfig,
    HttpStaticConfig,
    IngestConfig,
    PlayConfig,
    PublishConfig,
    RefererConfig,
    RtcVhostConfig,
    RtspVhostConfig,
    SecurityConfig,
    SecurityRule,
    SrtVhostConfig,
    TranscodeConfig,
    VhostConfig,
)
from srs.config.values import atof, atoi, bool_off, bool_on, time_jitter

__all__ = ["MW_MSGS_MAX", "read_vhost"]

#: SRS_PERF_MW_MSGS: the most messages one merged write waits for.
MW_MSGS_MAX = 128

_HOOKS = ("on_connect", "on_close", "on_publish", "on_unpublish", "on_play", "on_stop", "on_dvr", "on_hls")


def read_vhost(r: Reader, v: Directive, global_chunk_size: int) -> VhostConfig:
    name = v.arg0
    # SRS compat: vhost.enabled is not env-overridable; a vhost with "enabled off" refuses clients.
    enabled_d = v.get("enabled")
    enabled = bool_on(enabled_d.arg0 if enabled_d is not None and enabled_d.arg0 else None)
    min_latency = r.b("vhost.min_latency", v, "min_latency", False)
    chunk_value, _ = r.raw("vhost.chunk_size", v, "chunk_size")
    chunk_size = global_chunk_size if chunk_value is None else r.i("vhost.chunk_size", v, "chunk_size", 0)
    return VhostConfig(
        name=name,
        enabled=enabled,
        min_latency=min_latency,
        tcp_nodelay=r.b("vhost.tcp_nodelay", v, "tcp_nodelay", False),
        chunk_size=chunk_size,
        in_ack_size=r.i("vhost.in_ack_size", v, "in_ack_size", 0),
        out_ack_size=r.i("vhost.out_ack_size", v, "out_ack_size", 2_500_000),
        play=_play(r, v.get("play"), min_latency),
        publish=_publish(r, v.get("publish")),
        http_remux=_http_remux(r, v.get("http_remux")),
        refer=_refer(v.get("refer")),
        security=_security(v.get("security")),
        http_static=_http_static(r, v.get("http_static")),
        http_hooks=_hooks(r, v.get("http_hooks")),
        hls=_hls(r, v.get("hls")),
        hds=_hds(r, v.get("hds")),
        dash=_dash(r, v.get("dash")),
        dvr=_dvr(r, v.get("dvr")),
        forward=_forward(v.get("forward")),
        cluster=_cluster(v.get("cluster")),
        exec=_exec(v.get("exec")),
        ingests=tuple(_ingest(i) for i in v.get_all("ingest")),
        transcodes=tuple(_transcode(t) for t in v.get_all("transcode")),
        rtc=_rtc(r, v),
        srt=_srt(r, v.get("srt")),
        rtsp=_rtsp(r, v.get("rtsp")),
        file=v.file,
        line=v.line,
    )


def _play(r: Reader, p: Directive | None, min_latency: bool) -> PlayConfig:
    # get_mw_msgs(): configured value capped at 128; default 8, or 0 in realtime (min_latency).
    mw_default = 0 if min_latency else 8
    mw_msgs = min(r.i("vhost.play.mw_msgs", p, "mw_msgs", mw_default), MW_MSGS_MAX)
    return PlayConfig(
        gop_cache=r.b("vhost.play.gop_cache", p, "gop_cache", True),
        gop_cache_max_frames=r.i("vhost.play.gop_cache_max_frames", p, "gop_cache_max_frames", 2500),
        queue_length_ms=r.i("vhost.play.queue_length", p, "queue_length", 30_000, 1000),
        time_jitter=time_jitter(r.raw("vhost.play.time_jitter", p, "time_jitter")[0]),
        mix_correct=r.b("vhost.play.mix_correct", p, "mix_correct", False),
        atc=r.b("vhost.play.atc", p, "atc", False),
        atc_auto=r.b("vhost.play.atc_auto", p, "atc_auto", False),
        mw_latency_ms=r.i("vhost.play.mw_latency", p, "mw_latency", 350),
        mw_msgs=mw_msgs,
        send_min_interval_ms=r.f("vhost.play.send_min_interval", p, "send_min_interval", 0.0),
        reduce_sequence_header=r.b("vhost.play.reduce_sequence_header", p, "reduce_sequence_header", False),
    )


def _publish(r: Reader, p: Directive | None) -> PublishConfig:
    return PublishConfig(
        mr=r.b("vhost.publish.mr", p, "mr", False),
        mr_latency_ms=r.i("vhost.publish.mr_latency", p, "mr_latency", 350),
        firstpkt_timeout_ms=r.i("vhost.publish.firstpkt_timeout", p, "firstpkt_timeout", 20_000),
        normal_timeout_ms=r.i("vhost.publish.normal_timeout", p, "normal_timeout", 5_000),
        parse_sps=r.b("vhost.publish.parse_sps", p, "parse_sps", True),
        try_annexb_first=r.b("vhost.publish.try_annexb_first", p, "try_annexb_first", True),
        kickoff_for_idle_s=r.f("vhost.publish.kickoff_for_idle", p, "kickoff_for_idle", 0.0),
    )


def _http_remux(r: Reader, h: Directive | None) -> HttpRemuxConfig:
    k = "vhost.http_remux."
    return HttpRemuxConfig(
        enabled=r.b(k + "enabled", h, "enabled", False),
        mount=r.s(k + "mount", h, "mount", "[vhost]/[app]/[stream].flv"),
        fast_cache_s=r.f(k + "fast_cache", h, "fast_cache", 0.0),
        drop_if_not_match=r.b(k + "drop_if_not_match", h, "drop_if_not_match", True),
        has_audio=r.b(k + "has_audio", h, "has_audio", True),
        has_video=r.b(k + "has_video", h, "has_video", True),
        guess_has_av=r.b(k + "guess_has_av", h, "guess_has_av", True),
    )


def _arg0(block: Directive | None, name: str) -> str | None:
    d = block.get(name) if block is not None else None
    return d.arg0 if d is not None and d.arg0 else None


def _args(block: Directive | None, name: str) -> tuple[str, ...]:
    d = block.get(name) if block is not None else None
    return d.args if d is not None else ()


def _refer(b: Directive | None) -> RefererConfig:
    # Not env-overridable (reference 2.2).
    return RefererConfig(
        enabled=bool_off(_arg0(b, "enabled")),
        all=_args(b, "all"),
        publish=_args(b, "publish"),
        play=_args(b, "play"),
    )


def _security(b: Directive | None) -> SecurityConfig:
    rules = tuple(
        SecurityRule(
            d.name, d.args[0] if d.args else "", d.args[1] if len(d.args) > 1 else "", d.file, d.line
        )
        for d in (b.children if b is not None else ())
        if d.name in ("allow", "deny")
    )
    return SecurityConfig(enabled=bool_off(_arg0(b, "enabled")), rules=rules)


def _http_static(r: Reader, b: Directive | None) -> HttpStaticConfig:
    k = "vhost.http_static."
    return HttpStaticConfig(
        enabled=r.b(k + "enabled", b, "enabled", False),
        mount=r.s(k + "mount", b, "mount", "[vhost]/"),
        dir=r.s(k + "dir", b, "dir", "./objs/nginx/html"),
    )


def _hooks(r: Reader, b: Directive | None) -> HttpHooksConfig:
    k = "vhost.http_hooks."
    urls = {h: r.words(k + h, b, h) for h in (*_HOOKS, "on_hls_notify")}
    return HttpHooksConfig(enabled=r.b(k + "enabled", b, "enabled", False), **urls)


def _hls(r: Reader, b: Directive | None) -> HlsConfig:
    k = "vhost.hls."
    path = r.s(k + "hls_path", b, "hls_path", "./objs/nginx/html")
    return HlsConfig(
        enabled=r.b(k + "enabled", b, "enabled", False),
        fragment_s=r.f(k + "hls_fragment", b, "hls_fragment", 10.0),
        td_ratio=r.f(k + "hls_td_ratio", b, "hls_td_ratio", 1.0),
        aof_ratio=r.f(k + "hls_aof_ratio", b, "hls_aof_ratio", 2.1),
        window_s=r.f(k + "hls_window", b, "hls_window", 60.0),
        on_error=r.s(k + "hls_on_error", b, "hls_on_error", "continue"),
        path=path,
        m3u8_file=r.s(k + "hls_m3u8_file", b, "hls_m3u8_file", "[app]/[stream].m3u8"),
        ts_file=r.s(k + "hls_ts_file", b, "hls_ts_file", "[app]/[stream]-[seq].ts"),
        entry_prefix=r.s(k + "hls_entry_prefix", b, "hls_entry_prefix", ""),
        acodec=r.s(k + "hls_acodec", b, "hls_acodec", "aac"),
        vcodec=r.s(k + "hls_vcodec", b, "hls_vcodec", "h264"),
        cleanup=r.b(k + "hls_cleanup", b, "hls_cleanup", True),
        dispose_s=r.i(k + "hls_dispose", b, "hls_dispose", 120),
        wait_keyframe=r.b(k + "hls_wait_keyframe", b, "hls_wait_keyframe", True),
        ts_floor=r.b(k + "hls_ts_floor", b, "hls_ts_floor", False),
        nb_notify=r.i(k + "hls_nb_notify", b, "hls_nb_notify", 64),
        ctx=r.b(k + "hls_ctx", b, "hls_ctx", True),
        ts_ctx=r.b(k + "hls_ts_ctx", b, "hls_ts_ctx", True),
        keys=r.b(k + "hls_keys", b, "hls_keys", False),
        fragments_per_key=r.i(k + "hls_fragments_per_key", b, "hls_fragments_per_key", 5),
        key_file=r.s(k + "hls_key_file", b, "hls_key_file", "[app]/[stream]-[seq].key"),
        key_file_path=r.s(k + "hls_key_file_path", b, "hls_key_file_path", path),
        key_url=r.s(k + "hls_key_url", b, "hls_key_url", path),
        dts_directly=r.b(k + "hls_dts_directly", b, "hls_dts_directly", True),
        use_fmp4=r.b(k + "hls_use_fmp4", b, "hls_use_fmp4", False),
        fmp4_file=r.s(k + "hls_fmp4_file", b, "hls_fmp4_file", "[app]/[stream]-[seq].m4s"),
        init_file=r.s(k + "hls_init_file", b, "hls_init_file", "[app]/[stream]-init.mp4"),
        ll=r.b(k + "hls_ll", b, "hls_ll", False),
        part_s=r.f(k + "hls_part", b, "hls_part", 0.2),
    )


def _hds(r: Reader, b: Directive | None) -> HdsConfig:
    k = "vhost.hds."
    return HdsConfig(
        enabled=r.b(k + "enabled", b, "enabled", False),
        fragment_s=r.f(k + "hds_fragment", b, "hds_fragment", 10.0),
        window_s=r.f(k + "hds_window", b, "hds_window", 60.0),
        path=r.s(k + "hds_path", b, "hds_path", "./objs/nginx/html"),
    )


def _dash(r: Reader, b: Directive | None) -> DashConfig:
    k = "vhost.dash."
    return DashConfig(
        enabled=r.b(k + "enabled", b, "enabled", False),
        fragment_s=r.f(k + "dash_fragment", b, "dash_fragment", 10.0),
        update_period_s=r.f(k + "dash_update_period", b, "dash_update_period", 5.0),
        timeshift_s=r.f(k + "dash_timeshift", b, "dash_timeshift", 300.0),
        path=r.s(k + "dash_path", b, "dash_path", "./objs/nginx/html"),
        mpd_file=r.s(k + "dash_mpd_file", b, "dash_mpd_file", "[app]/[stream].mpd"),
        window_size=r.i(k + "dash_window_size", b, "dash_window_size", 5),
        cleanup=r.b(k + "dash_cleanup", b, "dash_cleanup", True),
        dispose_s=r.i(k + "dash_dispose", b, "dash_dispose", 120),
    )


def _dvr(r: Reader, b: Directive | None) -> DvrConfig:
    k = "vhost.dvr."
    apply = _args(b, "dvr_apply") or ("all",)  # dvr_apply is not env-overridable
    return DvrConfig(
        enabled=r.b(k + "enabled", b, "enabled", False),
        apply=apply,
        plan=r.s(k + "dvr_plan", b, "dvr_plan", "session"),
        path=r.s(k + "dvr_path", b, "dvr_path", "./objs/nginx/html/[app]/[stream].[timestamp].flv"),
        duration_s=r.i(k + "dvr_duration", b, "dvr_duration", 30),
        wait_keyframe=r.b(k + "dvr_wait_keyframe", b, "dvr_wait_keyframe", True),
        time_jitter=time_jitter(r.raw(k + "time_jitter", b, "time_jitter")[0]),
    )


def _forward(b: Directive | None) -> ForwardConfig:
    return ForwardConfig(
        enabled=bool_off(_arg0(b, "enabled")),
        destination=_args(b, "destination"),
        backend=_arg0(b, "backend") or "",
    )


def _cluster(b: Directive | None) -> ClusterConfig:
    return ClusterConfig(
        mode=_arg0(b, "mode") or "local",
        origin=_args(b, "origin"),
        token_traverse=bool_off(_arg0(b, "token_traverse")),
        vhost=_arg0(b, "vhost") or "[vhost]",
        debug_srs_upnode=bool_on(_arg0(b, "debug_srs_upnode")),
        origin_cluster=bool_off(_arg0(b, "origin_cluster")),
        coworkers=_args(b, "coworkers"),
        protocol=_arg0(b, "protocol") or "rtmp",
        follow_client=bool_off(_arg0(b, "follow_client")),
    )


def _exec(b: Directive | None) -> ExecConfig:
    publish = tuple(d.args for d in (b.children if b is not None else ()) if d.name == "publish")
    return ExecConfig(enabled=bool_off(_arg0(b, "enabled")), publish=publish)


def _pairs(b: Directive | None, name: str) -> tuple[tuple[str, str], ...]:
    d = b.get(name) if b is not None else None
    return tuple((c.name, c.arg0) for c in d.children) if d is not None else ()


def _engine(e: Directive) -> EngineConfig:
    return EngineConfig(
        id=e.arg0,
        enabled=bool_off(_arg0(e, "enabled")),
        iformat=_arg0(e, "iformat") or "flv",
        perfile=_pairs(e, "perfile"),
        vfilter=_pairs(e, "vfilter"),
        vcodec=_arg0(e, "vcodec") or "",
        vbitrate=atoi(_arg0(e, "vbitrate") or "0"),
        vfps=atof(_arg0(e, "vfps") or "0"),
        vwidth=atoi(_arg0(e, "vwidth") or "0"),
        vheight=atoi(_arg0(e, "vheight") or "0"),
        vthreads=atoi(_arg0(e, "vthreads") or "1"),
        vprofile=_arg0(e, "vprofile") or "",
        vpreset=_arg0(e, "vpreset") or "",
        vparams=_pairs(e, "vparams"),
        acodec=_arg0(e, "acodec") or "",
        abitrate=atoi(_arg0(e, "abitrate") or "0"),
        asample_rate=atoi(_arg0(e, "asample_rate") or "0"),
        achannels=atoi(_arg0(e, "achannels") or "0"),
        aparams=_pairs(e, "aparams"),
        oformat=_arg0(e, "oformat") or "flv",
        output=_arg0(e, "output") or "",
    )


def _ingest(d: Directive) -> IngestConfig:
    inp = d.get("input")
    return IngestConfig(
        id=d.arg0,
        enabled=bool_off(_arg0(d, "enabled")),
        input_type=_arg0(inp, "type") or "file",
        input_url=_arg0(inp, "url") or "",
        ffmpeg=_arg0(d, "ffmpeg") or "",
        engines=tuple(_engine(e) for e in d.get_all("engine")),
        line=d.line,
    )


def _transcode(d: Directive) -> TranscodeConfig:
    return TranscodeConfig(
        scope=d.arg0,
        enabled=bool_off(_arg0(d, "enabled")),
        ffmpeg=_arg0(d, "ffmpeg") or "",
        engines=tuple(_engine(e) for e in d.get_all("engine")),
        line=d.line,
    )


def _bitrate(r: Reader, path: str, b: Directive | None, name: str) -> int:
    # SRS resets an opus/aac bitrate outside [8000, 320000] to the 48000 default.
    v = r.i(path, b, name, 48_000)
    return v if 8000 <= v <= 320_000 else 48_000


def _rtc(r: Reader, v: Directive) -> RtcVhostConfig:
    b = v.get("rtc")
    k = "vhost.rtc."
    pli = r.f(k + "pli_for_rtmp", b, "pli_for_rtmp", 6.0)
    # get_mw_sleep(is_rtc): RTC ignores a positive mw_latency (forced 0).
    play = v.get("play")
    mw_latency = r.i("vhost.play.mw_latency", play, "mw_latency", 0)
    min_latency = r.b("vhost.min_latency", v, "min_latency", True)  # RTC: default on
    mw_msgs = min(r.i("vhost.play.mw_msgs", play, "mw_msgs", 0 if min_latency else 1), MW_MSGS_MAX)
    return RtcVhostConfig(
        enabled=r.b(k + "enabled", b, "enabled", False),
        nack=r.b(k + "nack", b, "nack", True),
        nack_no_copy=r.b(k + "nack_no_copy", b, "nack_no_copy", True),
        twcc=r.b(k + "twcc", b, "twcc", True),
        stun_timeout_s=r.i(k + "stun_timeout", b, "stun_timeout", 30),
        stun_strict_check=r.b(k + "stun_strict_check", b, "stun_strict_check", False),
        dtls_role=r.s(k + "dtls_role", b, "dtls_role", "passive"),
        dtls_version=r.s(k + "dtls_version", b, "dtls_version", "auto"),
        drop_for_pt=r.i(k + "drop_for_pt", b, "drop_for_pt", 0),
        rtmp_to_rtc=r.b(k + "rtmp_to_rtc", b, "rtmp_to_rtc", False),
        keep_bframe=r.b(k + "keep_bframe", b, "keep_bframe", False),
        keep_avc_nalu_sei=r.b(k + "keep_avc_nalu_sei", b, "keep_avc_nalu_sei", True),
        opus_bitrate=_bitrate(r, k + "opus_bitrate", b, "opus_bitrate"),
        rtc_to_rtmp=r.b(k + "rtc_to_rtmp", b, "rtc_to_rtmp", False),
        # SRS resets a PLI interval outside [0.5 s, 30 s] to 6 s.
        pli_for_rtmp_s=pli if 0.5 <= pli <= 30.0 else 6.0,
        aac_bitrate=_bitrate(r, k + "aac_bitrate", b, "aac_bitrate"),
        min_latency=min_latency,
        mw_latency_ms=0 if mw_latency > 0 else mw_latency,
        mw_msgs=mw_msgs,
    )


def _rtsp(r: Reader, b: Directive | None) -> RtspVhostConfig:
    return RtspVhostConfig(
        enabled=r.b("vhost.rtsp.enabled", b, "enabled", False),
        rtmp_to_rtsp=r.b("vhost.rtsp.rtmp_to_rtsp", b, "rtmp_to_rtsp", False),
    )


def _srt(r: Reader, b: Directive | None) -> SrtVhostConfig:
    return SrtVhostConfig(
        enabled=r.b("vhost.srt.enabled", b, "enabled", False),
        srt_to_rtmp=r.b("vhost.srt.srt_to_rtmp", b, "srt_to_rtmp", True),
    )
