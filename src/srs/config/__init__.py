"""SRS configuration: parse, rewrite legacy forms, apply env overrides, type, check, diff.

Usage::

    cfg = load_config("conf/srs.conf", env=os.environ)
    for line in cfg.unsupported: log.warning(line)
    vhost = cfg.vhost(DEFAULT_VHOST)

See ``shared/reference/srs-surface.md`` section 2 for the behaviour copied from SRS 7.0.
"""

from __future__ import annotations

from srs.config.checks import check_config, check_not_full
from srs.config.env import DEFAULT_VHOST, env_name
from srs.config.loader import load_config, load_tree, parse_text
from srs.config.parser import Directive, parse_file, parse_string
from srs.config.reload import ConfigDiff, diff
from srs.config.schema import (
    AuthConfig,
    Config,
    ExporterConfig,
    HeartbeatConfig,
    HttpApiConfig,
    HttpsConfig,
    HttpServerConfig,
    RawApiConfig,
    RtcServerConfig,
    SrtServerConfig,
    StatsConfig,
    StreamCasterConfig,
)
from srs.config.schema_vhost import (
    HttpRemuxConfig,
    PlayConfig,
    PublishConfig,
    VhostConfig,
)
from srs.config.values import Endpoint
from srs.util.errors import ConfigError

__all__ = [
    "DEFAULT_VHOST",
    "AuthConfig",
    "Config",
    "ConfigDiff",
    "ConfigError",
    "Directive",
    "Endpoint",
    "ExporterConfig",
    "HeartbeatConfig",
    "HttpApiConfig",
    "HttpRemuxConfig",
    "HttpServerConfig",
    "HttpsConfig",
    "PlayConfig",
    "PublishConfig",
    "RawApiConfig",
    "RtcServerConfig",
    "SrtServerConfig",
    "StatsConfig",
    "StreamCasterConfig",
    "VhostConfig",
    "check_config",
    "check_not_full",
    "diff",
    "env_name",
    "load_config",
    "load_tree",
    "parse_file",
    "parse_string",
    "parse_text",
]
