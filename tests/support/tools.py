"""Real clients: ffmpeg publishes, ffmpeg records, ffprobe inspects."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


class Clients:
    """Child processes of one test (ffmpeg, ffprobe): killed at teardown if still running."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def add(self, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.communicate(timeout=5)
            except (subprocess.TimeoutExpired, ValueError):
                pass


def ffmpeg_publish(
    url: str, input_args: Sequence[str], *, codec: Sequence[str] = ("-c", "copy")
) -> subprocess.Popen[bytes]:
    """Start ffmpeg pushing to ``url`` (RTMP); the caller waits/kills it."""
    return subprocess.Popen(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", *input_args, *codec, "-f", "flv", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def publish_file(
    url: str, path: Path | str, *, realtime: bool = True, loops: int = 0
) -> subprocess.Popen[bytes]:
    args = ["-re"] if realtime else []
    if loops:
        args += ["-stream_loop", str(loops)]
    return ffmpeg_publish(url, [*args, "-i", str(path)])


def publish_raw_flv(url: str, path: Path | str) -> subprocess.Popen[bytes]:
    """Send an FLV file's tags over RTMP exactly as they are, at full speed.

    ffmpeg's RTMP protocol (``rtmpproto.c``) takes an FLV byte stream and sends each tag as an
    RTMP message; the ``data`` demuxer/muxer pair hands it the file's bytes untouched. So any
    tag content reaches the server unchanged, even codecs ffmpeg 5.1 cannot demux (legacy HEVC
    codec id 12) and timestamps no muxer would write (sequence headers at 100 s).
    """
    src = ["-f", "data", "-i", str(path)]
    return subprocess.Popen(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-v",
            "error",
            *src,
            "-map",
            "0",
            "-c",
            "copy",
            "-f",
            "data",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def capture_rtmp_raw(url: str, out: Path, *, rw_timeout_s: float = 2) -> subprocess.Popen[bytes]:
    """Play ``url`` and save the RTMP message payloads untouched, as an FLV byte stream.

    The reverse of :func:`publish_raw_flv`: ffmpeg's RTMP protocol turns each audio/video/data
    message into an FLV tag (body = the message payload) and the ``data`` demuxer/muxer writes
    those bytes as they are, so ``out`` shows exactly what the server sent. An RTMP play never
    ends by itself: ffmpeg stops ``rw_timeout_s`` after the last byte (and exits 0).
    """
    timeout = ["-rw_timeout", str(int(rw_timeout_s * 1_000_000))]
    raw_in, raw_out = ["-f", "data", "-i", url], ["-map", "0", "-c", "copy", "-f", "data", str(out)]
    return subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", *timeout, *raw_in, *raw_out],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _record_cmd(url: str, out: Path, seconds: float | None, loglevel: str) -> list[str]:
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", loglevel, "-y", "-rw_timeout", "15000000", "-i", url]
    if seconds is not None:
        cmd += ["-t", str(seconds)]
    return [*cmd, "-c", "copy", "-f", "flv", str(out)]


def record(
    url: str, out: Path, *, seconds: float | None = None, timeout_s: float = 60, loglevel: str = "error"
) -> subprocess.CompletedProcess[bytes]:
    """Play ``url`` with ffmpeg and save what arrives (stream copy) to ``out`` (FLV)."""
    return subprocess.run(
        _record_cmd(url, out, seconds, loglevel), capture_output=True, timeout=timeout_s, check=False
    )


def record_popen(
    url: str, out: Path, *, seconds: float | None = None, loglevel: str = "error"
) -> subprocess.Popen[bytes]:
    """Like :func:`record`, in the background. ``loglevel="warning"`` lets ffmpeg report
    timestamp trouble (``Non-monotonous DTS``) in its stderr."""
    return subprocess.Popen(
        _record_cmd(url, out, seconds, loglevel), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


@dataclass
class StreamInfo:
    index: int
    codec_type: str
    codec_name: str
    width: int = 0
    height: int = 0
    sample_rate: int = 0
    channels: int = 0
    profile: str = ""
    dts: list[float] = field(default_factory=list)
    keyframes: int = 0
    key: list[bool] = field(default_factory=list)  # per packet: flagged as a keyframe

    @property
    def frames(self) -> int:
        return len(self.dts)

    @property
    def duration(self) -> float:
        return (self.dts[-1] - self.dts[0]) if len(self.dts) > 1 else 0.0

    def monotonic(self) -> bool:
        return all(b >= a for a, b in zip(self.dts, self.dts[1:], strict=False))

    def frames_before(self, seconds: float) -> int:
        """How many packets lie within the first ``seconds`` of this stream (what ``-t`` keeps)."""
        return sum(1 for d in self.dts if d - self.dts[0] < seconds) if self.dts else 0


@dataclass
class ProbeResult:
    format_name: str
    streams: list[StreamInfo]

    @property
    def video(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.codec_type == "video"), None)

    @property
    def audio(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.codec_type == "audio"), None)

    @property
    def packets(self) -> int:
        return sum(s.frames for s in self.streams)


def probe(
    target: str | Path,
    *,
    extra: Sequence[str] = (),
    timeout_s: float = 60,
    packets: int = 0,
    rw_timeout_s: float = 0,
) -> ProbeResult:
    """ffprobe streams and every packet's DTS of a file or URL.

    A live RTMP play never ends by itself (the server keeps the player for a republish), so
    ``packets`` stops after that many packets: ffprobe's ``-read_intervals %+#N`` only notices
    the limit when packet N+1 arrives, so we ask for N-1 and read N (the result lists N-1).
    ``rw_timeout_s`` ends a read that gets no data for that long (a lost packet, a dead server).
    """
    opts: list[str] = []
    if packets:
        opts += ["-read_intervals", f"%+#{max(1, packets - 1)}"]
    if rw_timeout_s:
        opts += ["-rw_timeout", str(int(rw_timeout_s * 1_000_000))]
    entries = ["-show_streams", "-show_format", "-show_entries", "packet=stream_index,dts_time,flags"]
    out = subprocess.run(
        ["ffprobe", "-v", "error", *opts, *extra, *entries, "-of", "json", str(target)],
        capture_output=True,
        timeout=timeout_s,
        check=True,
    )
    doc = json.loads(out.stdout)
    streams = {
        int(s["index"]): StreamInfo(
            index=int(s["index"]),
            codec_type=s.get("codec_type", ""),
            codec_name=s.get("codec_name", ""),
            width=int(s.get("width", 0) or 0),
            height=int(s.get("height", 0) or 0),
            sample_rate=int(s.get("sample_rate", 0) or 0),
            channels=int(s.get("channels", 0) or 0),
            profile=s.get("profile", ""),
        )
        for s in doc.get("streams", [])
    }
    for p in doc.get("packets", []):
        s = streams.get(int(p.get("stream_index", -1)))
        if s is None or p.get("dts_time") in (None, "N/A"):
            continue
        s.dts.append(float(p["dts_time"]))
        s.key.append("K" in p.get("flags", ""))
        if s.key[-1]:
            s.keyframes += 1
    return ProbeResult(
        format_name=doc.get("format", {}).get("format_name", ""), streams=list(streams.values())
    )


def publish_lavfi(
    url: str,
    *,
    seconds: float = 4,
    size: str = "320x240",
    rate: int = 25,
    gop: int = 25,
    copy_to: Path | None = None,
) -> subprocess.Popen[bytes]:
    """ffmpeg encodes testsrc2 + sine live (H.264 with B-frames + AAC, ``-re``) and publishes it.

    ``copy_to`` also writes the very same packets to a local FLV (tee muxer), so a test can probe
    exactly what was published.
    """
    from support.media import h264_aac_args, lavfi_args

    enc = ["-map", "0:v", "-map", "1:a", *h264_aac_args(gop)]
    if copy_to is None:
        out = ["-f", "flv", url]
    else:
        out = ["-flags", "+global_header", "-f", "tee", f"[f=flv]{copy_to}|[f=flv:onfail=abort]{url}"]
    return subprocess.Popen(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", *lavfi_args(seconds, size, rate), *enc, *out],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
