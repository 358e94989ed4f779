"""One SRS getter, generalised: env override, else the directive's first argument, else default.

Every SRS ``get_*`` has the same shape (``srs_app_config.cpp``)::

    SRS_OVERWRITE_BY_ENV_xxx("srs.vhost.play.gop_cache");   // non-empty env wins
    conf = vhost->get("play"); if (!conf) return DEFAULT;
    conf = conf->get("gop_cache"); if (!conf || conf->arg0().empty()) return DEFAULT;
    return SRS_CONF_PERFER_TRUE(conf->arg0());

:class:`Reader` does that once, and records a warning when a number is not a clean number
(SRS would silently read its numeric prefix, or 0).
"""

from __future__ import annotations

from srs.config.env import EnvSource
from srs.config.parser import Directive
from srs.config.values import atof, atoi, bool_off, bool_on, is_number

__all__ = ["Reader"]


class Reader:
    __slots__ = ("env", "warnings")

    def __init__(self, env: EnvSource, warnings: list[str]) -> None:
        self.env = env
        self.warnings = warnings

    def raw(self, path: str, block: Directive | None, name: str) -> tuple[str | None, str]:
        """``(value, where)``: the env value or the directive's arg0; None when unset/empty."""
        hit = self.env.get(path)
        if hit is not None:
            return hit[1], f"env {hit[0]}"
        d = block.get(name) if block is not None else None
        if d is None or not d.arg0:
            return None, ""
        return d.arg0, d.where

    def s(self, path: str, block: Directive | None, name: str, default: str) -> str:
        value, _ = self.raw(path, block, name)
        return default if value is None else value

    def b(self, path: str, block: Directive | None, name: str, default: bool) -> bool:
        """A switch: default-off needs literal ``on``; default-on is on unless ``off``."""
        value, _ = self.raw(path, block, name)
        return bool_on(value, default) if default else bool_off(value, default)

    def i(self, path: str, block: Directive | None, name: str, default: int, scale: int = 1) -> int:
        """An integer read with atoi, times ``scale`` (e.g. seconds -> ms); default is unscaled."""
        value, where = self.raw(path, block, name)
        if value is None:
            return default
        n = atoi(value)
        self._check_number(path, value, where, n)
        return n * scale

    def f(self, path: str, block: Directive | None, name: str, default: float, scale: float = 1.0) -> float:
        value, where = self.raw(path, block, name)
        if value is None:
            return default
        x = atof(value)
        self._check_number(path, value, where, x)
        return x * scale

    def words(self, path: str, block: Directive | None, name: str) -> tuple[str, ...]:
        """All arguments (a URL or address list); an env value is split on spaces."""
        hit = self.env.get(path)
        if hit is not None:
            return tuple(w for w in hit[1].split(" ") if w)
        d = block.get(name) if block is not None else None
        return d.args if d is not None else ()

    def _check_number(self, path: str, value: str, where: str, read: float) -> None:
        if not is_number(value):
            self.warnings.append(
                f"{where}: {path} {value!r} is not a number, read as {read!r} (SRS atoi/atof)"
            )
