"""HTTP VOD of files under http_server.dir: ``.flv?start=``, Range on ``.mp4``/``.ts``, SRS's ``?range=``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from srs import SIGNATURE
from srs.format import flv
from support.media import clip

from .conftest import Running, start_app

NO_REMUX = "enabled on;"  # no http_remux: every .flv path is a file


def tag_offsets(data: bytes) -> list[tuple[int, flv.FlvTag]]:
    """Each tag of an FLV file with the byte offset of its tag header."""
    _, tags = flv.parse_file(data)
    out, pos = [], 13
    for t in tags:
        out.append((pos, t))
        pos += 11 + len(t.body) + 4
    return out


def keyframe_offset(data: bytes, nth: int = 3) -> int:
    keys = [
        p for p, t in tag_offsets(data) if t.tag_type == flv.TagType.VIDEO and flv.is_video_keyframe(t.body)
    ]
    return keys[nth]  # keys[0] is the sequence header


@pytest.fixture
async def vod(tmp_path: Path) -> AsyncIterator[Running]:
    r = await start_app(tmp_path, vhost_body=NO_REMUX)
    (tmp_path / "html" / "vod").mkdir(parents=True, exist_ok=True)
    try:
        yield r
    finally:
        await r.app.stop(graceful=False)


def base(r: Running) -> str:
    return f"http://127.0.0.1:{r.ports.http}"


async def test_flv_start_sends_header_sequence_headers_then_the_file_from_the_offset(vod: Running) -> None:
    data = clip("bbb.flv").read_bytes()
    (vod.workdir / "html" / "vod" / "bbb.flv").write_bytes(data)
    offset = keyframe_offset(data)
    tags = tag_offsets(data)
    sh = [p for p, t in tags[:3] if t.tag_type != flv.TagType.SCRIPT]
    sh_end = tags[3][0]
    async with aiohttp.ClientSession() as http:
        r = await http.get(f"{base(vod)}/vod/bbb.flv?start={offset}")
        body = await r.read()
    assert r.status == 200 and r.headers["Content-Type"] == "video/x-flv"
    assert r.headers["Server"] == SIGNATURE
    assert body == data[:13] + data[sh[0] : sh_end] + data[offset:]
    assert int(r.headers["Content-Length"]) == len(body)
    _, got = flv.parse_file(body)
    assert flv.is_video_sequence_header(got[0].body) and flv.is_audio_sequence_header(got[1].body)
    assert flv.is_video_keyframe(got[2].body) and got[2].timestamp > 0


@pytest.mark.parametrize("query", ["", "?start=0", "?start=-100", "?start=abc", "?other=5"])
async def test_flv_without_a_positive_start_is_the_whole_file(vod: Running, query: str) -> None:
    data = clip("bbb.flv").read_bytes()
    (vod.workdir / "html" / "vod" / "bbb.flv").write_bytes(data)
    async with aiohttp.ClientSession() as http:
        r = await http.get(f"{base(vod)}/vod/bbb.flv{query}")
        assert r.status == 200 and await r.read() == data
        assert r.headers["Content-Type"] == "video/x-flv"


async def test_flv_start_at_and_past_the_end(vod: Running) -> None:
    data = clip("bbb.flv").read_bytes()
    (vod.workdir / "html" / "vod" / "bbb.flv").write_bytes(data)
    (vod.workdir / "html" / "vod" / "fake.flv").write_bytes(b"this is no FLV at all, just text")
    tags = tag_offsets(data)
    async with aiohttp.ClientSession() as http:
        r = await http.get(f"{base(vod)}/vod/bbb.flv?start={len(data)}")
        assert r.status == 200 and await r.read() == data[:13] + data[tags[1][0] : tags[3][0]]
        r = await http.get(f"{base(vod)}/vod/bbb.flv?start={len(data) + 1}")
        assert r.status == 416 and r.headers["Content-Range"] == f"bytes */{len(data)}"
        r = await http.get(f"{base(vod)}/vod/bbb.flv?start=99999999999999999999999999")
        assert r.status == 416
        r = await http.get(f"{base(vod)}/vod/fake.flv?start=5")
        assert r.status == 400 and "FLV" in await r.text()
        r = await http.head(f"{base(vod)}/vod/bbb.flv?start={tags[10][0]}")
        assert r.status == 200 and await r.read() == b""
        assert int(r.headers["Content-Length"]) == 13 + tags[3][0] - tags[1][0] + len(data) - tags[10][0]
        # the server is still fine
        r = await http.get(f"{base(vod)}/vod/bbb.flv?start={tags[10][0]}")
        assert r.status == 200 and (await r.read()).endswith(data[tags[10][0] :])


async def test_flv_start_streams_a_large_file_exactly(vod: Running) -> None:
    """Several MiB after the offset cross many read chunks; every byte arrives in order."""
    v = flv.encode_tag(9, 0, b"\x17\x00\x00\x00\x00" + b"v" * 30)
    a = flv.encode_tag(8, 0, b"\xaf\x00\x12\x10")
    frames = b"".join(
        flv.encode_tag(9, i * 40, b"\x27\x01\x00\x00\x00" + os.urandom(20_000)) for i in range(300)
    )
    data = flv.header(True, True) + v + a + frames
    (vod.workdir / "html" / "vod" / "big.flv").write_bytes(data)
    offset = 13 + len(v) + len(a) + 7 * (11 + 20_005 + 4)
    async with aiohttp.ClientSession() as http:
        r = await http.get(f"{base(vod)}/vod/big.flv?start={offset}")
        assert r.status == 200 and await r.read() == data[:13] + v + a + data[offset:]


async def test_flv_start_beside_a_live_mount(tmp_path: Path) -> None:
    """With an http_remux .flv mount ([vhost]/[app]/[stream].flv), a path the mount cannot match is
    a file, and so is an existing file the mount matches while no such stream is published (SRS
    would wait for a publisher there)."""
    r = await start_app(tmp_path)
    try:
        data = clip("bbb.flv").read_bytes()
        (tmp_path / "html").mkdir(parents=True, exist_ok=True)
        (tmp_path / "html" / "bbb.flv").write_bytes(data)
        offset = keyframe_offset(data)
        async with aiohttp.ClientSession() as http:
            resp = await http.get(f"{base(r)}/bbb.flv?start={offset}")
            assert resp.status == 200 and (await resp.read()).endswith(data[offset:])
            (tmp_path / "html" / "live").mkdir(exist_ok=True)
            (tmp_path / "html" / "live" / "rec.1733.flv").write_bytes(data)  # a DVR recording
            resp = await http.get(f"{base(r)}/live/rec.1733.flv?start={offset}")
            assert resp.status == 200 and (await resp.read()).endswith(data[offset:])
    finally:
        await r.app.stop(graceful=False)


async def test_a_deeper_path_is_a_file_until_published(tmp_path: Path) -> None:
    """SRS hijacks a path for the .flv mount only when it has the template's number of "/": a DVR
    recording at /live/rec/x.flv is a file, until a stream "live/rec"/"x" is published."""
    from support.rtmp_client import RtmpClient, flv_tags

    r = await start_app(tmp_path)
    try:
        data = clip("bbb.flv").read_bytes()
        (tmp_path / "html" / "live" / "rec").mkdir(parents=True, exist_ok=True)
        (tmp_path / "html" / "live" / "rec" / "x.flv").write_bytes(data)
        offset = keyframe_offset(data)
        async with aiohttp.ClientSession() as http:
            resp = await http.get(f"{base(r)}/live/rec/x.flv?start={offset}")
            assert resp.status == 200 and (await resp.read()).endswith(data[offset:])
            pub = await RtmpClient.open(r.ports.rtmp, app="live/rec")
            await pub.publish("x")
            await pub.send_tags(list(flv_tags(clip("bbb.flv")))[:30])
            resp = await http.get(f"{base(r)}/live/rec/x.flv")
            head = await resp.content.readexactly(13)
            assert resp.status == 200 and head[:3] == b"FLV" and resp.headers.get("Content-Length") is None
            resp.close()
            await pub.close()
    finally:
        await r.app.stop(graceful=False)


@pytest.mark.parametrize("name", ["x.mp4", "x.ts"])
@pytest.mark.parametrize(
    ("range_", "status", "span"),
    [
        ("bytes=0-99", 206, (0, 100)),
        ("bytes=1000-", 206, (1000, 5000)),
        ("bytes=-300", 206, (4700, 5000)),  # RFC 9110: the last 300 bytes
        ("bytes=4990-9999", 206, (4990, 5000)),  # end clamped to the file
        ("bytes=5000-", 416, None),
        ("bytes=6000-7000", 416, None),
    ],
)
async def test_range_header(
    vod: Running, name: str, range_: str, status: int, span: tuple[int, int] | None
) -> None:
    data = os.urandom(5000)
    (vod.workdir / "html" / "vod" / name).write_bytes(data)
    async with aiohttp.ClientSession() as http:
        r = await http.get(f"{base(vod)}/vod/{name}", headers={"Range": range_})
        body = await r.read()
        assert r.status == status
        if span is None:
            assert r.headers["Content-Range"] == "bytes */5000"
        else:
            assert body == data[span[0] : span[1]]
            assert r.headers["Content-Range"] == f"bytes {span[0]}-{span[1] - 1}/5000"
            assert r.headers["Content-Type"] == ("video/mp4" if name.endswith("mp4") else "video/MP2T")
        whole = await http.get(f"{base(vod)}/vod/{name}")
        assert (
            whole.status == 200 and whole.headers["Accept-Ranges"] == "bytes" and await whole.read() == data
        )


@pytest.mark.parametrize(
    ("query", "status", "span"),
    [
        ("?range=0-99", 206, (0, 100)),
        ("?bytes=1000-", 206, (1000, 5000)),
        ("?range=-300", 206, (0, 301)),  # SRS's query form: "-n" is 0..n
        ("?range=10-20&bytes=30-40", 206, (10, 21)),
        ("?range=4990-9999", 206, (4990, 5000)),
        ("?range=20-10", 200, (0, 5000)),  # start after end: SRS serves the whole file
        ("?range=abc", 200, (0, 5000)),
        ("?range=5000-", 416, None),
    ],
)
async def test_mp4_query_range(vod: Running, query: str, status: int, span: tuple[int, int] | None) -> None:
    data = os.urandom(5000)
    (vod.workdir / "html" / "vod" / "x.mp4").write_bytes(data)
    async with aiohttp.ClientSession() as http:
        # The query wins over a Range header, as in SRS; an unusable one gives the whole file.
        r = await http.get(f"{base(vod)}/vod/x.mp4{query}", headers={"Range": "bytes=1-2"})
        body = await r.read()
        assert r.status == status
        if span is None:
            assert r.headers["Content-Range"] == "bytes */5000"
        elif status == 200:
            assert body == data and "Content-Range" not in r.headers
        else:
            assert body == data[span[0] : span[1]]
            assert r.headers["Content-Range"] == f"bytes {span[0]}-{span[1] - 1}/5000"


async def test_hls_segments_beside_a_ts_mount_are_files(tmp_path: Path) -> None:
    """HLS and HTTP-TS on one vhost: /live/livestream-3.ts fits the .ts mount, but the segment on
    disk is served (SRS would wait for a publisher named livestream-3)."""
    body = "http_remux { enabled on; mount [vhost]/[app]/[stream].ts; }"
    r = await start_app(tmp_path, vhost_body=body)
    try:
        (tmp_path / "html" / "live").mkdir(parents=True, exist_ok=True)
        seg = bytes([0x47]) + bytes(187)
        (tmp_path / "html" / "live" / "livestream-3.ts").write_bytes(seg * 10)
        async with aiohttp.ClientSession() as http:
            resp = await http.get(f"{base(r)}/live/livestream-3.ts")
            assert resp.status == 200 and await resp.read() == seg * 10
    finally:
        await r.app.stop(graceful=False)
