"""Test media: the shared clips (``../shared/media``), and short lavfi sources for ffmpeg.

If the shared clips are missing (a checkout somewhere else), equivalent clips are generated once
with ffmpeg (H.264 High with B-frames + AAC, same sizes), so tests never depend on the layout.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from functools import cache
from pathlib import Path

SHARED = Path(os.environ.get("SRS_TEST_MEDIA", Path(__file__).resolve().parents[3] / "shared" / "media"))

# name -> (width, height, seconds) of the shared clips
CLIPS = {"avatar.flv": (768, 320, 11.4), "bbb.flv": (640, 360, 10.0)}


@cache
def clip(name: str) -> Path:
    p = SHARED / name
    if p.is_file():
        return p
    w, h, secs = CLIPS[name]
    out = Path(tempfile.gettempdir()) / f"srs-test-{name}"
    if not out.is_file():
        subprocess.run(
            [
                "ffmpeg", "-y", "-v", "error",
                "-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate=25:duration={secs}",
                "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={secs}",
                "-c:v", "libx264", "-profile:v", "high", "-bf", "2", "-g", "50", "-b:v", "300k",
                "-c:a", "aac", "-b:a", "32k", "-f", "flv", str(out),
            ],
            check=True,
        )
    return out


def lavfi_args(seconds: float = 4, size: str = "320x240", rate: int = 25) -> list[str]:
    """ffmpeg input args for a synthetic source (testsrc2 + sine), read in real time."""
    return [
        "-re",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}",
    ]
