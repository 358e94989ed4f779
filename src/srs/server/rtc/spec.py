"""The seam between WebRTC signalling (HTTP: :mod:`srs.server.rtc.signal`) and the media side
(:mod:`srs.server.rtc.server`): what a WHIP/WHEP/legacy request asks for and what it gets back.

The signalling layer parses the HTTP request (query options, vhost, the offer SDP, candidates) into
a :class:`SessionSpec`; the media side runs the control plane (stats registration, security,
on_publish/on_play hooks), negotiates, creates the session and returns :class:`Created`. A refusal
is an :class:`srs.util.errors.SrsError` the signalling layer turns into SRS's error shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from srs.config import VhostConfig
    from srs.protocol.request import Request
    from srs.protocol.rtc.sdp import Candidate, SessionDescription


@dataclass
class SessionSpec:
    """One WHIP/WHEP/legacy request, parsed."""

    request: Request  # vhost resolved, app/stream, param = the whole query string ("?..." or "")
    vhost: VhostConfig
    publish: bool  # WHIP / legacy publish; False: WHEP / whip-play / legacy play
    offer: SessionDescription
    candidates: list[Candidate] = field(default_factory=list)  # what the answer lists (udp and/or tcp)
    codec: str = "h264"  # query codec=: h264 | hevc | av1 | vp8
    encrypt: bool = True  # query encrypt= (False: plaintext RTP), else rtc_server.encrypt
    dtls: bool = True  # query dtls= (False: no DTLS, plaintext)
    ice_ufrag: str = ""  # query ice-ufrag= (4..32 chars) or "" to generate 8 chars
    ice_pwd: str = ""  # query ice-pwd= (22..32 chars) or "" to generate 32 chars
    client_ip: str = ""
    kind: str = "rtc-play"  # stats client type: rtc-publish | rtc-play


@dataclass
class Created:
    answer: str  # SDP text (CRLF)
    session_id: str  # "<localUfrag>:<remoteUfrag>" as SRS's sessionid
    token: str  # for the WHIP/WHEP DELETE (Location: ...&token=<t>&session=<id>)
    cid: str  # the client id in the API (/api/v1/clients/<cid>)


class RtcSessions(Protocol):
    """Implemented by the media side."""

    async def create(self, spec: SessionSpec) -> Created:
        """Hooks, negotiation, session creation; raises SrsError when refused."""
        ...

    def delete(self, session_id: str, token: str) -> bool:
        """End a session (WHIP/WHEP DELETE); False if the token differs (an unknown session, already
        gone, is True as SRS answers 200)."""
        ...

    @property
    def udp_port(self) -> int | None:
        """The bound UDP port (rtc_server.listen; the real one when configured 0), None if off."""
        ...

    @property
    def tcp_port(self) -> int | None:
        """The bound TCP port (rtc_server.tcp), None if off."""
        ...
