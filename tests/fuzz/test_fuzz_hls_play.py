"""HLS sessions take untrusted query strings and rewrite playlists: they never raise, and what
they produce stays one line per URI."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from srs.server.hls_play import ctx_of, master_playlist, rewrite_playlist, usable_id, with_ctx

EXAMPLES = int(os.environ.get("SRS_FUZZ_EXAMPLES", "300"))
QUERYISH = st.text(alphabet=st.sampled_from([*"hls_ctx=&?#%20abc\r\n\x00", "é"]), max_size=60)
PLAYLISTISH = st.binary(max_size=300) | st.lists(
    st.sampled_from(
        [b"#EXTM3U", b"#EXTINF:2,", b"s-1.ts", b"s-2.ts?x=1", b'#EXT-X-MAP:URI="i.mp4"', b"", b"#", b"?"]
    ),
    max_size=12,
).map(b"\n".join)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(QUERYISH, st.text(max_size=60)))
def test_query_parsing_never_raises(query: str) -> None:
    sid = ctx_of(query)
    assert isinstance(sid, str)
    if usable_id(sid):
        assert "&" not in sid and "\n" not in sid


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(QUERYISH, st.text(max_size=60)), st.one_of(QUERYISH, st.text(max_size=60)))
def test_master_playlist_is_three_lines(path: str, query: str) -> None:
    lines = master_playlist("/" + path, "abc12345", query).split(b"\n")
    assert len(lines) == 4 and lines[-1] == b""
    assert lines[2].startswith(b"/") and b"?hls_ctx=abc12345" in lines[2]


@settings(max_examples=EXAMPLES, deadline=None)
@given(PLAYLISTISH)
def test_rewrite_never_raises_and_keeps_lines(body: bytes) -> None:
    out = rewrite_playlist(body, "abc12345")
    assert len(out.splitlines()) == len(body.splitlines())
    for line in out.splitlines():
        if line.strip() and not line.startswith(b"#"):
            assert b"hls_ctx=abc12345" in line
    assert with_ctx(body.split(b"\n")[0], "x").count(b"hls_ctx=x") >= 1
