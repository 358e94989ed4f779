"""HTTP VOD played by real clients: ffprobe decodes ``.flv?start=``, ffmpeg seeks in ``.mp4`` files with Range
(a lavfi MP4 and DVR recordings of an RTMP publish)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from srs.format import flv
from support.media import clip
from support.server import StartServer
from support.tools import Clients, publish_file

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

NO_REMUX = "enabled on;"  # no http_remux on the vhost: /vod/<name>.flv is a file, not a live stream


def html_dir(workdir: Path) -> Path:
    d = workdir / "objs" / "nginx" / "html" / "vod"
    d.mkdir(parents=True, exist_ok=True)
    return d


def count_frames(url: str) -> dict[str, dict[str, str]]:
    """ffprobe decodes every frame (``-count_frames``); per codec_type its stream entries."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_type,codec_name,width,height,sample_rate,nb_read_frames:format=start_time",
         "-of", "json", url],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    doc = json.loads(out.stdout)
    streams = {s["codec_type"]: s for s in doc["streams"]}
    streams["format"] = doc["format"]
    return streams


def test_ffprobe_decodes_flv_from_a_keyframe_offset(start_srs: StartServer) -> None:
    """bbb.flv served from its third keyframe: ffprobe sees H.264 640x360 + AAC (the sequence
    headers came first), decodes exactly the frames after the offset, starting at that keyframe's time."""
    srs = start_srs(vhost_body=NO_REMUX)
    data = clip("bbb.flv").read_bytes()
    shutil.copyfile(clip("bbb.flv"), html_dir(srs.workdir) / "bbb.flv")
    _, tags = flv.parse_file(data)
    pos, offsets = 13, []
    for t in tags:
        offsets.append(pos)
        pos += 11 + len(t.body) + 4
    keys = [
        i for i, t in enumerate(tags)
        if t.tag_type == flv.TagType.VIDEO and flv.is_video_keyframe(t.body) and not flv.is_video_sequence_header(t.body)
    ]  # fmt: skip
    i = keys[2]
    after = tags[i:]
    # AVC NALU tags (AVCPacketType 1): not the end-of-sequence tag that closes the file
    videos = sum(1 for t in after if t.tag_type == flv.TagType.VIDEO and t.body[1] == 1)
    audios = sum(1 for t in after if t.tag_type == flv.TagType.AUDIO)
    url = f"http://127.0.0.1:{srs.ports.http}/vod/bbb.flv?start={offsets[i]}"
    got = count_frames(url)
    v, a = got["video"], got["audio"]
    assert (v["codec_name"], v["width"], v["height"]) == ("h264", 640, 360)
    assert (a["codec_name"], a["sample_rate"]) == ("aac", "44100")
    assert int(v["nb_read_frames"]) == videos and int(a["nb_read_frames"]) == audios
    assert float(got["format"]["start_time"]) == pytest.approx(tags[i].timestamp / 1000, abs=0.01)


def framemd5(src: str, seek_s: float, frames: int) -> list[str]:
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-ss", str(seek_s), "-i", src, "-map", "0:v",
         "-frames:v", str(frames), "-f", "framemd5", "-"],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    return [ln for ln in out.stdout.decode().splitlines() if not ln.startswith("#")]


def test_ffmpeg_seeks_in_an_mp4_with_range_requests(start_srs: StartServer, tmp_path: Path) -> None:
    """An MP4 with its moov at the end (no faststart): ffmpeg reads the head, jumps to the moov with
    ``Range: bytes=N-`` and seeks to 6 s with another range; the decoded frames equal those of the
    local file at the same seek, and far less than the whole file crosses the wire."""
    srs = start_srs(vhost_body=NO_REMUX)
    mp4 = html_dir(srs.workdir) / "x.mp4"
    subprocess.run(
        ["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=10",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=10",
         "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-b:v", "2M", "-c:a", "aac", "-b:a", "64k",
         str(tmp_path / "x.mp4")],
        check=True, timeout=90,
    )  # fmt: skip
    shutil.move(tmp_path / "x.mp4", mp4)
    size = mp4.stat().st_size
    url = f"http://127.0.0.1:{srs.ports.http}/vod/x.mp4"
    assert framemd5(url, 6, 10) == framemd5(str(mp4), 6, 10)
    dbg = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "debug", "-ss", "6", "-i", url, "-frames:v", "3", "-f", "null", "-"],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    log = dbg.stderr.decode(errors="replace")
    starts = [int(m) for m in re.findall(r"Range: bytes=(\d+)-", log)]
    assert any(s > size // 2 for s in starts), starts  # the jump to the moov at the end
    assert any(0 < s < size // 2 for s in starts), starts  # back to the data around 6 s
    read = [int(m) for m in re.findall(r"Statistics: (\d+) bytes read", log)]
    assert read and read[-1] < size // 4, (read, size)
    got = count_frames(url)
    assert (got["video"]["codec_name"], got["video"]["width"], got["audio"]["codec_name"]) == (
        "h264",
        640,
        "aac",
    )
    assert int(got["video"]["nb_read_frames"]) == 250


def dvr_conf(ext: str) -> str:
    """DVR at the top of http_server.dir, where the default .flv live mount cannot match."""
    return f"""
    dvr {{
        enabled         on;
        dvr_plan        session;
        dvr_path        ./objs/nginx/html/[stream].[timestamp].{ext};
    }}
    http_remux {{
        enabled     on;
        mount       [vhost]/[app]/[stream].flv;
    }}
    """


def recording(srs_dir: Path, stream: str, ext: str, timeout_s: float = 30) -> Path:
    html = srs_dir / "objs" / "nginx" / "html"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = sorted(html.glob(f"{stream}.*.{ext}")) if html.exists() else []
        if done and not list(html.glob(f"{stream}.*.tmp")):
            return done[0]
        time.sleep(0.1)
    raise TimeoutError(f"no closed recording of {stream} in {html}")


@pytest.mark.parametrize("ext", ["flv", "mp4"])
def test_dvr_recordings_play_with_seek(
    ext: str, start_srs: StartServer, stream_name: str, clients: Clients
) -> None:
    """A DVR recording of an RTMP publish, served back: the FLV from a keyframe offset
    (``?start=``), the MP4 seeked to 5 s over Range requests; the frames are those of the file."""
    srs = start_srs(vhost_body=dvr_conf(ext))
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), clip("bbb.flv"), realtime=False))
    _, err = pub.communicate(timeout=60)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"
    path = recording(srs.workdir, stream_name, ext)
    url = f"http://127.0.0.1:{srs.ports.http}/{path.name}"
    if ext == "mp4":
        assert framemd5(url, 5, 10) == framemd5(str(path), 5, 10)
        return
    data = path.read_bytes()
    _, tags = flv.parse_file(data)
    pos, offsets = 13, []
    for t in tags:
        offsets.append(pos)
        pos += 11 + len(t.body) + 4
    keys = [
        i for i, t in enumerate(tags)
        if t.tag_type == flv.TagType.VIDEO and flv.is_video_keyframe(t.body) and not flv.is_video_sequence_header(t.body)
    ]  # fmt: skip
    i = keys[len(keys) // 2]
    got = count_frames(f"{url}?start={offsets[i]}")
    videos = sum(1 for t in tags[i:] if t.tag_type == flv.TagType.VIDEO and t.body[1] == 1)
    assert (got["video"]["codec_name"], got["video"]["width"]) == ("h264", 640)
    assert int(got["video"]["nb_read_frames"]) == videos
    assert float(got["format"]["start_time"]) == pytest.approx(tags[i].timestamp / 1000, abs=0.01)
