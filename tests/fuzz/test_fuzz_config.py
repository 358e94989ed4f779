"""Fuzz the config pipeline: whatever text arrives, only ConfigError escapes."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srs.config import ConfigError, diff, parse_text

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted(
    p.read_text()
    for p in [*(ROOT / "tests" / "data" / "srs_conf").rglob("*.conf"), *(ROOT / "conf").glob("*.conf")]
)
ALPHABET = st.sampled_from(list(" \t\r\n;{}#'\"$[]:.-_/0123456789abcdefghijklmnoprstuvwxyz"))
WORDS = st.sampled_from(
    ["listen", "vhost", "include", "http_api", "http_server", "play", "publish", "http_remux", "hls", "enabled",
     "on", "off", "chunk_size", "mount", "1935", "[::]:1935", "{", "}", ";", "\n", "'", '"', "#", "mode",
     "remote", "gop_cache", "forward", "refer", "mr", "rtc", "aac", "nack", "is_full", "99999999999999999999",
     "1e999", "-1", "stream_caster", "sip", "host", "ingest", "security", "allow", "deny"]
)  # fmt: skip


def _no_files(path: str) -> str:
    raise ConfigError(f"no include in fuzzing: {path}")


def _check(text: str) -> None:
    try:
        cfg = parse_text(text, filename="fuzz.conf", reader=_no_files, env={"SRS_VHOST_HLS_ENABLED": "on"})
    except ConfigError as e:
        assert str(e)  # a message, always
        return
    assert cfg.listen  # a config that passed the check has a listen
    assert not diff(cfg, cfg).changed
    assert parse_text(cfg.root.dump(), reader=_no_files).root.dump() == cfg.root.dump()


@settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.text(ALPHABET, max_size=300))
def test_random_text(text: str) -> None:
    _check(text)


@settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(WORDS, max_size=60).map(" ".join))
def test_random_tokens(text: str) -> None:
    _check("listen 1935;\n" + text)


@settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 8), st.text(ALPHABET, max_size=8)), max_size=4),
)
def test_mutated_real_configs(seed: str, edits: list[tuple[int, int, str]]) -> None:
    text = seed
    for pos, cut, insert in edits:
        pos = pos % (len(text) + 1)
        text = text[:pos] + insert + text[pos + cut :]
    _check(text)


@settings(max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "200")), deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_unicode(text: str) -> None:
    _check(text)
