"""The SRT streamid comes from any peer before it is authenticated: only ParseError escapes."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from srs.protocol.srt.streamid import parse_streamid
from srs.util.errors import ParseError

EXAMPLES = int(os.environ.get("SRS_FUZZ_EXAMPLES", "300"))
SIDISH = st.text(alphabet=st.sampled_from([*"#!::hrm=,/?&;publishrequestlive x.", "é", "\x00"]), max_size=80)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.one_of(SIDISH, st.text(max_size=80), st.just("#!::").flatmap(lambda p: SIDISH.map(lambda s: p + s)))
)
def test_streamid_never_raises_else(sid: str) -> None:
    try:
        got = parse_streamid(sid)
    except ParseError:
        return
    assert got.mode in ("publish", "play")
    assert got.stream or got.app  # a resource was there
    assert not got.param or got.param.startswith("?")
