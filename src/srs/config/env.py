"""Environment overrides, as SRS 7.0 reads them (reference 2.2).

Every SRS getter first asks ``srs_getenv("srs.<a>.<b>.<c>")``: the path is upper-cased, ``.``
becomes ``_``, so ``srs.http_api.auth.username`` is ``SRS_HTTP_API_AUTH_USERNAME``. A non-empty
variable wins over the file. Vhost directives have no vhost name in the key
(``SRS_VHOST_PLAY_GOP_CACHE``), so such a variable applies to **all** vhosts.

The environment is always passed in as a mapping; nothing here reads ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Mapping

from srs.config.parser import Directive

__all__ = [
    "ALIASES",
    "DEFAULT_VHOST",
    "NOT_ENV_OVERRIDABLE",
    "EnvSource",
    "env_name",
    "prepare_env_only",
]

DEFAULT_VHOST = "__defaultVhost__"

#: Config paths whose getters never look at the environment (reference 2.2).
NOT_ENV_OVERRIDABLE: tuple[str, ...] = (
    "stats",
    "stream_caster",
    "vhost.enabled",
    "vhost.refer",
    "vhost.security",
    "vhost.cluster",
    "vhost.forward",
    "vhost.exec",
    "vhost.ingest",
    "vhost.transcode",
    "vhost.dvr.dvr_apply",
    "is_full",
)

#: Extra names a getter accepts after its derived one, in the order SRS tries them.
ALIASES: Mapping[str, tuple[str, ...]] = {
    "srs_log_tank": ("SRS_LOG_TANK",),
    "srs_log_level": ("SRS_LOG_LEVEL",),
    "srs_log_level_v2": ("SRS_LOG_LEVEL_V2",),
    "srs_log_file": ("SRS_LOG_FILE",),
    "vhost.srt.srt_to_rtmp": ("SRS_VHOST_SRT_TO_RTMP",),
    # SRS compat: get_global_chunk_size() reads srs.vhost.chunk_size, so the documented
    # SRS_CHUNK_SIZE is ignored and SRS_VHOST_CHUNK_SIZE sets the global chunk size too.
    "chunk_size": (),
}

#: Paths whose env key is not derived from the path itself.
_KEY_OVERRIDES: Mapping[str, str] = {
    "chunk_size": "SRS_VHOST_CHUNK_SIZE",
}


def env_name(path: str) -> str:
    """``"vhost.play.gop_cache"`` -> ``"SRS_VHOST_PLAY_GOP_CACHE"`` (SRS ``srs_getenv`` rule)."""
    if path in _KEY_OVERRIDES:
        return _KEY_OVERRIDES[path]
    return "SRS_" + path.replace(".", "_").upper()


def _blocked(path: str) -> bool:
    return any(path == p or path.startswith(p + ".") for p in NOT_ENV_OVERRIDABLE)


class EnvSource:
    """Looks up overrides for config paths in an injected environment mapping."""

    __slots__ = ("_env", "used")

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        #: env names that overrode something, for logs/tests.
        self.used: set[str] = set()

    def raw(self, name: str) -> str | None:
        """The variable ``name`` if set and non-empty (SRS treats empty as unset)."""
        value = self._env.get(name)
        return value if value else None

    def names(self, path: str) -> tuple[str, ...]:
        """Env names consulted for ``path``, first wins; ``()`` when not overridable."""
        if _blocked(path):
            return ()
        return (env_name(path), *ALIASES.get(path, ()))

    def get(self, path: str) -> tuple[str, str] | None:
        """``(env name, value)`` overriding ``path``, or None."""
        for name in self.names(path):
            value = self.raw(name)
            if value is not None:
                self.used.add(name)
                return name, value
        return None

    def value(self, path: str) -> str | None:
        hit = self.get(path)
        return hit[1] if hit else None

    def expand(self, value: str) -> str | None:
        """``$NAME`` -> the variable NAME (None when unset), as ``candidate $CANDIDATE;``."""
        if value.startswith("$"):
            return self.raw(value[1:])
        return value


def prepare_env_only(root: Directive, env: Mapping[str, str]) -> tuple[Directive, dict[str, str]]:
    """SRS ``-e``: no file; daemon off and console log unless the env says otherwise, and an
    empty ``vhost __defaultVhost__ {}`` so vhost-level variables have a vhost to apply to.

    Returns the root to use and the (copied) environment with those defaults added.
    """
    out = dict(env)
    if not out.get("SRS_DAEMON"):
        out["SRS_DAEMON"] = "off"
    if not out.get("SRS_SRS_LOG_TANK") and not out.get("SRS_LOG_TANK"):
        out["SRS_SRS_LOG_TANK"] = "console"
    if not root.children:
        vhost = Directive("vhost", (DEFAULT_VHOST,), (), root.file, 0, True)
        root = Directive(root.name, root.args, (vhost,), root.file, root.line, True)
    return root, out
