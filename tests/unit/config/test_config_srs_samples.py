"""SRS's own sample configs (tests/data/srs_conf, see NOTICE) get SRS's verdict.

They are run from a directory where ``./conf`` is the sample folder, because their include paths
are relative to SRS's trunk/ (the process cwd), exactly as SRS resolves them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from srs.config import ConfigError, check_not_full, load_config

DATA = Path(__file__).resolve().parents[2] / "data" / "srs_conf"

# file -> None (loads and passes the check) or substrings of which one must be in the error.
VERDICTS: dict[str, tuple[str, ...] | None] = {
    "edge.conf": None,
    "gb28181.conf": None,
    "http.flv.live.conf": None,
    "http.ts.live.conf": None,
    "https.flv.live.conf": None,
    "https.rtc.conf": None,
    "rtmp.conf": None,
    "include.conf": None,
    "include_test/include.conf": None,
    "include_test/include_2.conf": None,
    "include_test/include_4.conf": None,
    # NGINX configs: /etc/nginx/mime.types is read if it exists, else the include fails.
    "nginx.proxy.conf": ("illegal directive worker_processes", "/etc/nginx/mime.types"),
    "hls.edge.conf": ("illegal directive worker_processes",),
    # Bare fragments, meant only to be included.
    "include.vhost.conf": ("listen requires params",),
    "include.engine.ffhd.conf": ("illegal directive engine",),
    "include_test/include_1.conf": ("listen requires params",),
    "include_test/include_3.conf": ("illegal directive hls",),
    "include_test/include_5.conf": ("listen requires params",),
    "include_test/include_6.conf": ("listen requires params",),
}


@pytest.fixture
def srs_trunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "conf").symlink_to(DATA, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_table_covers_every_sample() -> None:
    on_disk = {str(p.relative_to(DATA)) for p in DATA.rglob("*.conf")}
    assert on_disk == set(VERDICTS)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_srs_verdict(name: str, srs_trunk: Path) -> None:
    expected = VERDICTS[name]
    if expected is None:
        cfg = load_config(f"./conf/{name}")
        check_not_full(cfg)
        assert (cfg.listen and cfg.vhosts) or cfg.http_server.enabled
        return
    with pytest.raises(ConfigError) as e:
        load_config(f"./conf/{name}")
    assert any(s in str(e.value) for s in expected), str(e.value)
    assert str(e.value).startswith("./conf/") or "/etc/nginx" in str(e.value)


def test_include_samples_build_the_expected_tree(srs_trunk: Path) -> None:
    cfg = load_config("./conf/include_test/include_4.conf")
    v = cfg.vhost("ossrs.net")
    assert v is not None and v.hls.enabled and v.hls.path == "xxx" and v.hls.m3u8_file == "xxx1"
    assert cfg.http_api.enabled and cfg.http_server.enabled
    inc = load_config("./conf/include.conf")
    assert list(inc.vhosts) == ["include.srs.com"] and inc.vhost("include.srs.com").http_remux.enabled  # type: ignore[union-attr]


def test_legacy_samples_are_rewritten(srs_trunk: Path) -> None:
    edge = load_config("./conf/edge.conf").vhost("__defaultVhost__")
    assert edge is not None and edge.cluster.mode == "remote" and edge.cluster.origin == ("127.0.0.1:19350",)
    flv = load_config("./conf/http.flv.live.conf")
    assert any("hstrs" in w for w in flv.warnings)


def test_our_default_configs_load_without_unsupported_lines() -> None:
    root = Path(__file__).resolve().parents[3] / "conf"
    for name in ("srs.conf", "rtmp.conf", "http.flv.live.conf"):
        cfg = load_config(str(root / name))
        check_not_full(cfg)
        assert cfg.unsupported == () and cfg.daemon is False and cfg.srs_log_tank == "console", name
    srs = load_config(str(root / "srs.conf"))
    assert srs.http_api.enabled and srs.http_server.enabled and srs.max_connections == 1000
    assert srs.vhost("__defaultVhost__").http_remux.enabled  # type: ignore[union-attr]
