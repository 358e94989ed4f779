"""A raw (non-aiortc) WebRTC client for H.264 and H.265: WHEP player that keeps every RTP packet,
WHIP publisher that packetizes an FLV file itself. aiortc has no H.265, so these build on
bench/whep_client.py's :class:`WhepSession` (hand-built SDP, STUN with USE-CANDIDATE, DTLS with our
``DtlsEndpoint``, SRTP with our ``SrtpSession``).

* :func:`build_raw_offer`: one audio (Opus) + one video (``H264`` packetization-mode 1, or ``H265``)
  m-line, ``recvonly`` (play) or ``sendonly`` (publish, with ``a=ssrc`` cname/msid lines).
* :class:`RawPeer`: a :class:`WhepSession` with that offer; as a player it keeps the decrypted RTP
  packets (:attr:`RawPeer.received`), as a publisher it sends SRTP/SRTCP (:meth:`RawPeer.send_rtp`,
  :meth:`RawPeer.send_sender_report`).
* :func:`load_flv_media`: an FLV (H.264 avcC or E-RTMP HEVC hvcC + AAC) read with PyAV into access
  units (NAL units + parameter sets) and Opus packets (the AAC decoded, resampled to 48 kHz stereo
  and encoded with libopus, 20 ms frames).
* :func:`publish_media`: sends a :class:`RawMedia` in real time (looped), packetized with
  ``payload_h264``/``payload_h265.packetize`` (parameter sets before each keyframe), with an RTCP
  sender report per track every second (NTP = wall clock, so the server aligns audio and video).
* :func:`decode_received`: depacketizes a player's video with the codec's ``assembler()`` and decodes
  it with PyAV (``h264``/``hevc``), decodes its Opus with PyAV.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from array import array
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
import av

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from srs.codec.h264 import parse_avc_config
from srs.codec.h265 import parse_hevc_config
from srs.codec.nalu import split_avcc, to_annexb
from srs.protocol.rtc import payload_h264, payload_h265
from srs.protocol.rtc.rtcp import RtcpSr
from srs.protocol.rtc.rtp import RtpPacket
from srs.util.errors import ParseError
from whep_client import WhepSession, build_offer

AUDIO_PT = 111
VIDEO_PTS = {"h264": 106, "h265": 49}
NTP_EPOCH = 2208988800  # seconds from 1900 to 1970
SR_INTERVAL_S = 1.0


def _video_line(codec: str) -> tuple[str, str | None]:
    if codec == "h265":
        return "H265/90000", None
    return "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"


def build_raw_offer(
    ufrag: str,
    pwd: str,
    fingerprint: str,
    *,
    codec: str = "h264",
    direction: str = "recvonly",
    ssrcs: dict[str, int] | None = None,
    cname: str = "rawclient",
) -> str:
    """An offer of Opus + ``codec`` video (``h264``/``h265``), BUNDLE, rtcp-mux, ``setup:actpass``.
    ``ssrcs`` (kind -> SSRC) adds ``a=ssrc`` lines, as a publishing browser does."""
    vmap, vfmtp = _video_line(codec)
    return build_offer(
        ufrag,
        pwd,
        fingerprint,
        video=(VIDEO_PTS[codec], vmap, vfmtp),
        direction=direction,
        ssrcs=ssrcs,
        cname=cname,
    )


@dataclass(slots=True)
class Received:
    """One decrypted RTP packet as a player got it."""

    pt: int
    seq: int
    timestamp: int
    marker: bool
    payload: bytes
    arrival: float  # time.monotonic()


class RawPeer(WhepSession):
    """A WHEP player (``direction="recvonly"``) or WHIP publisher (``"sendonly"``) of ``codec``."""

    def __init__(self, *, codec: str = "h264", direction: str = "recvonly", keep: bool = True) -> None:
        super().__init__(video_pt=VIDEO_PTS[codec])
        self.codec = codec
        self.direction = direction
        self.keep = keep
        self.received: list[Received] = []
        self.ssrcs = {"audio": secrets.randbits(32) | 1, "video": secrets.randbits(32) | 1}
        self.sent = {"audio": [0, 0], "video": [0, 0]}  # packets, payload octets (for the SR)

    def offer(self) -> str:
        ssrcs = self.ssrcs if self.direction == "sendonly" else None
        return build_raw_offer(
            self.ufrag,
            self.pwd,
            self.cert.fingerprint,
            codec=self.codec,
            direction=self.direction,
            ssrcs=ssrcs,
        )

    def on_packet(self, packet: bytes) -> None:
        if not self.keep:
            return
        try:
            pkt = RtpPacket.parse(packet)
        except ParseError:
            return
        self.received.append(
            Received(
                pkt.payload_type,
                pkt.sequence_number,
                pkt.timestamp,
                pkt.marker,
                pkt.payload,
                time.monotonic(),
            )
        )

    # ------------------------------------------------------------------ publishing

    def send_rtp(self, pkt: RtpPacket) -> None:
        if self.srtp is None or self.transport is None:
            return
        self.transport.sendto(self.srtp.protect_rtp(bytes(pkt)))

    def send_sender_report(self, kind: str, rtp_timestamp: int, wall: float) -> None:
        if self.srtp is None or self.transport is None:
            return
        secs = wall + NTP_EPOCH
        ntp = (int(secs) << 32) | int((secs % 1) * (1 << 32))
        packets, octets = self.sent[kind]
        sr = RtcpSr(self.ssrcs[kind], ntp, rtp_timestamp & 0xFFFFFFFF, packets, octets)
        self.transport.sendto(self.srtp.protect_rtcp(bytes(sr)))


# ---------------------------------------------------------------------- media from a file


@dataclass
class AccessUnit:
    t: float  # seconds from the file's start (DTS; the clips have no B-frames)
    nalus: list[bytes]
    key: bool


@dataclass
class RawMedia:
    codec: str  # h264 / h265
    width: int
    height: int
    parameter_sets: list[bytes]
    video: list[AccessUnit] = field(default_factory=list)
    audio: list[tuple[float, bytes]] = field(default_factory=list)  # (seconds, one Opus packet)
    duration: float = 0.0


def _opus_encoder() -> Any:
    """libopus, 48 kHz stereo, 20 ms frames (PyAV cuts the input into frame_size pieces); packets are
    timed by their index (their pts comes back unset when the input frames carry none)."""
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate = 48000
    enc.layout = "stereo"
    enc.format = "s16"
    enc.bit_rate = 64000
    enc.time_base = Fraction(1, 48000)
    enc.open()
    return enc


def load_flv_media(path: Path | str, *, seconds: float | None = None) -> RawMedia:
    """Read ``path`` (H.264 or E-RTMP HEVC + AAC) into access units and 20 ms Opus packets."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        codec = "h265" if vs.codec_context.name == "hevc" else "h264"
        extradata = bytes(vs.codec_context.extradata or b"")
        if codec == "h265":
            hc = parse_hevc_config(extradata)
            params = [n for arr in hc.arrays for n in arr.nalus]
            length_size = hc.length_size
        else:
            ac = parse_avc_config(extradata)
            params = [*ac.sps, *ac.pps]
            length_size = ac.length_size
        media = RawMedia(codec, vs.codec_context.width, vs.codec_context.height, params)
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=48000)
        enc = _opus_encoder()
        streams = [vs, *c.streams.audio[:1]]
        for p in c.demux(*streams):
            if p.dts is None or p.size == 0:
                continue
            t = float(p.dts * p.time_base)
            if seconds is not None and t >= seconds:
                continue
            if p.stream.type == "video":
                media.video.append(AccessUnit(t, split_avcc(bytes(p), length_size), bool(p.is_keyframe)))
                continue
            for frame in p.decode():
                assert isinstance(frame, av.AudioFrame)
                frame.pts = None
                for rf in resampler.resample(frame):
                    for op in enc.encode(rf):
                        media.audio.append((len(media.audio) * 0.02, bytes(op)))
        for op in enc.encode(None):
            media.audio.append((len(media.audio) * 0.02, bytes(op)))
    frame_s = media.video[1].t - media.video[0].t if len(media.video) > 1 else 0.04
    media.duration = max(media.video[-1].t + frame_s, media.audio[-1][0] + 0.02 if media.audio else 0)
    return media


# ---------------------------------------------------------------------- real-time publishing


@dataclass
class PublishStats:
    video_frames: int = 0
    audio_packets: int = 0
    rtp_packets: int = 0
    sender_reports: int = 0


async def publish_media(
    peer: RawPeer, media: RawMedia, seconds: float, *, stop: asyncio.Event | None = None
) -> PublishStats:
    """Send ``media`` (looped) for ``seconds`` of wall time, paced by its timestamps."""
    mod = payload_h265 if media.codec == "h265" else payload_h264
    events: list[tuple[float, int, Any]] = [(au.t, 1, au) for au in media.video]
    events += [(t, 0, op) for t, op in media.audio]
    events.sort(key=lambda e: (e[0], e[1]))
    seq = {"audio": secrets.randbits(15), "video": secrets.randbits(15)}
    base = {"audio": secrets.randbits(31), "video": secrets.randbits(31)}
    rate = {"audio": 48000, "video": 90000}
    st = PublishStats()
    t0 = time.monotonic()
    wall0 = time.time()
    next_sr = 0.0

    def rtp_ts(kind: str, t: float) -> int:
        return (base[kind] + round(t * rate[kind])) & 0xFFFFFFFF

    def send(kind: str, t: float, payload: bytes, marker: bool) -> None:
        pkt = RtpPacket(
            payload_type=VIDEO_PTS[media.codec] if kind == "video" else AUDIO_PT,
            sequence_number=seq[kind],
            timestamp=rtp_ts(kind, t),
            ssrc=peer.ssrcs[kind],
            marker=marker,
            payload=payload,
        )
        seq[kind] = (seq[kind] + 1) & 0xFFFF
        peer.send_rtp(pkt)
        peer.sent[kind][0] += 1
        peer.sent[kind][1] += len(payload)
        st.rtp_packets += 1

    loop_i = 0
    while True:
        offset = loop_i * media.duration
        for t_file, _, item in events:
            t = offset + t_file
            if t >= seconds or (stop is not None and stop.is_set()):
                return st
            wait = t0 + t - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            now_t = time.monotonic() - t0
            if now_t >= next_sr:
                for kind in ("audio", "video"):
                    peer.send_sender_report(kind, rtp_ts(kind, now_t), wall0 + now_t)
                st.sender_reports += 1
                next_sr = now_t + SR_INTERVAL_S
            if isinstance(item, AccessUnit):
                for pp in mod.packetize(item.nalus, parameter_sets=media.parameter_sets):
                    send("video", t, pp.payload, pp.marker)
                st.video_frames += 1
            else:
                send("audio", t, item, True)
                st.audio_packets += 1
        loop_i += 1


async def whip_publish_raw(
    url: str, media: RawMedia, seconds: float, *, delete: bool = True
) -> tuple[RawPeer, PublishStats]:
    """POST a sendonly offer to ``url`` (WHIP), connect, send ``media`` for ``seconds``, DELETE."""
    peer = RawPeer(codec=media.codec, direction="sendonly", keep=False)
    async with aiohttp.ClientSession() as http:
        try:
            await peer.connect(await peer.signal(http, url))
            stats = await publish_media(peer, media, seconds)
        finally:
            await peer.close(http if delete else None)
    return peer, stats


async def whep_play_raw(url: str, seconds: float, *, codec: str = "h264") -> RawPeer:
    """POST a recvonly offer to ``url`` (WHEP), keep every RTP packet for ``seconds``, DELETE."""
    peer = RawPeer(codec=codec)
    async with aiohttp.ClientSession() as http:
        try:
            await peer.connect(await peer.signal(http, url))
            await asyncio.sleep(seconds)
        finally:
            await peer.close(http)
    return peer


# ---------------------------------------------------------------------- decoding what a player got


@dataclass
class Decoded:
    video_frames: int = 0
    video_sizes: set[tuple[int, int]] = field(default_factory=set)
    video_errors: int = 0
    access_units: int = 0
    keyframes: int = 0
    assembler_dropped: int = 0
    audio_packets: int = 0
    audio_frames: int = 0
    audio_samples: int = 0
    audio_rates: set[int] = field(default_factory=set)
    audio_errors: int = 0
    audio_peak: float = 0.0


def decode_received(packets: list[Received], *, codec: str) -> Decoded:
    """Video: the codec's FrameAssembler (RTP order by sequence number), Annex B, PyAV decoder;
    audio: each Opus payload through PyAV's opus decoder."""
    out = Decoded()
    mod = payload_h265 if codec == "h265" else payload_h264
    asm = mod.assembler(wait_keyframe=True)
    vdec = av.CodecContext.create("hevc" if codec == "h265" else "h264", "r")
    adec = av.CodecContext.create("opus", "r")
    adec.sample_rate = 48000
    adec.layout = "stereo"
    t0 = packets[0].arrival if packets else 0.0

    def decode_video(frames: list[Any]) -> None:
        for fr in frames:
            out.access_units += 1
            out.keyframes += int(fr.keyframe)
            try:
                for vf in vdec.decode(av.Packet(to_annexb(fr.nalus))):
                    out.video_frames += 1
                    out.video_sizes.add((vf.width, vf.height))
            except av.FFmpegError:
                out.video_errors += 1

    for p in packets:
        if p.pt == VIDEO_PTS[codec]:
            decode_video(asm.push(p.seq, p.timestamp, p.marker, p.payload, int((p.arrival - t0) * 1000)))
        elif p.pt == AUDIO_PT:
            out.audio_packets += 1
            try:
                for af in adec.decode(av.Packet(p.payload)):
                    out.audio_frames += 1
                    out.audio_samples += af.samples
                    out.audio_rates.add(af.sample_rate)
                    if af.format.name in ("flt", "fltp"):
                        samples = array("f", bytes(af.planes[0]))
                        out.audio_peak = max(out.audio_peak, max(map(abs, samples), default=0.0))
            except av.FFmpegError:
                out.audio_errors += 1
    decode_video(asm.flush())
    try:
        for vf in vdec.decode(None):
            out.video_frames += 1
            out.video_sizes.add((vf.width, vf.height))
    except av.FFmpegError:
        out.video_errors += 1
    out.assembler_dropped = asm.stats.dropped
    return out


def token() -> str:
    return os.urandom(4).hex()
