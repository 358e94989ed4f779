"""Low-Latency HLS parts: what the segmenter makes of the shared clip, the LL playlist, the store's
blocking rules."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from aiohttp import web

from srs.config.schema_vhost import HlsConfig
from srs.format import m3u8, mp4
from srs.format.ts import TsDemuxer
from srs.media.message import AUDIO, MediaMessage
from srs.remux.hls import Action, HlsSegmenter, WriteFile
from srs.remux.llhls import MEMORY_SEGMENTS, LiveUpdate
from srs.remux.rtmp import media_from_rtmp
from srs.server.llhls import _Live, blocking_query, ready
from support.media import clip
from support.rtmp_client import flv_tags

ONCE = [
    m for m in (media_from_rtmp(int(t.tag_type), t.timestamp, t.body) for t in flv_tags(clip("bbb.flv"))) if m
]
_LAST_AUDIO = max(m.timestamp for m in ONCE if m.kind == AUDIO)
# 20 s: the clip twice, the video going on at its 40 ms pace across the seam (bbb: 80 ... 10040)
MSGS = ONCE + [
    m.with_timestamp(m.timestamp + 10_000)
    for m in ONCE
    if not m.sequence_header and (m.kind != AUDIO or m.timestamp + 10_000 > _LAST_AUDIO)
]
CFG = HlsConfig(enabled=True, fragment_s=1.0, window_s=60.0, path="/hls", ll=True, part_s=0.2)
NOW = 1_700_000_000_000


def run(seg: HlsSegmenter, msgs: list[MediaMessage]) -> list[Action]:
    out: list[Action] = []
    for m in msgs:
        out += seg.on_message(m, NOW + m.timestamp)
    return out


@pytest.mark.parametrize("fmp4", [True, False])
def test_segments_are_their_parts(fmp4: bool) -> None:
    seg = HlsSegmenter(replace(CFG, use_fmp4=fmp4), vhost="v", app="live", stream="s")
    actions = run(seg, MSGS) + seg.on_unpublish(NOW + 21_000)
    ext = ".m4s" if fmp4 else ".ts"
    files = {p: d for u in actions if isinstance(u, LiveUpdate) for p, d in u.add}
    joins = {p: parts for u in actions if isinstance(u, LiveUpdate) for p, parts in u.join}
    segments = [a for a in actions if isinstance(a, WriteFile) and a.path.endswith(ext)]
    playlist = m3u8.parse([u for u in actions if isinstance(u, LiveUpdate)][-1].playlist.decode())
    listed = {s.sequence: s for s in playlist.segments}
    assert len(segments) >= 8
    for w in segments:
        n = int(w.path.rsplit("-", 1)[1].split(".")[0])
        parts = [p for p in files if re.fullmatch(rf"/hls/live/s-{n}\.\d+\{ext}", p)]
        assert parts == [f"/hls/live/s-{n}.{i}{ext}" for i in range(len(parts))]
        assert b"".join(files[p] for p in parts) == w.data  # a part is a slice of its segment
        assert joins[w.path] == tuple(parts)  # a new segment is served from memory as its parts
        entry = listed.get(n)
        if entry is not None and entry.parts:
            if fmp4:  # INDEPENDENT: the part has a keyframe
                for part in entry.parts:
                    samples = mp4.read_fragments(files[f"/hls/live/{part.uri}"])
                    assert part.independent == any(x.keyframe for x in samples if x.track_id == 1), part
            assert abs(sum(p.duration_s for p in entry.parts) - entry.duration_s) < 0.002
            assert all(p.duration_s <= 0.2 + 0.001 for p in entry.parts[:-1])
        if fmp4:
            for p in parts:
                assert mp4.read_fragments(files[p])  # every part is a moof + mdat
        else:
            d = TsDemuxer()
            assert d.feed(w.data) + d.flush() and d.errors == 0


def test_the_ll_playlist_and_the_disk_playlist() -> None:
    seg = HlsSegmenter(replace(CFG, use_fmp4=True), vhost="v", app="live", stream="s")
    actions = run(seg, MSGS[:400])
    updates = [u for u in actions if isinstance(u, LiveUpdate)]
    text = updates[-1].playlist.decode()
    assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600" in text
    assert "#EXT-X-PART-INF:PART-TARGET=0.200" in text and "#EXT-X-VERSION:9" in text
    p = m3u8.parse(text)
    assert p.preload_hint == seg._ll.name(updates[-1].msn, updates[-1].parts)  # type: ignore[union-attr]
    assert len(p.tail_parts) == updates[-1].parts
    # PROGRAM-DATE-TIME: the wall clock of each segment's first frame.
    first, second = p.segments[0], p.segments[1]
    assert first.date_ms is not None and second.date_ms is not None
    assert NOW <= first.date_ms <= NOW + 100
    assert second.date_ms - first.date_ms == round(first.duration_s * 1000)
    # The disk playlist has no parts: other web servers serve hls_path as plain HLS.
    disk = [a for a in actions if isinstance(a, WriteFile) and a.path.endswith(".m3u8")][-1].data.decode()
    assert "#EXT-X-PART" not in disk and "PRELOAD-HINT" not in disk
    # The PyPI m3u8 library reads the same parts, hint and server control.
    import m3u8 as m3u8_lib  # type: ignore[import-untyped]

    theirs = m3u8_lib.loads(text)
    assert theirs.server_control.can_block_reload == "YES" and theirs.part_inf.part_target == 0.2
    assert theirs.preload_hint.uri == p.preload_hint
    assert [len(s.parts) for s in theirs.segments][: len(p.segments)] == [len(s.parts) for s in p.segments]
    last = len(p.segments) - 1
    assert [x.uri for x in theirs.segments[last].parts] == [x.uri for x in p.segments[-1].parts]


def test_parts_leave_memory_with_old_segments_and_keys_turn_parts_off() -> None:
    seg = HlsSegmenter(replace(CFG, use_fmp4=True), vhost="v", app="live", stream="s")
    actions = run(seg, MSGS)
    updates = [u for u in actions if isinstance(u, LiveUpdate)]
    dropped = {p for u in updates for p in u.drop}
    assert "/hls/live/s-0.0.m4s" in dropped and "/hls/live/s-0.m4s" in dropped
    held = {p for u in updates for p, _ in [*u.add, *u.join]} - dropped
    assert len({p.rsplit("-", 1)[1].split(".")[0] for p in held}) <= MEMORY_SEGMENTS + 1
    gone = [u for u in seg.dispose() if isinstance(u, LiveUpdate)]
    assert gone[0].playlist == b"" and set(gone[0].drop) == held
    keys = HlsSegmenter(replace(CFG, keys=True), vhost="v", app="live", stream="s")
    assert not [u for u in run(keys, MSGS) if isinstance(u, LiveUpdate)]


@pytest.mark.parametrize(
    ("msn", "parts", "ask_msn", "ask_part", "ok"),
    [
        (5, 2, 4, None, True),  # segment 4 is complete
        (5, 2, 5, None, False),  # segment 5 is being made
        (5, 2, 5, 1, True),  # its part 1 exists
        (5, 2, 5, 2, False),  # its part 2 does not yet
        (5, 0, 4, 7, True),  # a part past the end of a complete segment: the segment is there
        (5, 2, 6, 0, False),
    ],
)
def test_blocking_readiness(msn: int, parts: int, ask_msn: int, ask_part: int | None, ok: bool) -> None:
    assert ready(_Live(b"", msn, parts, 1.0), ask_msn, ask_part) is ok


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ({}, (None, None)),
        ({"_HLS_msn": "3"}, (3, None)),
        ({"_HLS_msn": "3", "_HLS_part": "0"}, (3, 0)),
        ({"_HLS_part": "1"}, web.HTTPBadRequest),
        ({"_HLS_msn": "x"}, web.HTTPBadRequest),
        ({"_HLS_msn": "-1"}, web.HTTPBadRequest),
        ({"_HLS_msn": "1", "_HLS_part": "-2"}, web.HTTPBadRequest),
    ],
)
def test_blocking_query(query: dict[str, str], want: object) -> None:
    if isinstance(want, tuple):
        assert blocking_query(query) == want
    else:
        with pytest.raises(web.HTTPBadRequest):
            blocking_query(query)


def test_ll_playlist_round_trip() -> None:
    parts = (m3u8.Part("a-3.0.m4s", 0.2, True), m3u8.Part("a-3.1.m4s", 0.2))
    p = m3u8.MediaPlaylist(
        [m3u8.Segment("a-3.m4s", 1.0, 3, parts=parts, date_ms=NOW)],
        target_duration=1,
        map_uri="a-init.mp4",
        part_target_s=0.2,
        part_hold_back_s=0.6,
        tail_parts=(m3u8.Part("a-4.0.m4s", 0.2, True),),
        tail_date_ms=NOW + 1000,
        preload_hint="a-4.1.m4s",
    )
    back = m3u8.parse(p.render())
    assert back.segments == p.segments and back.tail_parts == p.tail_parts and back.version == 9
    assert (back.preload_hint, back.part_target_s, back.part_hold_back_s, back.tail_date_ms) == (
        "a-4.1.m4s",
        0.2,
        0.6,
        NOW + 1000,
    )


def test_a_reload_hands_ll_memory_over_or_frees_it() -> None:
    old = HlsSegmenter(replace(CFG, use_fmp4=True), vhost="v", app="live", stream="s")
    updates = [u for u in run(old, ONCE) + old.on_unpublish(NOW) if isinstance(u, LiveUpdate)]
    added = {p for u in updates for p, _ in [*u.add, *u.join]}
    newest = [p for u in updates for p, _ in u.join][-1]
    # hls_ll turned off: the LL playlist and everything in memory leave (the disk playlist is served).
    plain = HlsSegmenter(replace(CFG, use_fmp4=True, ll=False), vhost="v", app="live", stream="s")
    (gone,) = old.retire(plain)
    assert isinstance(gone, LiveUpdate) and gone.playlist == b"" and set(gone.drop) <= added
    assert newest in gone.drop
    # Another part target: the new segmenter serves the same playlist and frees the old memory later.
    old = HlsSegmenter(replace(CFG, use_fmp4=True), vhost="v", app="live", stream="s")
    run(old, ONCE)
    old.on_unpublish(NOW)
    oldest = old._ll._memory[0][1][-1]  # type: ignore[union-attr]  # the oldest segment in memory
    new = HlsSegmenter(replace(CFG, use_fmp4=True, part_s=0.3), vhost="v", app="live", stream="s")
    new._next_seq = old._next_seq  # as srs.output.carry does
    assert old.retire(new) == []
    later = MSGS[len(ONCE) :]
    heads = [m for m in ONCE if m.sequence_header]
    dropped = {p for u in run(new, heads + later) if isinstance(u, LiveUpdate) for p in u.drop}
    assert oldest in dropped
    fresh = HlsSegmenter(CFG, vhost="v", app="live", stream="s").retire(None)
    assert [(u.playlist, u.drop) for u in fresh if isinstance(u, LiveUpdate)] == [(b"", ())]
