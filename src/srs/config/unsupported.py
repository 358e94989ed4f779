"""Which directives this server does not implement yet - one table, shrink it as features land.

The server implements today: ``listen``, ``chunk_size``, ``pid``, ``daemon``, the log settings,
``max_connections``, ``server_id``, ``work_dir``, ``http_api`` (incl. ``raw_api``, ``auth``,
``https``), ``http_server`` (incl. ``https``), ``exporter``, ``heartbeat``, ``rtc_server``, ``stream_caster`` and
``vhost.{enabled, min_latency, tcp_nodelay, chunk_size, in_ack_size, out_ack_size, play.*, publish.*,
http_remux.*, http_hooks.*, security.*, refer.*, rtc.*}``. Everything else is in
:data:`UNSUPPORTED`; :func:`find_unsupported` lists each one the config turns on, with its
location, so the app can say so once at startup instead of silently misreading the config.
"""

from __future__ import annotations

from dataclasses import dataclass

from srs.config.env import EnvSource
from srs.config.parser import Directive
from srs.config.values import bool_off, bool_on

__all__ = ["UNSUPPORTED", "Unsupported", "find_unsupported"]


@dataclass(frozen=True, slots=True)
class Unsupported:
    """``path`` is dotted from the root (``vhost.hls``); ``when`` says when it counts as used.

    * ``present``: the directive is written at all;
    * ``on``: a switch that is on (``default`` is its default, applied with SRS's bool rule);
    * ``enabled``: a block whose ``enabled`` is on (``default`` when the block has no ``enabled``);
    * ``edge``: ``vhost.cluster`` asking for edge or origin-cluster behaviour.
    """

    path: str
    when: str = "enabled"
    default: bool = False


UNSUPPORTED: tuple[Unsupported, ...] = (
    # root
    Unsupported("ff_log_dir", "present"),
    Unsupported("ff_log_level", "present"),
    Unsupported("pithy_print_ms", "present"),
    Unsupported("asprocess", "on"),
    Unsupported("grace_start_wait", "present"),
    Unsupported("grace_final_wait", "present"),
    Unsupported("force_grace_quit", "on"),
    Unsupported("empty_ip_ok", "present"),
    Unsupported("disable_daemon_for_docker", "present"),
    Unsupported("in_docker", "on"),
    Unsupported("inotify_auto_reload", "on"),
    Unsupported("auto_reload_for_docker", "present"),
    Unsupported("tcmalloc_release_rate", "present"),
    Unsupported("query_latest_version", "on"),
    Unsupported("first_wait_for_qlv", "present"),
    Unsupported("threads", "present"),
    Unsupported("circuit_breaker", "enabled", True),
    Unsupported("tencentcloud_cls"),
    Unsupported("tencentcloud_apm"),
    Unsupported("stats", "enabled", True),
    # vhost
    Unsupported("vhost.http_static"),
    Unsupported("vhost.hds"),
    Unsupported("vhost.forward"),
    Unsupported("vhost.cluster", "edge"),
    Unsupported("vhost.exec"),
    Unsupported("vhost.ingest"),
    Unsupported("vhost.transcode"),
)

# Paths whose "enabled" is not env-overridable (reference 2.2).
_NO_ENV: tuple[str, ...] = (
    "stream_caster",
    "stats",
    "vhost.refer",
    "vhost.security",
    "vhost.forward",
    "vhost.exec",
    "vhost.ingest",
    "vhost.transcode",
    "vhost.cluster",
)


def _line(where: str, path: str) -> str:
    return f"{where}: directive '{path}' is not supported yet"


def _switch(value: str | None, default: bool) -> bool:
    return bool_on(value, default) if default else bool_off(value, default)


def _nodes(root: Directive, path: str) -> list[Directive]:
    """Every directive at ``path``; for a vhost path, in each vhost (first block per vhost, as
    SRS's getters read, except the repeatable ingest/transcode/stream_caster)."""
    parts = path.split(".")
    repeatable = parts[-1] in ("ingest", "transcode", "stream_caster")
    level = [root]
    for i, part in enumerate(parts):
        nxt: list[Directive] = []
        last = i == len(parts) - 1
        for node in level:
            if part == "vhost" or (last and repeatable):
                nxt.extend(node.get_all(part))
            else:
                found = node.get(part)
                if found is not None:
                    nxt.append(found)
        level = nxt
    return level


def find_unsupported(root: Directive, env: EnvSource) -> tuple[str, ...]:
    """One ``file:line: directive 'x' is not supported yet`` per use of an unimplemented feature."""
    out: list[str] = []
    for item in UNSUPPORTED:
        nodes = _nodes(root, item.path)
        env_hit = (
            None
            if item.path in _NO_ENV
            else env.get(item.path + (".enabled" if item.when == "enabled" else ""))
        )
        if item.when == "present":
            out.extend(_line(n.where, item.path) for n in nodes)
        elif item.when == "on":
            if env_hit is not None:
                if _switch(env_hit[1], item.default):
                    out.append(_line(f"env {env_hit[0]}", item.path))
                continue
            out.extend(_line(n.where, item.path) for n in nodes if _switch(n.arg0 or None, item.default))
        elif item.when == "edge":
            for n in nodes:
                mode = n.get("mode")
                oc = n.get("origin_cluster")
                if (mode is not None and mode.arg0 == "remote") or (oc is not None and oc.arg0 == "on"):
                    out.append(_line(n.where, item.path))
        else:  # enabled
            if env_hit is not None:
                if _switch(env_hit[1], item.default):
                    # The env switch applies everywhere (all vhosts): report it once.
                    out.append(_line(f"env {env_hit[0]}", item.path))
                continue
            for n in nodes:
                enabled = n.get("enabled")
                if _switch(enabled.arg0 or None if enabled is not None else None, item.default):
                    out.append(_line(n.where, item.path))
    return tuple(out)
