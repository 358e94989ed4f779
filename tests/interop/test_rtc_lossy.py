"""WebRTC through an impairing UDP relay (client <-> support.lossy.LossyRelay <-> our server), with
aiortc as the browser; the answer's candidate is rewritten to the relay.

* DTLS: the handshake completes when any single flight is lost (in both directions, with our
  server as DTLS server, ``dtls_role passive``, and as DTLS client, ``dtls_role active``: aiortc
  offers ``actpass`` and is then the DTLS server), when a flight is lost twice (the timer doubles),
  when every DTLS datagram is duplicated, and when a flight arrives with a garbled record header or
  a corrupted encrypted Finished (dropped as if lost, the retransmission brings it again). The
  flight map (one datagram per flight; the clean run checks it, see ``FLIGHTS``)::

      passive (SRS = DTLS server)             active (SRS = DTLS client)
      up#1   ClientHello                      down#1 ClientHello
      down#1 ServerHello..ServerHelloDone     up#1   ServerHello..ServerHelloDone
      up#2   Certificate..Finished            down#2 Certificate..Finished
      down#2 ChangeCipherSpec, Finished       up#2   ChangeCipherSpec, Finished

  Random corruption of plaintext handshake messages is not tested: a changed byte that keeps the
  framing enters the handshake transcript and fails the Finished check (or the certificate or
  signature) in every DTLS 1.2 stack, aiortc's included; UDP checksums keep it off real networks.
* NACK: a WHEP player losing 5% of the RTP gets the lost video packets again (the relay sees the
  same sequence numbers pass later; the server logs ``resent=``); a WHIP publisher losing 5%
  upstream is NACKed (``nacks=`` at unpublish; aiortc's retransmissions pass the relay) and the
  RTMP output decodes.
* Audio jitter: 5% reordering, 40 ms delay and duplication upstream leave the RTMP AAC timeline
  without a gap.
* Corruption: 2% of the SRTP/SRTCP datagrams corrupted both ways: the server drops what fails
  authentication (and logs the count), the sessions stay up, the outputs decode.

One server for the module; the relays make every case independent, so each test runs its cases
in parallel (asyncio.gather). Seeds make the impairments reproducible; nothing asserts timings.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from srs.protocol.rtc.ice import PacketKind
from srs.remux.rtc_out import VIDEO_SSRC
from support.lossy import Impairment, LossyRelay
from support.media import clip
from support.rtc import PlayResult, PublishResult, rewrite_candidates, whep_play, whip_publish
from support.server import Ports, SrsProcess, render_conf
from support.tools import Clients, probe, publish_file

pytestmark = pytest.mark.interop

DTLS, RTP, RTCP = PacketKind.DTLS, PacketKind.RTP, PacketKind.RTCP
ACTIVE_VHOST = "active.test"
VHOST = "rtc { enabled on; rtmp_to_rtc on; rtc_to_rtmp on; }"
EXTRA = f"""
rtc_server {{ enabled on; listen 0; candidate 127.0.0.1; }}
vhost {ACTIVE_VHOST} {{ rtc {{ enabled on; rtmp_to_rtc on; dtls_role active; }} }}
"""
# role -> the handshake's datagrams in order: (direction, index of DTLS datagram, handshake messages)
FLIGHTS: dict[str, list[tuple[str, int, list[str]]]] = {
    "passive": [
        ("up", 1, ["ClientHello"]),
        (
            "down",
            1,
            ["ServerHello", "Certificate", "ServerKeyExchange", "CertificateRequest", "ServerHelloDone"],
        ),
        ("up", 2, ["Certificate", "ClientKeyExchange", "CertificateVerify", "ChangeCipherSpec", "Encrypted"]),
        ("down", 2, ["ChangeCipherSpec", "Encrypted"]),
    ],
    "active": [
        ("down", 1, ["ClientHello"]),
        (
            "up",
            1,
            ["ServerHello", "Certificate", "ServerKeyExchange", "CertificateRequest", "ServerHelloDone"],
        ),
        (
            "down",
            2,
            ["Certificate", "ClientKeyExchange", "CertificateVerify", "ChangeCipherSpec", "Encrypted"],
        ),
        ("up", 2, ["ChangeCipherSpec", "Encrypted"]),
    ],
}
_HS_TYPES = {
    1: "ClientHello",
    2: "ServerHello",
    11: "Certificate",
    12: "ServerKeyExchange",
    13: "CertificateRequest",
    14: "ServerHelloDone",
    15: "CertificateVerify",
    16: "ClientKeyExchange",
}
AAC_FRAME_S = 1024 / 48000  # Opus -> AAC at 48 kHz


def dtls_messages(datagram: bytes) -> list[str]:
    """The records of a DTLS datagram by name (epoch-1 records are "Encrypted")."""
    out, pos = [], 0
    while pos + 13 <= len(datagram):
        ctype, epoch = datagram[pos], int.from_bytes(datagram[pos + 3 : pos + 5], "big")
        length = int.from_bytes(datagram[pos + 11 : pos + 13], "big")
        if epoch > 0:
            out.append("Encrypted")
        elif ctype == 20:
            out.append("ChangeCipherSpec")
        elif ctype == 22:
            name = _HS_TYPES.get(datagram[pos + 13], f"handshake{datagram[pos + 13]}")
            if not out or out[-1] != name:  # a message cut into fragments is one message
                out.append(name)
        else:
            out.append(f"type{ctype}")
        pos += 13 + length
    return out


# ---------------------------------------------------------------------------------- fixtures


@dataclass
class Lossy:
    srv: SrsProcess
    udp: int  # the server's media port
    streams: dict[str, str]  # role -> an RTMP stream publishing bbb.flv in that role's vhost

    def whep(self, stream: str, vhost: str | None = None) -> str:
        v = f"&vhost={vhost}" if vhost else ""
        return f"http://127.0.0.1:{self.srv.ports.api}/rtc/v1/whep/?app=live&stream={stream}{v}"

    def whip(self, stream: str) -> str:
        return f"http://127.0.0.1:{self.srv.ports.api}/rtc/v1/whip/?app=live&stream={stream}"

    def relay(
        self, up: Impairment | None = None, down: Impairment | None = None, seed: int = 1
    ) -> LossyRelay:
        return LossyRelay(("127.0.0.1", self.udp), up=up, down=down, seed=seed)


def _name() -> str:
    return f"s{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def lossy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lossy]:
    ports = Ports()
    srv = SrsProcess(
        tmp_path_factory.mktemp("rtc-lossy"), render_conf(ports, vhost_body=VHOST, extra=EXTRA), ports
    )
    srv.start()
    clients = Clients()
    try:
        m = re.search(r"RTC server listen udp=(\d+)", srv.wait_log("RTC server listen udp=", 10))
        assert m is not None
        streams = {"passive": _name(), "active": _name()}
        for role, stream in streams.items():
            app = "live" if role == "passive" else f"live?vhost={ACTIVE_VHOST}"
            clients.add(
                publish_file(f"rtmp://127.0.0.1:{ports.rtmp}/{app}/{stream}", clip("bbb.flv"), loops=-1)
            )
            srv.wait_log(f"/live/{stream}", 10)
        yield Lossy(srv, int(m.group(1)), streams)
    finally:
        clients.close()
        code = srv.stop()
        print(f"----- server log (exit {code}) -----\n{srv.log()[-20000:]}")


# ---------------------------------------------------------------------------------- helpers


@dataclass
class Seen:
    """What passed a relay direction, by DTLS datagram index and by RTP (ssrc, seq)."""

    dtls: dict[int, bytes] = field(default_factory=dict)
    rtp: dict[int, tuple[int, int]] = field(default_factory=dict)  # index of kind -> (ssrc, seq)

    def observe(self, data: bytes, kind: PacketKind, index: int) -> bool:
        if kind == DTLS:
            self.dtls[index] = data
        elif kind == RTP and len(data) >= 12:
            self.rtp[index] = (int.from_bytes(data[8:12], "big"), int.from_bytes(data[2:4], "big"))
        return False  # as drop_if: never drops


def observed(imp: Impairment | None = None) -> tuple[Impairment, Seen]:
    seen = Seen()
    imp = imp or Impairment()
    imp.drop_if = seen.observe
    return imp, seen


def recovered(relay: LossyRelay, direction: str, seen: Seen, ssrc: int | None = None) -> tuple[int, int]:
    """(RTP packets dropped, of those the ones that passed later: retransmitted after a NACK)."""
    lost = {seen.rtp[e.index] for e in relay.events(direction, RTP, "drop") if e.index in seen.rtp}
    passed = {seen.rtp[e.index] for e in relay.events(direction, RTP, "pass") if e.index in seen.rtp}
    if ssrc is not None:
        lost = {p for p in lost if p[0] == ssrc}
    return len(lost), len(lost & passed)


async def play_through(
    lossy: Lossy, relay: LossyRelay, url: str, seconds: float, *, until_frames: int = 0
) -> PlayResult:
    port = await relay.start()
    try:
        return await whep_play(
            url,
            seconds,
            until_frames=until_frames,
            answer_hook=lambda s: rewrite_candidates(s, "127.0.0.1", port),
        )
    finally:
        await relay.close()


async def publish_through(lossy: Lossy, relay: LossyRelay, stream: str, seconds: float) -> PublishResult:
    port = await relay.start()
    try:
        return await whip_publish(
            lossy.whip(stream),
            clip("bbb.flv"),
            seconds,
            answer_hook=lambda s: rewrite_candidates(s, "127.0.0.1", port),
        )
    finally:
        await relay.close()


def handshake(relay: LossyRelay) -> list[tuple[str, int]]:
    """The DTLS datagrams that passed before the server's first RTP packet: the handshake."""
    out = []
    for e in relay.log:
        if e.kind == RTP and e.direction == "down":
            break
        if e.kind == DTLS and e.action == "pass":
            out.append((e.direction, e.index))
    return out


def decode_errors(url: str, frames: int) -> tuple[int, list[str]]:
    """ffmpeg decodes ``frames`` video frames of ``url``: (exit code, its error lines)."""
    r = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-rw_timeout",
            "5000000",
            "-i",
            url,
            "-map",
            "0:v",
            "-frames:v",
            str(frames),
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        timeout=60,
        text=True,
    )
    return r.returncode, [ln for ln in r.stderr.splitlines() if ln.strip()]


def freezes(got: PlayResult, gap_s: float = 0.5) -> int:
    """Pauses longer than ``gap_s`` between decoded video frames."""
    t = got.video_times
    return sum(1 for a, b in itertools.pairwise(t) if b - a > gap_s)


# ---------------------------------------------------------------------------------- DTLS


def _url(lossy: Lossy, role: str) -> str:
    return lossy.whep(lossy.streams[role], ACTIVE_VHOST if role == "active" else None)


def _assert_played(name: str, got: PlayResult) -> None:
    assert got.connected, (name, got.states)
    assert got.video_frames >= 10 and set(got.video_sizes) == {(640, 360)}, (name, got)


@pytest.mark.parametrize("role", ["passive", "active"])
def test_dtls_handshake_survives_any_lost_flight(lossy: Lossy, role: str) -> None:
    """A clean handshake shows the flight map; then each flight lost once (and the first flight
    of each direction lost twice: 1 s then 2 s of OpenSSL's timer) still connects and plays."""
    flights = FLIGHTS[role]
    cases: dict[str, tuple[str, set[int]]] = {"clean": ("up", set())}
    for direction, k, msgs in flights:
        cases[f"{direction}#{k} {msgs[0]}"] = (direction, {k})
    for direction in ("up", "down"):
        cases[f"{direction}#1 twice"] = (direction, {1, 2})
    seen: dict[tuple[str, str], Seen] = {}
    relays: dict[str, LossyRelay] = {}

    async def one(name: str, direction: str, drop: set[int]) -> PlayResult:
        up, seen[name, "up"] = observed(Impairment(drop_nth={DTLS: drop} if direction == "up" else {}))
        down, seen[name, "down"] = observed(Impairment(drop_nth={DTLS: drop} if direction == "down" else {}))
        relay = relays[name] = lossy.relay(up, down)
        return await play_through(lossy, relay, _url(lossy, role), 20, until_frames=10)

    async def run() -> list[PlayResult]:
        return await asyncio.gather(*(one(n, d, k) for n, (d, k) in cases.items()))

    results = dict(zip(cases, asyncio.run(run()), strict=True))
    clean = relays["clean"]
    assert handshake(clean) == [(d, k) for d, k, _ in flights]
    for direction, k, msgs in flights:  # the messages of each flight, read from what passed
        assert dtls_messages(seen["clean", direction].dtls[k]) == msgs, (direction, k)
    for name, got in results.items():
        _assert_played(name, got)
        direction, drop = cases[name]
        relay = relays[name]
        assert [e.index for e in relay.events(direction, DTLS, "drop")] == sorted(drop), name
        # the dropped flight was sent again: its messages passed after the drops
        if drop:
            msgs = next(m for d, k, m in flights if d == direction and k == min(drop))
            later = [
                dtls_messages(seen[name, direction].dtls[e.index])
                for e in relay.events(direction, DTLS, "pass")
            ]
            assert msgs in later, (name, later)
    if role == "passive":  # our last flight (down#2) lost: the player gets the GOP cache again
        assert lossy.srv.count_log("the peer missed our last DTLS flight") >= 1


def _garble_header(data: bytes) -> bytes:
    """The first record's length made longer than the datagram: not a well-formed record."""
    return data[:11] + len(data).to_bytes(2, "big") + data[13:]


def _garble_tail(data: bytes) -> bytes:
    """The last byte flipped: the encrypted Finished fails its authentication."""
    return data[:-1] + bytes([data[-1] ^ 0x5A])


@pytest.mark.parametrize("role", ["passive", "active"])
def test_dtls_duplicated_and_garbled_datagrams_are_ignored(lossy: Lossy, role: str) -> None:
    """Every DTLS datagram twice; each flight once with a garbled record header; each flight that
    ends with the encrypted Finished once with that record corrupted: all connect and play."""
    flights = FLIGHTS[role]
    cases: dict[str, tuple[str, Impairment]] = {
        "duplicated": ("both", Impairment(duplicate=1.0, kinds={DTLS})),
    }

    def at(k: int, f: Callable[[bytes], bytes]) -> Callable[[bytes, PacketKind, int], bytes]:
        return lambda d, kind, i: f(d) if kind == DTLS and i == k else d

    for direction, k, msgs in flights:
        cases[f"{direction}#{k} header"] = (direction, Impairment(mangle=at(k, _garble_header)))
        if msgs[-1] == "Encrypted":
            cases[f"{direction}#{k} finished"] = (direction, Impairment(mangle=at(k, _garble_tail)))

    async def one(direction: str, imp: Impairment, seed: int) -> tuple[PlayResult, LossyRelay]:
        up = imp if direction in ("up", "both") else None
        down = imp if direction in ("down", "both") else None
        relay = lossy.relay(up, down, seed=seed)
        return await play_through(lossy, relay, _url(lossy, role), 20, until_frames=10), relay

    async def run() -> list[tuple[PlayResult, LossyRelay]]:
        return await asyncio.gather(*(one(d, imp, i) for i, (d, imp) in enumerate(cases.values())))

    for name, (got, relay) in zip(cases, asyncio.run(run()), strict=True):
        _assert_played(name, got)
        direction = cases[name][0]
        if direction == "both":
            assert relay.stats["up"]["duplicated"] >= 2 and relay.stats["down"]["duplicated"] >= 2, name
        else:
            assert relay.stats[direction]["corrupted"] == 1, name


# ---------------------------------------------------------------------------------- NACK


def _stop_line(log: str, pattern: str) -> re.Match[str]:
    m = re.search(pattern, log)
    assert m is not None, f"{pattern!r} not in the server log"
    return m


def test_nack_recovers_downstream_loss(lossy: Lossy) -> None:
    """5% of the RTP to a WHEP player lost: aiortc NACKs, the server resends from its cache, the
    video keeps its rate against a clean player of the same clip."""
    stream = _name()
    clients = Clients()
    try:
        clients.add(
            publish_file(f"rtmp://127.0.0.1:{lossy.srv.ports.rtmp}/live/{stream}", clip("bbb.flv"), loops=-1)
        )
        lossy.srv.wait_log(f"url=/live/{stream}", 10)
        down, seen = observed(Impairment(loss=0.05, kinds={RTP}))
        relay = lossy.relay(down=down, seed=7)
        clean_relay = lossy.relay()

        async def run() -> tuple[PlayResult, PlayResult]:
            return await asyncio.gather(
                play_through(lossy, relay, lossy.whep(stream), 10),
                play_through(lossy, clean_relay, _url(lossy, "passive"), 10),
            )

        got, clean = asyncio.run(run())
    finally:
        clients.close()
    assert got.connected and clean.connected
    lost, resent = recovered(relay, "down", seen, VIDEO_SSRC)
    print(f"down: video lost={lost} resent={resent} frames={got.video_frames}/{clean.video_frames}")
    print(f"freezes={freezes(got)}/{freezes(clean)}")
    assert lost >= 10 and resent >= lost // 2, (lost, resent)
    m = _stop_line(
        lossy.srv.wait_log(f"RTC play stop url=/live/{stream} ", 10),
        rf"RTC play stop url=/live/{stream} .*nacked=(\d+) resent=(\d+)",
    )
    assert int(m.group(1)) > 0 and int(m.group(2)) >= resent // 2, m.group(0)
    assert got.video_frames >= 0.8 * clean.video_frames, (got.video_frames, clean.video_frames)
    assert freezes(got) <= freezes(clean) + 2, (got.video_times, clean.video_times)
    assert not got.errors


def test_whip_publisher_upstream_loss_is_nacked(lossy: Lossy) -> None:
    """5% of a WHIP publisher's RTP lost on the way in: the server NACKs, aiortc retransmits, the
    RTMP output has both tracks and its video decodes."""
    stream = _name()
    up, seen = observed(Impairment(loss=0.05, kinds={RTP}))
    relay = lossy.relay(up=up, seed=11)
    rtmp = f"rtmp://127.0.0.1:{lossy.srv.ports.rtmp}/live/{stream}"

    async def run() -> tuple[PublishResult, object, tuple[int, list[str]]]:
        pub = asyncio.ensure_future(publish_through(lossy, relay, stream, 10))
        await asyncio.to_thread(lossy.srv.wait_log, f"RTC publish ip=127.0.0.1 url=/live/{stream}", 10)
        await asyncio.sleep(2)
        info = await asyncio.to_thread(probe, rtmp, packets=150, rw_timeout_s=5)
        dec = await asyncio.to_thread(decode_errors, rtmp, 75)
        return await pub, info, dec

    pub, info, (code, errors) = asyncio.run(run())
    assert pub.connected and pub.delete_status == 200, pub
    lost, resent = recovered(relay, "up", seen)
    print(f"up: lost={lost} resent={resent} decode errors={errors}")
    assert lost >= 10 and resent >= lost // 2, (lost, resent)
    m = _stop_line(
        lossy.srv.wait_log(f"RTC unpublish url=/live/{stream} ", 10),
        rf"RTC unpublish url=/live/{stream} .*nacks=(\d+)",
    )
    assert int(m.group(1)) > 0, m.group(0)
    v, a = info.video, info.audio  # type: ignore[attr-defined]
    assert v is not None and v.codec_name == "h264" and v.frames >= 40 and v.key[0], info
    assert a is not None and a.codec_name == "aac" and a.frames >= 40, info
    assert code == 0 and len(errors) <= 5, errors


# ---------------------------------------------------------------------------------- jitter, corruption


def test_audio_jitter_upstream_leaves_no_gap(lossy: Lossy) -> None:
    """5% reordering, 40 ms delay and 5% duplication on a WHIP publisher's way in (no loss): the
    RTMP output's AAC frames follow each other without a gap, the video decodes."""
    stream = _name()
    relay = lossy.relay(up=Impairment(reorder=0.05, delay_ms=40, duplicate=0.05), seed=3)
    rtmp = f"rtmp://127.0.0.1:{lossy.srv.ports.rtmp}/live/{stream}"

    async def run() -> tuple[PublishResult, object, tuple[int, list[str]]]:
        pub = asyncio.ensure_future(publish_through(lossy, relay, stream, 10))
        await asyncio.to_thread(lossy.srv.wait_log, f"RTC publish ip=127.0.0.1 url=/live/{stream}", 10)
        await asyncio.sleep(2)
        info = await asyncio.to_thread(probe, rtmp, packets=300, rw_timeout_s=5)
        dec = await asyncio.to_thread(decode_errors, rtmp, 50)
        return await pub, info, dec

    pub, info, (code, errors) = asyncio.run(run())
    assert pub.connected, pub
    assert relay.stats["up"]["reordered"] > 5 and relay.stats["up"]["duplicated"] > 5, relay.stats
    a, v = info.audio, info.video  # type: ignore[attr-defined]
    assert a is not None and a.codec_name == "aac" and a.frames >= 100, info
    deltas = [b - c for c, b in itertools.pairwise(a.dts)]
    # FLV carries milliseconds: 21 or 22 ms apart, never a gap (nothing was lost) nor a step back
    gaps = [(round(a.dts[i], 3), round(d, 3)) for i, d in enumerate(deltas) if abs(d - AAC_FRAME_S) > 0.002]
    moved = [ln for ln in lossy.srv.log().splitlines() if "audio moved" in ln]
    assert not gaps, ("AAC (dts, delta) off the 21.3 ms step", gaps, moved, relay.stats["up"])
    assert v is not None and v.frames >= 40 and v.key[0], info
    assert code == 0 and len(errors) <= 5, errors


def test_corrupted_srtp_both_ways_keeps_the_sessions(lossy: Lossy) -> None:
    """2% of the SRTP/SRTCP datagrams corrupted both ways for a WHEP player and a WHIP publisher (25% of
    the SRTCP down to the publisher, its only traffic that way):
    failed authentication drops them (the server counts them), the sessions stay, outputs decode."""
    stream = _name()
    imp = {"corrupt": 0.02, "kinds": {RTP, RTCP}}
    play_relay = lossy.relay(Impairment(**imp), Impairment(**imp), seed=5)  # type: ignore[arg-type]
    # the way down to a publisher carries RTCP only (~40 datagrams here): 2% would often corrupt none
    pub_down = Impairment(corrupt=0.25, kinds={RTCP})
    pub_relay = lossy.relay(Impairment(**imp), pub_down, seed=6)  # type: ignore[arg-type]
    rtmp = f"rtmp://127.0.0.1:{lossy.srv.ports.rtmp}/live/{stream}"

    async def run() -> tuple[PlayResult, PublishResult, object, tuple[int, list[str]]]:
        play = asyncio.ensure_future(play_through(lossy, play_relay, _url(lossy, "passive"), 10))
        pub = asyncio.ensure_future(publish_through(lossy, pub_relay, stream, 10))
        await asyncio.to_thread(lossy.srv.wait_log, f"RTC publish ip=127.0.0.1 url=/live/{stream}", 10)
        await asyncio.sleep(2)
        info = await asyncio.to_thread(probe, rtmp, packets=150, rw_timeout_s=5)
        dec = await asyncio.to_thread(decode_errors, rtmp, 50)
        return await play, await pub, info, dec

    got, pub, info, (code, errors) = asyncio.run(run())
    for r in (play_relay, pub_relay):
        assert r.stats["up"]["corrupted"] > 0 and r.stats["down"]["corrupted"] > 0, r.stats
    assert got.connected and "failed" not in got.states and got.video_frames >= 100, got
    assert pub.connected and pub.delete_status == 200, pub
    log = lossy.srv.wait_log(f"RTC unpublish url=/live/{stream} ", 10)
    assert f"RTC unpublish url=/live/{stream} (deleted by the client" in log
    assert re.search(r"RTC session \S+: dropped a packet \(\d+ so far\)", log), "SRTP failures counted"
    v, a = info.video, info.audio  # type: ignore[attr-defined]
    assert v is not None and v.frames >= 40 and v.key[0] and a is not None and a.frames >= 40, info
    assert code == 0 and len(errors) <= 5, errors
