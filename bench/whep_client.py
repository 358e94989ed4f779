"""A WHEP player that does not decode: ICE (STUN checks), DTLS, SRTP and RTP counting only.

One :class:`WhepSession` per player, thousands per process: it POSTs a hand-built recvonly offer
(Opus + H.264 packetization-mode 1, BUNDLE, rtcp-mux, its own ICE credentials and a fingerprint of
a certificate from ``srs.protocol.rtc.dtls.generate_certificate``, ``setup:actpass``), takes the
answer's first UDP candidate, ICE credentials and fingerprint, sends a STUN binding request with
USE-CANDIDATE (aioice's STUN codec; again every :data:`CONSENT_S` as consent freshness), runs DTLS
with ``DtlsEndpoint`` (client when the answer says ``setup:passive``, as SRS does) and unprotects
SRTP with ``SrtpSession``. Per SSRC it counts packets, unique sequence numbers and the span they
cover (delivery = unique / (max seq - first seq + 1)), and for video the arrival wall time of each
new RTP timestamp (:attr:`SsrcStats.frame_arrivals`, for the latency estimate in whep_load.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import aiohttp
from aioice import stun

from srs.protocol.rtc.dtls import Certificate, DtlsEndpoint, DtlsError, Role, generate_certificate
from srs.protocol.rtc.ice import PacketKind, classify
from srs.protocol.rtc.rtp import SeqUnwrapper, peek_header
from srs.protocol.rtc.srtp import SrtpSession
from srs.util.errors import ParseError

CONSENT_S = 5.0
STUN_RETRY_S = 0.5
AUDIO_PT, VIDEO_PT = 111, 106


def _token(n: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in os.urandom(n))


H264_FMTP = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"


def build_offer(
    ufrag: str,
    pwd: str,
    fingerprint: str,
    *,
    video: tuple[int, str, str | None] = (VIDEO_PT, "H264/90000", H264_FMTP),
    direction: str = "recvonly",
    ssrcs: dict[str, int] | None = None,
    cname: str = "rawclient",
) -> str:
    """An audio (Opus) + video offer (``video`` = payload type, rtpmap, fmtp; H.264 42e01f
    packetization-mode 1 by default), BUNDLE, rtcp-mux, ``setup:actpass``, as a browser's minus what
    a counting player does not need (no rtx, no extensions). ``ssrcs`` (kind -> SSRC) adds the
    ``a=ssrc`` lines a publishing browser sends."""
    lines = [
        "v=0",
        f"o=- {int.from_bytes(os.urandom(4), 'big')} 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=msid-semantic: WMS raw",
    ]
    medias = [("audio", AUDIO_PT, "opus/48000/2", "minptime=10;useinbandfec=1"), ("video", *video)]
    for mid, (kind, pt, rtpmap, fmtp) in enumerate(medias):
        lines += [
            f"m={kind} 9 UDP/TLS/RTP/SAVPF {pt}",
            "c=IN IP4 0.0.0.0",
            "a=rtcp:9 IN IP4 0.0.0.0",
            f"a=ice-ufrag:{ufrag}",
            f"a=ice-pwd:{pwd}",
            "a=ice-options:trickle",
            f"a=fingerprint:sha-256 {fingerprint}",
            "a=setup:actpass",
            f"a=mid:{mid}",
            f"a={direction}",
            "a=rtcp-mux",
            f"a=rtpmap:{pt} {rtpmap}",
        ]
        if fmtp:
            lines.append(f"a=fmtp:{pt} {fmtp}")
        if kind == "video":
            lines += [f"a=rtcp-fb:{pt} nack", f"a=rtcp-fb:{pt} nack pli", "a=rtcp-rsize"]
        if ssrcs and kind in ssrcs:
            lines += [
                f"a=msid:raw {kind}0",
                f"a=ssrc:{ssrcs[kind]} cname:{cname}",
                f"a=ssrc:{ssrcs[kind]} msid:raw {kind}0",
            ]
    return "\r\n".join(lines) + "\r\n"


@dataclass
class Answer:
    ufrag: str
    pwd: str
    fingerprint: str
    setup: str
    candidate: tuple[str, int]


def parse_answer(sdp: str) -> Answer:
    """ICE credentials, fingerprint, setup and the first UDP candidate of an answer."""

    def first(pattern: str) -> str:
        m = re.search(pattern, sdp, re.M)
        if m is None:
            raise ValueError(f"answer without {pattern}")
        return m.group(1)

    cand = re.search(r"^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ", sdp, re.M | re.I)
    if cand is None:
        raise ValueError("answer without a udp candidate")
    return Answer(
        ufrag=first(r"^a=ice-ufrag:(\S+)"),
        pwd=first(r"^a=ice-pwd:(\S+)"),
        fingerprint=first(r"^a=fingerprint:sha-256 (\S+)"),
        setup=first(r"^a=setup:(\S+)"),
        candidate=(cand.group(1), int(cand.group(2))),
    )


@dataclass
class SsrcStats:
    pt: int
    packets: int = 0
    bytes: int = 0
    first_seq: int | None = None
    max_seq: int = 0
    unique: set[int] = field(default_factory=set)
    unwrap: SeqUnwrapper = field(default_factory=SeqUnwrapper)
    last_ts: int | None = None
    frame_arrivals: list[tuple[int, float]] = field(default_factory=list)  # (rtp ts, wall time)

    @property
    def expected(self) -> int:
        return 0 if self.first_seq is None else self.max_seq - self.first_seq + 1


@dataclass
class SessionResult:
    ok: bool = False
    error: str | None = None
    connect_s: float | None = None  # POST -> DTLS connected
    first_rtp_s: float | None = None  # POST -> first RTP decrypted
    srtp_errors: int = 0
    rtcp: int = 0
    ssrcs: dict[int, SsrcStats] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "error": self.error,
            "connect_s": self.connect_s,
            "ssrcs": {
                str(k): {"pt": v.pt, "packets": v.packets, "unique": len(v.unique), "expected": v.expected}
                for k, v in self.ssrcs.items()
            },
        }


class WhepSession(asyncio.DatagramProtocol):
    """One player: :meth:`run` signals, connects and counts until ``stop`` is set."""

    def __init__(self, cert: Certificate | None = None, *, video_pt: int | None = None) -> None:
        self.cert = cert or generate_certificate()
        self.ufrag = _token(8)
        self.pwd = _token(24)
        self.result = SessionResult()
        self.answer: Answer | None = None
        self.dtls: DtlsEndpoint | None = None
        self.srtp: SrtpSession | None = None
        self.location: str | None = None
        self.video_pt = video_pt  # None: the answer's video payload type
        self.transport: asyncio.DatagramTransport | None = None
        self.connected = asyncio.Event()
        self.ice_ok = asyncio.Event()
        self._t0 = 0.0
        self._dtls_timer: asyncio.TimerHandle | None = None
        self._consent: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------ signalling + connect

    def offer(self) -> str:
        return build_offer(self.ufrag, self.pwd, self.cert.fingerprint)

    async def signal(self, http: aiohttp.ClientSession, url: str) -> str:
        self._t0 = time.monotonic()
        async with http.post(url, data=self.offer(), headers={"Content-Type": "application/sdp"}) as r:
            body = await r.text()
            if r.status != 201:
                raise ConnectionError(f"WHEP {r.status}: {body[:200]}")
            loc = r.headers.get("Location")
            self.location = urljoin(url, loc) if loc else None
        return body

    async def connect(self, answer_sdp: str, timeout_s: float = 10.0) -> None:
        """ICE then DTLS towards the answer's candidate; raises on failure or timeout."""
        if not self._t0:
            self._t0 = time.monotonic()
        self.answer = a = parse_answer(answer_sdp)
        if self.video_pt is None:
            m = re.search(r"^m=video \d+ \S+ (\d+)", answer_sdp, re.M)
            self.video_pt = int(m.group(1)) if m else VIDEO_PT
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, remote_addr=a.candidate)
        role: Role = "client" if a.setup in ("passive", "actpass") else "server"
        self.dtls = DtlsEndpoint(self.cert, role, a.fingerprint)
        consent = asyncio.ensure_future(self._stun_loop())
        try:
            await asyncio.wait_for(self.connected.wait(), timeout_s)
        except TimeoutError:
            consent.cancel()
            raise ConnectionError(
                "ICE/DTLS timeout" + ("" if self.ice_ok.is_set() else " (no STUN answer)")
            ) from None
        self._consent = consent
        self.result.connect_s = time.monotonic() - self._t0

    def _binding_request(self) -> bytes:
        assert self.answer is not None
        msg = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        msg.attributes["USERNAME"] = f"{self.answer.ufrag}:{self.ufrag}"
        msg.attributes["PRIORITY"] = 1853824767
        msg.attributes["ICE-CONTROLLING"] = int.from_bytes(os.urandom(8), "big")
        msg.attributes["USE-CANDIDATE"] = None
        msg.add_message_integrity(self.answer.pwd.encode())
        msg.add_fingerprint()
        return bytes(msg)

    async def _stun_loop(self) -> None:
        while self.transport is not None:
            self.transport.sendto(self._binding_request())
            await asyncio.sleep(CONSENT_S if self.ice_ok.is_set() else STUN_RETRY_S)

    def _send_dtls(self, datagrams: list[bytes]) -> None:
        if self.transport is not None:
            for d in datagrams:
                self.transport.sendto(d)
        self._arm_dtls_timer()

    def _arm_dtls_timer(self) -> None:
        if self._dtls_timer is not None:
            self._dtls_timer.cancel()
            self._dtls_timer = None
        t = self.dtls.timeout() if self.dtls is not None else None
        if t is not None:
            self._dtls_timer = asyncio.get_running_loop().call_later(max(t, 0.01), self._on_dtls_timer)

    def _on_dtls_timer(self) -> None:
        self._dtls_timer = None
        if self.dtls is not None:
            try:
                self._send_dtls(self.dtls.on_timeout())
            except DtlsError as e:
                self._fail(str(e))

    def _fail(self, why: str) -> None:
        if self.result.error is None:
            self.result.error = why

    # ------------------------------------------------------------------ datagrams

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        kind = classify(data)
        if kind == PacketKind.RTP:
            self._on_rtp(data)
        elif kind == PacketKind.RTCP:
            if self.srtp is not None:
                try:
                    self.srtp.unprotect_rtcp(data)
                    self.result.rtcp += 1
                except ParseError:
                    self.result.srtp_errors += 1
        elif kind == PacketKind.STUN:
            self._on_stun(data)
        elif kind == PacketKind.DTLS and self.dtls is not None:
            try:
                out = self.dtls.receive(data)
            except DtlsError as e:
                self._fail(str(e))
                return
            self._send_dtls(out)
            if self.dtls.keys is not None and self.srtp is None:
                self.srtp = SrtpSession(self.dtls.keys)
                self.result.ok = True
                self.connected.set()

    def _on_stun(self, data: bytes) -> None:
        try:
            msg = stun.parse_message(data)
        except ValueError:
            return
        if msg.message_class != stun.Class.RESPONSE or self.ice_ok.is_set():
            return
        self.ice_ok.set()
        if self.dtls is not None and self.dtls.role == "client":
            self._send_dtls(self.dtls.start())

    def _on_rtp(self, data: bytes) -> None:
        if self.srtp is None:
            return
        try:
            pkt = self.srtp.unprotect_rtp(data)
        except ParseError:
            self.result.srtp_errors += 1
            return
        now = time.time()
        pt, seq, ts, ssrc = peek_header(pkt)
        st = self.result.ssrcs.get(ssrc)
        if st is None:
            st = self.result.ssrcs[ssrc] = SsrcStats(pt)
            if self.result.first_rtp_s is None:
                self.result.first_rtp_s = time.monotonic() - self._t0
        st.packets += 1
        st.bytes += len(pkt)
        s = st.unwrap.unwrap(seq)
        if st.first_seq is None or s < st.first_seq:
            st.first_seq = s
        st.max_seq = max(st.max_seq, s)
        st.unique.add(s)
        if pt == self.video_pt and ts != st.last_ts:
            st.last_ts = ts
            st.frame_arrivals.append((ts, now))
        self.on_packet(pkt)

    def on_packet(self, packet: bytes) -> None:
        """Each decrypted RTP packet, after counting (a hook for subclasses keeping them)."""

    # ------------------------------------------------------------------ whole run

    async def close(self, http: aiohttp.ClientSession | None = None) -> None:
        if self._consent is not None:
            self._consent.cancel()
        if self._dtls_timer is not None:
            self._dtls_timer.cancel()
        if self.dtls is not None and self.transport is not None:
            with contextlib.suppress(DtlsError):
                for d in self.dtls.close():
                    self.transport.sendto(d)
        if self.transport is not None:
            self.transport.close()
        if http is not None and self.location:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with http.delete(self.location):
                    pass

    async def run(self, http: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> SessionResult:
        try:
            await self.connect(await self.signal(http, url))
            await stop.wait()
        except (TimeoutError, ConnectionError, ValueError, aiohttp.ClientError) as e:
            self._fail(f"{type(e).__name__}: {e}")
        finally:
            await self.close(http)
        return self.result
