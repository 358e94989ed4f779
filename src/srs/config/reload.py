"""What a reload changes: compare two typed configs (SRS ``reload_conf`` / ``reload_vhost``).

The app applies the diff (restart the listeners that changed, update vhosts in place); nothing
re-reads the file at call time (DESIGN rule 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from srs.config.schema import Config
from srs.config.schema_vhost import VhostConfig
from srs.config.values import Endpoint

__all__ = ["VHOST_SECTIONS", "ConfigDiff", "diff"]

#: Section names reported for a changed vhost; every other field change is "other".
VHOST_SECTIONS = (
    "play",
    "publish",
    "http_remux",
    "chunk_size",
    "min_latency",
    "tcp_nodelay",
    "enabled",
    "ack",
    "dvr",
    "hls",
    "dash",
)
_ACK = ("in_ack_size", "out_ack_size")
_NOT_SETTINGS = ("name", "file", "line")  # where a vhost is written is not a change of it
_LOGGING = ("srs_log_tank", "srs_log_level", "srs_log_level_v2", "srs_log_file", "utc_time")


@dataclass(frozen=True, slots=True)
class ConfigDiff:
    rtmp_listen_changed: bool = False
    http_api_changed: bool = False
    http_server_changed: bool = False
    vhosts_added: tuple[str, ...] = ()
    vhosts_removed: tuple[str, ...] = ()
    vhosts_changed: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    logging_changed: bool = False
    max_connections_changed: bool = False
    rtmp_listen_added: tuple[Endpoint, ...] = ()
    rtmp_listen_removed: tuple[Endpoint, ...] = ()
    http_api_listen_changed: bool = False
    http_server_listen_changed: bool = False
    chunk_size_changed: bool = False
    exporter_changed: bool = False
    mw_cpu_budget_changed: bool = False

    @property
    def changed(self) -> bool:
        """Whether anything this diff tracks changed."""
        return bool(
            self.rtmp_listen_changed
            or self.http_api_changed
            or self.http_server_changed
            or self.vhosts_added
            or self.vhosts_removed
            or self.vhosts_changed
            or self.logging_changed
            or self.max_connections_changed
            or self.chunk_size_changed
            or self.exporter_changed
            or self.mw_cpu_budget_changed
        )


def _vhost_sections(old: VhostConfig, new: VhostConfig) -> frozenset[str]:
    changed: set[str] = set()
    for f in fields(VhostConfig):
        name = f.name
        if name in _NOT_SETTINGS or getattr(old, name) == getattr(new, name):
            continue
        if name in _ACK:
            changed.add("ack")
        elif name in VHOST_SECTIONS:
            changed.add(name)
        else:
            changed.add("other")
    return frozenset(changed)


def diff(old: Config, new: Config) -> ConfigDiff:
    """What changed from ``old`` to ``new``; vhosts keep the new file's order."""
    old_listen, new_listen = set(old.listen), set(new.listen)
    added = tuple(e for e in new.listen if e not in old_listen)
    removed = tuple(e for e in old.listen if e not in new_listen)

    vhosts_added = tuple(n for n in new.vhosts if n not in old.vhosts)
    vhosts_removed = tuple(n for n in old.vhosts if n not in new.vhosts)
    changed: dict[str, frozenset[str]] = {}
    for name, nv in new.vhosts.items():
        ov = old.vhosts.get(name)
        if ov is None:
            continue
        sections = _vhost_sections(ov, nv)
        if sections:
            changed[name] = sections

    return ConfigDiff(
        rtmp_listen_changed=old.listen != new.listen,
        http_api_changed=old.http_api != new.http_api,
        http_server_changed=old.http_server != new.http_server,
        vhosts_added=vhosts_added,
        vhosts_removed=vhosts_removed,
        vhosts_changed=MappingProxyType(changed),
        logging_changed=any(getattr(old, f) != getattr(new, f) for f in _LOGGING),
        max_connections_changed=old.max_connections != new.max_connections,
        rtmp_listen_added=added,
        rtmp_listen_removed=removed,
        http_api_listen_changed=(old.http_api.listen, old.http_api.enabled)
        != (new.http_api.listen, new.http_api.enabled),
        http_server_listen_changed=(old.http_server.listen, old.http_server.enabled)
        != (new.http_server.listen, new.http_server.enabled),
        chunk_size_changed=old.chunk_size != new.chunk_size,
        exporter_changed=old.exporter != new.exporter,
        mw_cpu_budget_changed=old.mw_cpu_budget != new.mw_cpu_budget,
    )
