"""The RTSP session state machine: which request is answered right away with which status."""

from __future__ import annotations

import pytest

from srs.protocol.rtsp.message import RtspMessage
from srs.protocol.rtsp.session import RtspSession


def req(method: str, session: str = "") -> RtspMessage:
    return RtspMessage(method=method, uri="rtsp://h/live/x", headers={"session": session} if session else {})


def at(state: str, mode: str = "play", tracks: int = 2) -> RtspSession:
    s = RtspSession("sid")
    s.state, s.mode, s.tracks = state, mode, tracks
    return s


# (state, mode, method, track, session header, expected status or None = served by the adapter)
CASES = [
    ("init", "", "OPTIONS", None, "", 200),
    ("init", "", "FOO", None, "", 501),
    ("init", "", "DESCRIBE", None, "", None),
    ("init", "", "ANNOUNCE", None, "", None),
    ("init", "", "SETUP", 0, "", 455),
    ("init", "", "PLAY", None, "", 455),
    ("init", "", "RECORD", None, "", 455),
    ("init", "", "PAUSE", None, "", 200),
    ("init", "", "TEARDOWN", None, "", None),
    ("init", "", "GET_PARAMETER", None, "", 200),
    ("described", "play", "SETUP", None, "", 459),
    ("described", "play", "SETUP", 1, "", None),
    ("described", "play", "SETUP", 1, "other", 454),
    ("described", "play", "SETUP", 1, "sid", None),
    ("described", "play", "PLAY", None, "sid", 455),
    ("ready", "play", "PLAY", None, "sid", None),
    ("ready", "play", "RECORD", None, "sid", 455),
    ("ready", "play", "PAUSE", None, "sid", 200),
    ("playing", "play", "PAUSE", None, "sid", None),
    ("playing", "play", "PLAY", None, "sid", None),
    ("playing", "play", "DESCRIBE", None, "", 455),
    ("playing", "play", "ANNOUNCE", None, "", 455),
    ("playing", "play", "SET_PARAMETER", None, "sid", 200),
    ("playing", "play", "GET_PARAMETER", None, "x", 454),
    ("announced", "record", "SETUP", None, "", None),  # the publisher's track is named by its control
    ("announced", "record", "DESCRIBE", None, "", 455),
    ("ready", "record", "RECORD", None, "sid", None),
    ("ready", "record", "PLAY", None, "sid", 455),
    ("recording", "record", "PAUSE", None, "sid", None),
    ("recording", "record", "TEARDOWN", None, "sid", None),
]


@pytest.mark.parametrize(("state", "mode", "method", "track", "session", "status"), CASES)
def test_check(
    state: str, mode: str, method: str, track: int | None, session: str, status: int | None
) -> None:
    assert at(state, mode).check(req(method, session), track) == status


def test_transitions() -> None:
    s = RtspSession("abc", timeout_s=60)
    assert s.headers() == {"Session": "abc;timeout=60"}
    s.described(2)
    assert (s.state, s.mode, s.tracks) == ("described", "play", 2)
    s.set_up()
    s.started()
    assert s.state == "playing"
    s.paused()
    assert s.state == "ready"
    s.torn_down()
    assert (s.state, s.mode) == ("init", "")
    s.announced(1)
    s.set_up()
    s.started()
    assert (s.state, s.mode) == ("recording", "record")
    assert len(RtspSession().id) == 8
