"""Rewrite old config forms into the current ones, as SRS's ``srs_config_transform_vhost``.

SRS applies this to the parsed tree before it checks or reads anything (``parse_options`` and
``reload``), so a config written for SRS 1-4 keeps working. Each rewrite below names the SRS
version that changed the form. Every rewrite adds a warning ``file:line: transform: ...``.
"""

from __future__ import annotations

from collections.abc import Callable

from srs.config.parser import Directive

__all__ = ["CLUSTER_SHADOWS", "PLAY_SHADOWS", "transform"]

#: vhost-level directives SRS 3 moved into ``play {}``.
PLAY_SHADOWS = frozenset(
    {
        "time_jitter",
        "mix_correct",
        "atc",
        "atc_auto",
        "mw_latency",
        "gop_cache",
        "gop_cache_max_frames",
        "queue_length",
        "send_min_interval",
        "reduce_sequence_header",
    }
)
#: vhost-level directives SRS 3 moved into ``cluster {}``.
CLUSTER_SHADOWS = frozenset({"mode", "origin", "token_traverse", "vhost", "debug_srs_upnode"})

_GB_UNUSED = frozenset(
    {"tcp_enable", "rtp_port_min", "rtp_port_max", "wait_keyframe", "rtp_idle_timeout", "audio_enable"}
    | {"auto_create_channel"}
)
_GB_SIP_UNUSED = frozenset(
    {"serial", "realm", "ack_timeout", "keepalive_timeout", "invite_port_fixed", "query_catalog_interval"}
    | {"auto_play"}
)


class _M:
    """A mutable copy of a directive, so the rewrites read like SRS's in-place edits."""

    __slots__ = ("args", "children", "file", "is_block", "line", "name")

    def __init__(self, d: Directive) -> None:
        self.name = d.name
        self.args = list(d.args)
        self.children = [_M(c) for c in d.children]
        self.file = d.file
        self.line = d.line
        self.is_block = d.is_block

    @classmethod
    def new(cls, name: str, args: list[str], near: _M) -> _M:
        m = cls(Directive(name, (), (), near.file, near.line))
        m.args = list(args)
        return m

    def get(self, name: str, arg0: str | None = None) -> _M | None:
        for c in self.children:
            if c.name == name and (arg0 is None or (c.args[0] if c.args else "") == arg0):
                return c
        return None

    def get_or_create(self, name: str, near: _M, arg0: str | None = None) -> _M:
        found = self.get(name, arg0)
        if found is None:
            found = _M.new(name, [] if arg0 is None else [arg0], near)
            self.children.append(found)
        return found

    def freeze(self) -> Directive:
        return Directive(
            self.name,
            tuple(self.args),
            tuple(c.freeze() for c in self.children),
            self.file,
            self.line,
            self.is_block or bool(self.children),
        )


_Warn = Callable[["_M", str], None]


def transform(root: Directive) -> tuple[Directive, tuple[str, ...]]:
    """Apply every legacy rewrite; returns the new root and the warnings."""
    m = _M(root)
    warnings: list[str] = []

    def warn(at: _M, text: str) -> None:
        warnings.append(f"{at.file}:{at.line}: transform: {text}")

    for d in m.children:
        # SRS 2: root http_stream {} is now http_server {}.
        if d.name == "http_stream":
            d.name = "http_server"
            warn(d, "http_stream => http_server")
            continue
        # SRS 4: rtc_server { perf_stat; queue_length; } were removed.
        if d.name == "rtc_server":
            for c in [c for c in d.children if c.name in ("perf_stat", "queue_length")]:
                d.children.remove(c)
                warn(c, f"rtc_server.{c.name} is removed, ignored")
        # SRS 5: srt_server.tlpkdrop was a typo for tlpktdrop.
        if d.name == "srt_server":
            for c in d.children:
                if c.name == "tlpkdrop":
                    c.name = "tlpktdrop"
                    warn(c, "srt_server.tlpkdrop => srt_server.tlpktdrop")
        if d.name == "stream_caster":
            _transform_gb(d, warn)
        if d.name == "vhost":
            _transform_vhost(d, warn)
    return m.freeze(), tuple(warnings)


def _transform_gb(d: _M, w: _Warn) -> None:
    # SRS 5: GB28181 options of the old implementation are accepted and ignored.
    for c in [c for c in d.children if c.name in _GB_UNUSED]:
        d.children.remove(c)
        w(c, f"stream_caster.{c.name} for GB is not used")
    sip = d.get("sip")
    if sip is not None:
        for c in [c for c in sip.children if c.name in _GB_SIP_UNUSED]:
            sip.children.remove(c)
            w(c, f"stream_caster.sip.{c.name} for GB is not used")
    # SRS 5: stream_caster { host x; } moved to stream_caster { sip { candidate x; } }.
    for c in [c for c in d.children if c.name == "host"]:
        d.children.remove(c)
        c.name = "candidate"
        d.get_or_create("sip", c).children.append(c)
        w(c, "stream_caster.host => stream_caster.sip.candidate")


def _transform_vhost(vhost: _M, w: _Warn) -> None:
    name = vhost.args[0] if vhost.args else ""
    i = 0
    while i < len(vhost.children):
        conf = vhost.children[i]
        n = conf.name

        # SRS 2: vhost http {} is now http_static {}.
        if n == "http":
            conf.name = "http_static"
            w(conf, f"vhost.http => vhost.http_static for {name}")
            i += 1
            continue

        # SRS 3: http_remux { hstrs; } is always on, the directive is dropped.
        if n == "http_remux":
            hstrs = conf.get("hstrs")
            if hstrs is not None:
                conf.children.remove(hstrs)
                w(hstrs, f"vhost.http_remux.hstrs is always on, ignored for {name}")

        # SRS 3: refer/refer_play/refer_publish args => refer { enabled on; all/play/publish }.
        if (n == "refer" and not conf.children) or n in ("refer_play", "refer_publish"):
            del vhost.children[i]
            refer = vhost.get_or_create("refer", conf)
            refer.is_block = True
            refer.get_or_create("enabled", conf, "on")
            target = {"refer": "all", "refer_play": "play", "refer_publish": "publish"}[n]
            refer.get_or_create(target, conf).args = list(conf.args)
            w(conf, f"vhost.{n} => vhost.refer.{target} for {name}")
            continue

        # SRS 3: mr { enabled; latency; } => publish { mr; mr_latency; }.
        if n == "mr":
            del vhost.children[i]
            publish = vhost.get_or_create("publish", conf)
            publish.is_block = True
            enabled = conf.get("enabled")
            if enabled is not None:
                publish.get_or_create("mr", enabled).args = list(enabled.args)
            latency = conf.get("latency")
            if latency is not None:
                publish.get_or_create("mr_latency", latency).args = list(latency.args)
            w(conf, f"vhost.mr => vhost.publish.mr/mr_latency for {name}")
            continue

        # SRS 3: publish_1stpkt_timeout / publish_normal_timeout => publish { ... }.
        if n in ("publish_1stpkt_timeout", "publish_normal_timeout"):
            del vhost.children[i]
            publish = vhost.get_or_create("publish", conf)
            publish.is_block = True
            target = "firstpkt_timeout" if n == "publish_1stpkt_timeout" else "normal_timeout"
            publish.get_or_create(target, conf).args = list(conf.args)
            w(conf, f"vhost.{n} => vhost.publish.{target} for {name}")
            continue

        # SRS 3: play tuning at vhost level => play { ... }.
        if n in PLAY_SHADOWS:
            del vhost.children[i]
            play = vhost.get_or_create("play", conf)
            play.is_block = True
            play.get_or_create(n, conf).args = list(conf.args)
            w(conf, f"vhost.{n} => vhost.play.{n} of {name}")
            continue

        # SRS 3: forward host:port; => forward { enabled on; destination host:port; }.
        if n == "forward" and not conf.children and conf.args:
            conf.get_or_create("enabled", conf).args = ["on"]
            conf.get_or_create("destination", conf).args = list(conf.args)
            conf.args = []
            conf.is_block = True
            w(conf, f"vhost.forward => vhost.forward.destination for {name}")
            i += 1
            continue

        # SRS 3: edge settings at vhost level => cluster { ... }.
        if n in CLUSTER_SHADOWS:
            del vhost.children[i]
            cluster = vhost.get_or_create("cluster", conf)
            cluster.is_block = True
            cluster.get_or_create(n, conf).args = list(conf.args)
            w(conf, f"vhost.{n} => vhost.cluster.{n} of {name}")
            continue

        # SRS 4: nack { enabled; no_copy; } / twcc { enabled; } => rtc { nack; nack_no_copy; twcc; }.
        if n in ("nack", "twcc"):
            del vhost.children[i]
            rtc = vhost.get_or_create("rtc", conf)
            rtc.is_block = True
            enabled = conf.get("enabled")
            if enabled is not None:
                rtc.get_or_create(n, enabled).args = list(enabled.args)
            no_copy = conf.get("no_copy") if n == "nack" else None
            if no_copy is not None:
                rtc.get_or_create("nack_no_copy", no_copy).args = list(no_copy.args)
            w(conf, f"vhost.{n} => vhost.rtc.{n} of {name}")
            continue

        # SRS 4: rtc { aac transcode; bframe keep; } => rtc { rtmp_to_rtc on; keep_bframe on; }.
        if n == "rtc":
            aac = conf.get("aac")
            if aac is not None:
                v = "on" if (aac.args[:1] == ["transcode"]) else "off"
                _set_arg0(conf.get_or_create("rtmp_to_rtc", aac), v)
                conf.children.remove(aac)
                w(aac, f"vhost.rtc.aac => vhost.rtc.rtmp_to_rtc {v}")
            bframe = conf.get("bframe")
            if bframe is not None:
                v = "on" if (bframe.args[:1] == ["keep"]) else "off"
                _set_arg0(conf.get_or_create("keep_bframe", bframe), v)
                conf.children.remove(bframe)
                w(bframe, f"vhost.rtc.bframe => vhost.rtc.keep_bframe {v}")
        i += 1


def _set_arg0(d: _M, value: str) -> None:
    # SRS set_arg0(): replace the first argument, keep the others.
    d.args = [value, *d.args[1:]]
