"""HLS sessions, sans-IO: the hls_ctx query, SRS's master playlist, the segment URI rewrite and
the sessions table (open with a cap, touch, kick, expire)."""

from __future__ import annotations

import pytest

from srs.server.hls_play import (
    HlsSession,
    HlsSessions,
    State,
    ctx_of,
    master_playlist,
    rewrite_playlist,
    usable_id,
    with_ctx,
)


@pytest.mark.parametrize(
    ("query", "ctx"),
    [
        ("", ""),
        ("hls_ctx=abc", "abc"),
        ("a=1&hls_ctx=abc&b=2", "abc"),
        ("hls_ctx=a&hls_ctx=b", "a"),  # the first one
        ("hls_ctx=", ""),
        ("xhls_ctx=abc", ""),
        ("hls_ctx=a%20b", "a b"),
        ("hls_ctxx=1", ""),
    ],
)
def test_ctx_of(query: str, ctx: str) -> None:
    assert ctx_of(query) == ctx


@pytest.mark.parametrize(
    ("text", "ok"),
    [("abc12345", True), ("A-b_9", True), ("", False), ("a b", False), ("a&b", False), ("x" * 65, False)],
)
def test_usable_id(text: str, ok: bool) -> None:
    assert usable_id(text) is ok


@pytest.mark.parametrize(
    ("path", "query", "line"),
    [
        ("/live/s.m3u8", "", "/live/s.m3u8?hls_ctx=ID"),
        # SRS: the request's own query follows the id when it had no hls_ctx ...
        ("/live/s.m3u8", "token=x&a=1", "/live/s.m3u8?hls_ctx=ID&token=x&a=1"),
        # ... and is dropped when it had one (an unknown id reused as the new session's)
        ("/live/s.m3u8", "hls_ctx=old&token=x", "/live/s.m3u8?hls_ctx=ID"),
        ("/live/s.m3u8", "hls_ctx=&token=x", "/live/s.m3u8?hls_ctx=ID&hls_ctx=&token=x"),
        ("/a%20b/s.m3u8", "", "/a%20b/s.m3u8?hls_ctx=ID"),
    ],
)
def test_master_playlist(path: str, query: str, line: str) -> None:
    text = master_playlist(path, "ID", query).decode()
    assert text == f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1\n{line}\n"


@pytest.mark.parametrize(
    ("uri", "out"),
    [
        (b"s-1.ts", b"s-1.ts?hls_ctx=ID"),
        (b"s-1.ts?a=1", b"s-1.ts?hls_ctx=ID&a=1"),
        (b"s-1.ts?", b"s-1.ts?hls_ctx=ID"),
        (b"http://cdn/live/s-1.ts", b"http://cdn/live/s-1.ts?hls_ctx=ID"),
        (b"s-1.m4s#t=1", b"s-1.m4s?hls_ctx=ID#t=1"),
    ],
)
def test_with_ctx(uri: bytes, out: bytes) -> None:
    assert with_ctx(uri, "ID") == out


MEDIA = (
    b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-TARGETDURATION:2\n"
    b'#EXT-X-KEY:METHOD=AES-128,URI="k-1.key"\n'
    b'#EXT-X-MAP:URI="init.mp4"\n'
    b"#EXTINF:2.000, no desc\ns-7.ts\n"
    b"#EXT-X-DISCONTINUITY\n#EXTINF:2.000, no desc\r\ns-8.ts?x=1\r\n\n"
    b'#EXT-X-PART:DURATION=0.2,URI="s-9.0.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s-9.1.m4s"\n'
)


def test_rewrite_playlist() -> None:
    got = rewrite_playlist(MEDIA, "ID")
    assert got == (
        b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-TARGETDURATION:2\n"
        b'#EXT-X-KEY:METHOD=AES-128,URI="k-1.key"\n'  # keys are not segments
        b'#EXT-X-MAP:URI="init.mp4?hls_ctx=ID"\n'
        b"#EXTINF:2.000, no desc\ns-7.ts?hls_ctx=ID\n"
        b"#EXT-X-DISCONTINUITY\n#EXTINF:2.000, no desc\r\ns-8.ts?hls_ctx=ID&x=1\r\n\n"
        b'#EXT-X-PART:DURATION=0.2,URI="s-9.0.m4s?hls_ctx=ID"\n'
        b'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s-9.1.m4s?hls_ctx=ID"\n'
    )


def test_rewrite_keeps_an_empty_or_uri_less_playlist() -> None:
    assert rewrite_playlist(b"", "ID") == b""
    assert rewrite_playlist(b"#EXTM3U\n#EXT-X-ENDLIST", "ID") == b"#EXTM3U\n#EXT-X-ENDLIST"


# ---------------------------------------------------------------- the table


def live(table: HlsSessions, sid: str, now: float = 0.0, timeout: float = 10.0, cap: int = 10) -> HlsSession:
    s = HlsSession(sid, "1.2.3.4", "__defaultVhost__", now, timeout)
    assert table.open(s, cap) == []
    s.state = State.LIVE
    return s


def test_open_touch_expire() -> None:
    t = HlsSessions()
    a, b = live(t, "a"), live(t, "b")
    assert len(t) == 2 and t.get("a") is a and "b" in t
    t.touch(a, 8.0, 10.0)  # a request at 8 s: alive until 18 s
    assert t.expire(9.9) == []
    assert t.expire(10.0) == [b]
    assert t.expire(17.9) == [] and t.expire(18.0) == [a]
    assert len(t) == 0


def test_authorizing_sessions_never_expire() -> None:
    t = HlsSessions()
    s = HlsSession("a", "ip", "v", 0.0, 1.0)
    assert t.open(s, 10) == []
    assert t.expire(100.0) == [] and t.get("a") is s


def test_kicked_session_is_a_tombstone_until_its_deadline() -> None:
    t = HlsSessions()
    s = live(t, "a")
    assert t.end(s) and not t.end(s)
    assert s.state is State.ENDED and t.get("a") is s
    t.touch(s, 5.0, 10.0)  # SRS: an interrupted session is not refreshed
    assert s.deadline == 10.0
    assert t.expire(10.0) == [s]


def test_duplicate_id_is_a_bug() -> None:
    t = HlsSessions()
    live(t, "a")
    with pytest.raises(ValueError):
        t.open(HlsSession("a", "ip", "v", 0.0, 1.0), 10)


@pytest.mark.parametrize(
    ("sessions", "evicted", "admitted"),
    [
        # (id, state, followed) of the full table, oldest first -> who goes for a newcomer
        ([("a", State.LIVE, True), ("b", State.LIVE, True)], None, False),  # all in use: refused
        ([("a", State.LIVE, True), ("b", State.LIVE, False)], ["b"], True),  # never came back
        ([("a", State.LIVE, False), ("b", State.LIVE, False)], ["a"], True),  # oldest first
        ([("a", State.LIVE, False), ("b", State.ENDED, True)], [], True),  # tombstones first
        ([("a", State.AUTHORIZING, False), ("b", State.AUTHORIZING, False)], None, False),
    ],
)
def test_cap(sessions: list[tuple[str, State, bool]], evicted: list[str] | None, admitted: bool) -> None:
    t = HlsSessions()
    for sid, state, followed in sessions:
        s = HlsSession(sid, "ip", "v", 0.0, 10.0)
        assert t.open(s, 2) == []
        s.state, s.followed = state, followed
    new = HlsSession("new", "ip", "v", 0.0, 10.0)
    got = t.open(new, 2)
    assert (None if got is None else [s.cid for s in got]) == evicted
    assert ("new" in t) is admitted
    assert len(t) == 2


def test_close_calls_the_owner() -> None:
    seen: list[tuple[str, str]] = []
    s = HlsSession("a", "ip", "v", 0.0, 1.0)
    s.close("no owner yet")  # nothing happens
    s._on_close = lambda sess, why: seen.append((sess.cid, why))
    s.close("kicked by api")
    assert seen == [("a", "kicked by api")] and s.kind == "hls-play"
