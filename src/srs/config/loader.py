"""The pipeline: parse (+includes) -> legacy rewrite -> env overrides -> typed -> checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from srs.config.checks import check_config
from srs.config.env import EnvSource, prepare_env_only
from srs.config.legacy import transform
from srs.config.parser import Directive, FileReader, parse_file, parse_string
from srs.config.schema import Config
from srs.config.typed import build_config
from srs.config.unsupported import find_unsupported
from srs.util.errors import ConfigError

__all__ = ["load_config", "load_tree", "parse_text"]

_NO_ENV: Mapping[str, str] = {}


def load_config(
    path: str | None,
    *,
    env: Mapping[str, str] = _NO_ENV,
    env_only: bool = False,
    max_open_files: int | None = None,
    local_ip_count: int | None = None,
    reader: FileReader | None = None,
) -> Config:
    """Load and check a config file as ``srs -c path`` would; raises :class:`ConfigError`.

    ``env`` is the process environment (passed in, never read here). ``SRS_ENV_ONLY`` (any value)
    means ``env_only``; ``SRS_CONFIG_FILE`` replaces ``path`` (SRS: it overrides ``-c``).
    ``max_open_files``/``local_ip_count`` enable SRS's host-dependent checks when given.
    ``is_full on`` (full.conf) loads; the app refuses to run it with ``check_not_full``.
    """
    env_only = env_only or "SRS_ENV_ONLY" in env
    if env_only:
        root = Directive("root", (), (), "<env>", 0, True)
        file: str | None = None
    else:
        file = env.get("SRS_CONFIG_FILE") or path
        if not file:
            raise ConfigError("no config file (use -c <file>, SRS_CONFIG_FILE or -e)")
        root = parse_file(file, reader=reader)
    return _finish(root, file, env, env_only, max_open_files, local_ip_count)


def parse_text(
    text: str,
    *,
    filename: str = "<text>",
    env: Mapping[str, str] = _NO_ENV,
    max_open_files: int | None = None,
    local_ip_count: int | None = None,
    reader: FileReader | None = None,
) -> Config:
    """:func:`load_config` on a string (tests, the raw API); includes resolve from the cwd."""
    root = parse_string(text, filename=filename, reader=reader)
    return _finish(root, filename, env, False, max_open_files, local_ip_count)


def load_tree(root: Directive, *, env: Mapping[str, str] = _NO_ENV, file: str | None = None) -> Config:
    """Type and check an already parsed tree (used by the fuzzer and tools)."""
    return _finish(root, file, env, False, None, None)


def _finish(
    root: Directive,
    file: str | None,
    env: Mapping[str, str],
    env_only: bool,
    max_open_files: int | None,
    local_ip_count: int | None,
) -> Config:
    root, warnings_t = transform(root)
    if env_only:
        root, env = prepare_env_only(root, env)
    warnings = list(warnings_t)
    source = EnvSource(env)
    cfg = build_config(root, source, file=file, env_only=env_only, warnings=warnings)
    warnings.extend(check_config(cfg, max_open_files=max_open_files, local_ip_count=local_ip_count))
    return replace(cfg, warnings=tuple(warnings), unsupported=find_unsupported(root, source))
