"""Exporter directives (SRS's plus our ``stream_metrics``/``max_streams``), HTTPS as supported,
and the reload diff flag for the exporter."""

from __future__ import annotations

import pytest

from srs.config import ConfigError, Endpoint, diff, parse_text
from srs.config.env import EnvSource
from srs.config.unsupported import find_unsupported

BASE = "listen 1935;\n"


def test_defaults() -> None:
    e = parse_text(BASE).exporter
    assert (e.enabled, e.listen, e.label, e.tag, e.stream_metrics, e.max_streams) == (
        False, Endpoint("", 9972), "", "", False, 100,
    )  # fmt: skip


def test_our_directives_load_and_env_overrides() -> None:
    text = BASE + "exporter { enabled on; listen 9100; stream_metrics on; max_streams 7; }\n"
    e = parse_text(text).exporter
    assert (e.enabled, e.listen.port, e.stream_metrics, e.max_streams) == (True, 9100, True, 7)
    e = parse_text(text, env={"SRS_EXPORTER_STREAM_METRICS": "off", "SRS_EXPORTER_MAX_STREAMS": "3"}).exporter
    assert (e.stream_metrics, e.max_streams) == (False, 3)


@pytest.mark.parametrize("n", ["0", "-5"])
def test_max_streams_must_be_positive(n: str) -> None:
    with pytest.raises(ConfigError, match=rf"invalid exporter\.max_streams={n}"):
        parse_text(BASE + f"exporter {{ max_streams {n}; }}\n", filename="e.conf")


def test_unknown_exporter_directive_still_illegal() -> None:
    with pytest.raises(ConfigError, match=r"illegal exporter\.streams"):
        parse_text(BASE + "exporter { streams on; }\n")


def test_https_and_exporter_are_supported_now() -> None:
    text = (
        BASE
        + "http_api { enabled on; https { enabled on; } }\n"
        + "http_server { enabled on; https { enabled on; } }\n"
        + "exporter { enabled on; stream_metrics on; }\n"
    )
    cfg = parse_text(text)
    assert cfg.http_api.https.enabled and cfg.http_server.https.enabled and cfg.exporter.enabled
    assert cfg.unsupported == ()
    assert find_unsupported(cfg.root, EnvSource({"SRS_EXPORTER_ENABLED": "on"})) == ()


def test_diff_flags_exporter_changes() -> None:
    a = parse_text(BASE)
    b = parse_text(BASE + "exporter { enabled on; }\n")
    c = parse_text(BASE + "exporter { enabled on; label x; }\n")
    assert not diff(a, a).exporter_changed
    assert diff(a, b).exporter_changed and diff(a, b).changed
    assert diff(b, c).exporter_changed
