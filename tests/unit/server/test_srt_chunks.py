"""The SRT player's cut of the TS wire into 1316-byte live messages (shared by the players of a flush)."""

from __future__ import annotations

import pytest

from srs.server.srt.conn import CHUNK, ChunkCut


@pytest.mark.parametrize(
    ("sizes", "want"),
    [
        ([188], [188]),
        ([CHUNK], [CHUNK]),
        ([CHUNK + 188], [CHUNK, 188]),
        ([188 * 3, 188 * 5], [CHUNK, 188]),
        ([188] * 15, [CHUNK, CHUNK, 188]),
        ([3000], [CHUNK, CHUNK, 3000 - 2 * CHUNK]),
    ],
)
def test_cut_sizes_and_order(sizes: list[int], want: list[int]) -> None:
    bufs = [bytes([i]) * n for i, n in enumerate(sizes)]
    chunks = ChunkCut().cut(bufs)
    assert [len(c) for c in chunks] == want
    assert b"".join(chunks) == b"".join(bufs)


def test_the_same_list_is_cut_once_an_equal_new_list_again() -> None:
    cut = ChunkCut()
    bufs = [b"\x47" * 188 * 9]
    first = cut.cut(bufs)
    assert cut.cut(bufs) is first  # the next player of the same flush: nothing joined or copied
    other = [b"\x47" * 188 * 9]
    again = cut.cut(other)
    assert again is not first and again == first
