"""The RTSP session state machine (RFC 2326 appendix A.2), sans-IO: which request may come when.

:meth:`RtspSession.check` answers what needs no media knowledge: OPTIONS and the keep-alives
(GET_PARAMETER, SET_PARAMETER) and a PAUSE with nothing to pause get 200, a ``Session`` header naming another session 454
(RFC 2326 12.37), a request out of order 455 ("Method Not Valid in This State": SETUP before
DESCRIBE/ANNOUNCE, PLAY before SETUP, RECORD of a player, DESCRIBE while publishing...), SETUP of the
aggregate URL when there are several tracks 459, an unknown method 501; else ``None`` and the
adapter serves the request, then reports what it did (:meth:`described`, :meth:`set_up`, ...).

States: ``init`` -> ``described`` (DESCRIBE answered) or ``announced`` (ANNOUNCE accepted) ->
``ready`` (a SETUP done) -> ``playing`` / ``recording``; PAUSE goes back to ``ready``; TEARDOWN to
``init``. SRS (``SrsRtspConnection::on_rtsp_request``) keeps no state and answers each method as
it comes; we refuse what cannot work instead.
"""

from __future__ import annotations

import secrets

from srs.protocol.rtsp.message import RtspMessage

TIMEOUT_S = 60
METHODS = "OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, PAUSE, RECORD, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
_KNOWN = frozenset(m.strip() for m in METHODS.split(","))


class RtspSession:
    """One RTSP session (one per connection, as SRS): its id, mode and state."""

    __slots__ = ("id", "mode", "state", "timeout_s", "tracks")

    def __init__(self, session_id: str | None = None, timeout_s: int = TIMEOUT_S) -> None:
        self.id = session_id or secrets.token_hex(4)
        self.timeout_s = timeout_s
        self.state = "init"
        self.mode = ""  # "play" after DESCRIBE, "record" after ANNOUNCE
        self.tracks = 0

    def headers(self) -> dict[str, str]:
        """The ``Session`` header of our answers."""
        return {"Session": f"{self.id};timeout={self.timeout_s}"}

    def check(self, m: RtspMessage, track: int | None = None) -> int | None:
        """The status to answer ``m`` with right away, or None when the adapter serves it.

        ``track`` is the track index the request URL names (None for the aggregate URL)."""
        method, state = m.method, self.state
        if method not in _KNOWN:
            return 501
        if method == "OPTIONS":
            return 200
        if m.session and m.session != self.id and method not in ("DESCRIBE", "ANNOUNCE"):
            return 454
        if method in ("GET_PARAMETER", "SET_PARAMETER"):
            return 200
        if method == "DESCRIBE":
            return 455 if self.mode == "record" or state in ("playing", "recording") else None
        if method == "ANNOUNCE":
            return 455 if state in ("playing", "recording") or self.mode == "record" else None
        if method == "SETUP":
            if state not in ("described", "announced", "ready"):
                return 455
            if track is None and self.tracks > 1 and self.mode == "play":
                return 459
            return None
        if method == "PLAY":
            return None if self.mode == "play" and state in ("ready", "playing") else 455
        if method == "RECORD":
            return None if self.mode == "record" and state in ("ready", "recording") else 455
        if method == "PAUSE":
            # Nothing to pause is not an error: GStreamer, for one, may PAUSE after its TEARDOWN.
            return None if state in ("playing", "recording") else 200
        return None  # TEARDOWN: always

    # --- what the adapter did

    def described(self, tracks: int) -> None:
        self.mode, self.tracks = "play", tracks
        if self.state == "init":
            self.state = "described"

    def announced(self, tracks: int) -> None:
        self.mode, self.tracks, self.state = "record", tracks, "announced"

    def set_up(self) -> None:
        if self.state in ("described", "announced"):
            self.state = "ready"

    def started(self) -> None:
        self.state = "playing" if self.mode == "play" else "recording"

    def paused(self) -> None:
        self.state = "ready"

    def torn_down(self) -> None:
        self.state, self.mode, self.tracks = "init", "", 0
