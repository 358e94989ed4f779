"""Test media: the shared clips (``../shared/media``), and short lavfi sources for ffmpeg.

The clips are looked for in ``$SRS_TEST_MEDIA``, then ``../shared/media`` beside the checkout, then
``/work/shared/media``. If none has them, equivalent clips are generated once with ffmpeg (H.264 High
with B-frames + AAC, same sizes): the integration and interop tests, which take their expectations
from ffprobe, still run; the codec tests that pin values of the real clips need the real files.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from functools import cache
from pathlib import Path

_CANDIDATES = [
    *([Path(os.environ["SRS_TEST_MEDIA"])] if os.environ.get("SRS_TEST_MEDIA") else []),
    Path(__file__).resolve().parents[3] / "shared" / "media",
    Path("/work/shared/media"),
]
SHARED = next((d for d in _CANDIDATES if (d / "avatar.flv").is_file()), _CANDIDATES[0])

# name -> (width, height, seconds) of the shared clips
CLIPS = {"avatar.flv": (768, 320, 11.4), "bbb.flv": (640, 360, 10.0)}


def _lavfi_inputs(seconds: float, size: str, rate: int) -> list[str]:
    video = f"testsrc2=size={size}:rate={rate}:duration={seconds}"
    audio = f"sine=frequency=440:sample_rate=44100:duration={seconds}"
    return ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio]


@cache
def clip(name: str) -> Path:
    p = SHARED / name
    if p.is_file():
        return p
    w, h, secs = CLIPS[name]
    out = Path(tempfile.gettempdir()) / f"srs-test-{name}"
    if not out.is_file():
        # Workers may race to make it: each writes its own file, then an atomic rename.
        part = out.with_name(f"{out.stem}.{os.getpid()}.part.flv")
        enc = shlex.split("-c:v libx264 -profile:v high -bf 2 -g 50 -b:v 300k -c:a aac -b:a 32k -f flv")
        subprocess.run(
            ["ffmpeg", "-y", "-v", "error", *_lavfi_inputs(secs, f"{w}x{h}", 25), *enc, str(part)], check=True
        )
        os.replace(part, out)
    return out


def lavfi_args(seconds: float = 4, size: str = "320x240", rate: int = 25) -> list[str]:
    """ffmpeg input args for a synthetic source (testsrc2 + sine), read in real time."""
    return ["-re", *_lavfi_inputs(seconds, size, rate)]


def h264_aac_args(gop: int = 25) -> list[str]:
    """ffmpeg encoder args: H.264 High with B-frames and a fixed GOP (keyframe every ``gop`` frames) + AAC."""
    x264 = shlex.split("-c:v libx264 -preset veryfast -profile:v high -bf 2 -sc_threshold 0")
    return [*x264, "-g", str(gop), "-keyint_min", str(gop), "-c:a", "aac", "-b:a", "64k"]


_CLIP_DIR: list[Path] = []


def _clip_dir() -> Path:
    """One private directory per test process (pytest-xdist workers never share a file)."""
    if not _CLIP_DIR:
        _CLIP_DIR.append(Path(tempfile.mkdtemp(prefix="srs-clips-")))
    return _CLIP_DIR[0]


@cache
def lavfi_clip(seconds: float = 3, *, gop: int = 25, size: str = "320x240", rate: int = 25) -> Path:
    """A short H.264 (with B-frames) + AAC FLV made from testsrc2 + sine, encoded once per process.

    Tests that need a *file* (exact expected counts from ffprobe, ``-c copy`` publishing that costs
    no CPU) use this; the live lavfi encode is covered by :func:`lavfi_args`.
    """
    out = _clip_dir() / f"lavfi-{seconds}s-g{gop}-{size}-{rate}.flv"
    if not out.is_file():
        cmd = [
            "ffmpeg",
            "-nostdin",
            "-y",
            "-v",
            "error",
            *_lavfi_inputs(seconds, size, rate),
            *h264_aac_args(gop),
        ]
        subprocess.run([*cmd, "-f", "flv", str(out)], check=True)
    return out
