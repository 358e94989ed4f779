"""Real clients: ffmpeg publishes, ffmpeg records, ffprobe inspects."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


def ffmpeg_publish(url: str, input_args: Sequence[str], *, codec: Sequence[str] = ("-c", "copy")) -> subprocess.Popen[bytes]:
    """Start ffmpeg pushing to ``url`` (RTMP); the caller waits/kills it."""
    return subprocess.Popen(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", *input_args, *codec, "-f", "flv", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def publish_file(url: str, path: Path | str, *, realtime: bool = True, loops: int = 0) -> subprocess.Popen[bytes]:
    args = ["-re"] if realtime else []
    if loops:
        args += ["-stream_loop", str(loops)]
    return ffmpeg_publish(url, [*args, "-i", str(path)])


def record(url: str, out: Path, *, seconds: float | None = None, timeout_s: float = 60) -> subprocess.CompletedProcess[bytes]:
    """Play ``url`` with ffmpeg and save what arrives (stream copy) to ``out`` (FLV)."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", "-rw_timeout", "15000000", "-i", url]
    if seconds is not None:
        cmd += ["-t", str(seconds)]
    cmd += ["-c", "copy", "-f", "flv", str(out)]
    return subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)


def record_popen(url: str, out: Path, *, seconds: float | None = None) -> subprocess.Popen[bytes]:
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", "-rw_timeout", "15000000", "-i", url]
    if seconds is not None:
        cmd += ["-t", str(seconds)]
    cmd += ["-c", "copy", "-f", "flv", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


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

    @property
    def frames(self) -> int:
        return len(self.dts)

    @property
    def duration(self) -> float:
        return (self.dts[-1] - self.dts[0]) if len(self.dts) > 1 else 0.0

    def monotonic(self) -> bool:
        return all(b >= a for a, b in zip(self.dts, self.dts[1:], strict=False))


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


def probe(target: str | Path, *, extra: Sequence[str] = (), timeout_s: float = 60) -> ProbeResult:
    """ffprobe streams and every packet's DTS of a file or URL."""
    out = subprocess.run(
        [
            "ffprobe", "-v", "error", *extra, "-show_streams", "-show_format",
            "-show_entries", "packet=stream_index,dts_time,flags", "-of", "json", str(target),
        ],
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
        if "K" in p.get("flags", ""):
            s.keyframes += 1
    return ProbeResult(format_name=doc.get("format", {}).get("format_name", ""), streams=list(streams.values()))
