"""``rtsp_server.auth`` (ours): default off, users as ``user NAME PASSWORD;`` lines, env overrides,
refusals with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from srs.config import ConfigError, load_config, parse_text
from srs.config.schema import RtspAuthConfig

BLOCK = "listen 1935;\nrtsp_server {{ enabled on; listen 8554;\n  auth {{ {body} }}\n}}\n"


def test_default_off() -> None:
    assert parse_text("listen 1935;\nrtsp_server { enabled on; }\n").rtsp_server.auth == RtspAuthConfig()
    assert RtspAuthConfig().enabled is False and RtspAuthConfig().realm == "SRS"


def test_users_in_file_order() -> None:
    cfg = parse_text(BLOCK.format(body="enabled on; realm Cams; user admin secret; user cam1 'p w';"))
    a = cfg.rtsp_server.auth
    assert (a.enabled, a.realm, a.users) == (True, "Cams", (("admin", "secret"), ("cam1", "p w")))


def test_env_overrides() -> None:
    env = {
        "SRS_RTSP_SERVER_AUTH_ENABLED": "on",
        "SRS_RTSP_SERVER_AUTH_REALM": "R",
        "SRS_RTSP_SERVER_AUTH_USER": "u1 p1 u2 p2",
    }
    a = parse_text(BLOCK.format(body="enabled off; user admin secret;"), env=env).rtsp_server.auth
    assert (a.enabled, a.realm, a.users) == (True, "R", (("u1", "p1"), ("u2", "p2")))


REFUSED = [
    ("one arg", "enabled on; user admin;", "rtsp_server.auth.user needs NAME PASSWORD", 3),
    ("three args", "user a b c;", "rtsp_server.auth.user needs NAME PASSWORD", 3),
    ("colon in name", "user a:b c;", "without ':'", 3),
    ("no user", "enabled on; realm SRS;", "rtsp_server.auth is enabled without any user", 3),
    ("unknown directive", "enabled on; users { a b; }", "illegal rtsp_server.auth.users", 3),
]


@pytest.mark.parametrize(("name", "body", "message", "line"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(name: str, body: str, message: str, line: int) -> None:
    with pytest.raises(ConfigError) as e:
        parse_text(BLOCK.format(body=body), filename="c.conf")
    assert message in str(e.value)
    assert (e.value.file, e.value.line) == ("c.conf", line)


def test_auth_of_a_disabled_server_needs_no_user() -> None:
    text = "listen 1935;\nrtsp_server { enabled off; auth { enabled on; } }\n"
    assert parse_text(text).rtsp_server.auth.enabled


def test_conf_rtsp_loads_and_its_commented_auth_example_works() -> None:
    path = Path(__file__).resolve().parents[3] / "conf" / "rtsp.conf"
    cfg = load_config(str(path))
    assert cfg.unsupported == () and cfg.rtsp_server.enabled and cfg.rtsp_server.listen == 8554
    assert not cfg.rtsp_server.auth.enabled
    text = path.read_text()
    text = (
        text.replace("    # auth {", "    auth {")
        .replace("    #     ", "        ")
        .replace("    # }", "    }")
    )
    a = parse_text(text).rtsp_server.auth
    assert a.enabled and a.realm == "SRS" and a.users == (("admin", "secret"), ("cam1", "pass1"))
