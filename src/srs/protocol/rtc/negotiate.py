"""Answer a WebRTC offer the way SRS does (WHIP publish / WHEP play), sans-IO.

SRS: ``SrsGoApiRtcPublish/Play::check_remote_sdp`` (srs_app_rtc_api.cpp) then
``SrsRtcConnection::negotiate_publish_capability`` / ``negotiate_play_capability`` and
``generate_*_local_sdp`` (srs_app_rtc_conn.cpp). What we keep from SRS:

* The offer must have ``a=group:BUNDLE`` and ``a=rtcp-mux`` on every m-line; publish refuses a
  ``recvonly`` m-line, play refuses a ``sendonly`` one (error 5018, ``ERROR_RTC_SDP_EXCHANGE``).
* Audio: the first ``opus`` payload type; the answer's fmtp is ``minptime=10;useinbandfec=1`` when
  the offer has them (SRS's ``SrsAudioPayload``). Video: ``H264`` by default, ``H265`` with
  ``codec=hevc``, ``AV1``/``AV1X`` with ``codec=av1``; ``codec=vp8`` picks ``VP8`` (RTC->RTC relay).
  H.264: when any payload has ``profile-level-id=42e01f`` only that profile matches; the first
  payload with packetization-mode=1 and level-asymmetry-allowed=1 that matches wins, else a payload
  without fmtp, else the first H.264 (SRS's "backup").
* rtcp-fb kept only ``nack`` and ``nack pli`` (``nack on``) and ``transport-cc`` (``twcc on`` and
  the offer has the transport-wide-cc extmap); extmaps kept: only transport-wide-cc (SRS answers no
  other extension). ``goog-remb``, red/rtx/ulpfec are not answered.
* Answer: ``o=SRS/<ver> <id> 2 IN IP4 0.0.0.0``, ``s=SRSPublishSession``/``SRSPlaySession``,
  ``t=0 0``, ``a=ice-lite``, ``a=group:BUNDLE <mids>``, ``a=msid-semantic: WMS app/stream``; each
  m-line: port 9, ``c=IN IP4 0.0.0.0``, ice-ufrag/pwd, ``fingerprint:sha-256``, setup, mid, extmaps,
  direction (``recvonly`` for publish, ``sendonly`` for play), rtcp-mux, rtcp-rsize, the one chosen
  payload type, for play the server's ``a=ssrc`` cname/msid lines, then the candidates (udp with
  ``generation 0``, tcp with ``tcptype passive``, priority 2130706431).
* DTLS role: offer ``actpass`` -> ``dtls_role`` (``passive`` by default); ``active`` -> ``passive``;
  ``passive`` -> ``active``.

Where we differ: an m-line we cannot use (``application``/data channel, an audio m-line without
Opus, a video m-line without the codec asked for, ``inactive``) is answered rejected (port 0, RFC
8829 5.3.1) instead of failing the whole offer; the error comes only when no m-line is usable.
The play answer carries the server tracks the caller passes (:class:`PlayTrack`) rather than reading
an RTC source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from srs.protocol.rtc.sdp import Candidate, Codec, ExtMap, MediaDescription, Origin, SessionDescription
from srs.util.errors import SdpNegotiateError

TWCC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
CANDIDATE_PRIORITY = (1 << 24) * 126 + (1 << 8) * 65535 + (256 - 1)  # 2130706431, as SRS
VIDEO_CODECS = {
    "h264": ("H264",),
    "hevc": ("H265",),
    "h265": ("H265",),
    "av1": ("AV1", "AV1X"),
    "vp8": ("VP8",),
}


@dataclass
class PlayTrack:
    """A track the server sends to a player (one per media kind; ``ssrc`` chosen by the caller)."""

    kind: str
    ssrc: int
    track_id: str
    cname: str = "srs"


@dataclass
class AnswerOptions:
    """What the server knows before answering (credentials, candidates, vhost rtc settings)."""

    ice_ufrag: str
    ice_pwd: str
    fingerprint: str  # sha-256, colon-separated upper-case hex
    candidates: list[Candidate] = field(default_factory=list)
    app: str = "live"
    stream: str = "livestream"
    codec: str = "h264"  # query ``codec=``: h264 (default), hevc, av1, vp8
    dtls_role: str = "passive"  # rtc_server/vhost ``dtls_role``: answer to an ``actpass`` offer
    nack: bool = True  # vhost rtc ``nack``
    twcc: bool = True  # vhost rtc ``twcc``
    session_id: str = "0"
    server: str = "SRS/7.0.18"
    play_tracks: list[PlayTrack] = field(default_factory=list)


@dataclass
class NegotiatedMedia:
    """The outcome for one offered m-line."""

    index: int
    kind: str
    mid: str | None
    codec: Codec | None  # None: rejected
    reason: str = ""
    remote_ssrcs: list[int] = field(default_factory=list)
    rtx_ssrcs: dict[int, int] = field(default_factory=dict)  # media ssrc -> rtx ssrc (FID)
    twcc_id: int | None = None
    local_ssrc: int | None = None


@dataclass
class Negotiated:
    answer: SessionDescription
    media: list[NegotiatedMedia]
    dtls_setup: str  # our a=setup: "passive" (we are the DTLS server) or "active"
    remote_ice_ufrag: str | None
    remote_ice_pwd: str | None
    remote_fingerprint: tuple[str, str] | None

    @property
    def accepted(self) -> list[NegotiatedMedia]:
        return [m for m in self.media if m.codec is not None]


def udp_candidate(ip: str, port: int, foundation: int = 0) -> Candidate:
    """``a=candidate:<n> 1 udp 2130706431 <ip> <port> typ host generation 0`` (what SRS writes)."""
    return Candidate(
        str(foundation), 1, "udp", CANDIDATE_PRIORITY, ip, port, "host", extensions=[("generation", "0")]
    )


def tcp_candidate(ip: str, port: int, foundation: int = 0) -> Candidate:
    """``a=candidate:<n> 1 tcp 2130706431 <ip> <port> typ host tcptype passive``."""
    return Candidate(str(foundation), 1, "tcp", CANDIDATE_PRIORITY, ip, port, "host", tcptype="passive")


def answer_setup(offer_setup: str | None, dtls_role: str = "passive") -> str:
    """Our ``a=setup`` for the offer's (RFC 5763 5: the offerer usually says actpass)."""
    if offer_setup == "active":
        return "passive"
    if offer_setup == "passive":
        return "active"
    return "active" if dtls_role == "active" else "passive"


def _h264(codecs: list[Codec], has_42e01f: bool) -> Codec | None:
    backups: list[Codec] = []
    for c in codecs:
        if c.fmtp is None or c.fmtp == "":
            backups.insert(0, c)
            continue
        p = c.params
        matched = not has_42e01f or p.get("profile-level-id", "").lower() == "42e01f"
        if matched and p.get("packetization-mode") == "1" and p.get("level-asymmetry-allowed") == "1":
            return c
        backups.append(c)
    return backups[0] if backups else None


def _choose(m: MediaDescription, opts: AnswerOptions, has_42e01f: bool) -> tuple[Codec | None, str]:
    if m.kind == "audio":
        ops = m.codecs_named("opus")
        return (ops[0], "") if ops else (None, "no opus payload type")
    names = VIDEO_CODECS.get(opts.codec.lower())
    if names is None:
        return None, f"unsupported codec={opts.codec}"
    for name in names:
        cs = m.codecs_named(name)
        if cs:
            return (_h264(cs, has_42e01f) if name == "H264" else cs[0]), ""
    return None, f"no {names[0]} payload type"


def _answer_codec(offered: Codec, opts: AnswerOptions, twcc_id: int | None) -> Codec:
    fbs = []
    for fb in offered.rtcp_fbs:
        if opts.nack and fb in ("nack", "nack pli"):
            fbs.append(fb)
        if opts.twcc and twcc_id and fb == "transport-cc":
            fbs.append(fb)
    fmtp = offered.fmtp
    if offered.name.lower() == "opus":
        p = offered.params
        parts = ["minptime=10"] if "minptime" in p else []
        if p.get("useinbandfec") == "1":
            parts.append("useinbandfec=1")
        fmtp = ";".join(parts) or None
    return Codec(offered.pt, offered.name, offered.clock_rate, offered.channels, fmtp, fbs)


def check_offer(offer: SessionDescription, publish: bool) -> None:
    """SRS's ``check_remote_sdp``: BUNDLE, rtcp-mux, direction (error 5018)."""
    if offer.bundle is None:
        groups = ",".join(g for g, _ in offer.groups) or "none"
        raise SdpNegotiateError(f"now only support BUNDLE, group policy={groups}")
    if not offer.media:
        raise SdpNegotiateError("no media descriptions")
    for m in offer.media:
        if m.kind not in ("audio", "video") or m.rejected:
            continue
        if not m.rtcp_mux:
            raise SdpNegotiateError(f"now only support rtcp-mux, mid={m.mid}")
        if publish and m.direction == "recvonly":
            raise SdpNegotiateError("publish API only support sendrecv/sendonly")
        if not publish and m.direction == "sendonly":
            raise SdpNegotiateError("play API only support sendrecv/recvonly")


def negotiate(offer: SessionDescription, opts: AnswerOptions, publish: bool) -> Negotiated:
    """Build the answer to a WHIP (``publish=True``) or WHEP/play offer."""
    check_offer(offer, publish)
    has_42e01f = any(
        c.params.get("profile-level-id", "").lower() == "42e01f"
        for m in offer.media
        if m.kind == "video"
        for c in m.codecs_named("H264")
    )
    setup = answer_setup(offer.media_attr(offer.media[0], "setup"), opts.dtls_role)
    stream_id = f"{opts.app}/{opts.stream}"
    answer = SessionDescription(
        Origin(opts.server, opts.session_id, "2", "IN", "IP4", "0.0.0.0"),
        "SRSPublishSession" if publish else "SRSPlaySession",
        [("t", "0 0"), ("a", "ice-lite")],
    )
    results: list[NegotiatedMedia] = []
    tracks = {t.kind: t for t in opts.play_tracks}
    for i, m in enumerate(offer.media):
        r = NegotiatedMedia(i, m.kind, m.mid, None)
        results.append(r)
        if m.kind not in ("audio", "video"):
            r.reason = f"unsupported media type={m.kind}"
        elif m.rejected:
            r.reason = "rejected in the offer"
        elif m.direction == "inactive":
            r.reason = "inactive"
        elif not publish and m.kind not in tracks and opts.play_tracks:
            r.reason = f"no {m.kind} track to play"
        else:
            chosen, r.reason = _choose(m, opts, has_42e01f)
            if chosen is not None:
                r.twcc_id = next((e.id for e in m.extmaps if e.uri == TWCC_URI), None)
                r.codec = _answer_codec(chosen, opts, r.twcc_id)
                r.remote_ssrcs = list(dict.fromkeys(s.ssrc for s in m.ssrcs))
                r.rtx_ssrcs = {g[0]: g[1] for sem, g in m.ssrc_groups if sem == "FID" and len(g) >= 2}
        answer.media.append(_answer_media(m, r, opts, publish, setup, stream_id, tracks.get(m.kind)))
    if not any(r.codec is not None for r in results):
        why = "; ".join(f"{r.kind} mid={r.mid}: {r.reason}" for r in results)
        raise SdpNegotiateError(f"no usable media in the offer ({why})")
    mids = [r.mid for r in results if r.codec is not None and r.mid is not None]
    answer.add("group:BUNDLE " + " ".join(mids))
    answer.add(f"msid-semantic: WMS {stream_id}")
    return Negotiated(
        answer,
        results,
        setup,
        offer.media_attr(offer.media[0], "ice-ufrag"),
        offer.media_attr(offer.media[0], "ice-pwd"),
        offer.media[0].fingerprint or offer.fingerprint,
    )


def _answer_media(
    m: MediaDescription,
    r: NegotiatedMedia,
    opts: AnswerOptions,
    publish: bool,
    setup: str,
    stream_id: str,
    track: PlayTrack | None,
) -> MediaDescription:
    if r.codec is None:
        out = MediaDescription(m.kind, 0, m.proto, m.fmts[:1] or ["0"])
    else:
        out = MediaDescription(m.kind, 9, "UDP/TLS/RTP/SAVPF", [str(r.codec.pt)])
    out.add("IN IP4 0.0.0.0", "c")
    # Also on a rejected m-line: some stacks (aiortc) want ICE/DTLS lines on every m-line.
    out.add(f"ice-ufrag:{opts.ice_ufrag}")
    out.add(f"ice-pwd:{opts.ice_pwd}")
    out.add(f"fingerprint:sha-256 {opts.fingerprint}")
    out.add(f"setup:{setup}")
    if m.mid is not None:
        out.add(f"mid:{m.mid}")
    if r.codec is None:
        out.add("inactive")
        return out
    if not publish and track is not None:
        out.add(f"msid:{stream_id} {track.track_id}")
    if opts.twcc and r.twcc_id:
        out.add(str(ExtMap(r.twcc_id, TWCC_URI)))
    out.add("recvonly" if publish else "sendonly")
    out.add("rtcp-mux")
    out.add("rtcp-rsize")
    for a in r.codec.attributes():
        out.add(a)
    if not publish and track is not None:
        r.local_ssrc = track.ssrc
        out.add(f"ssrc:{track.ssrc} cname:{track.cname}")
        out.add(f"ssrc:{track.ssrc} msid:{stream_id} {track.track_id}")
    for c in opts.candidates:
        out.add(str(c))
    return out
