"""Low-Latency HLS served from memory (ours): the LL playlists, their parts and newest segments
(a new segment is the concatenation of its parts, kept once).

The HLS output hands every :class:`~srs.remux.llhls.LiveUpdate` to :class:`LlStore` on the event
loop; the static handler asks it first. A playlist request with ``_HLS_msn`` (and ``_HLS_part``) is
held until that segment (part) exists (RFC 8216bis 6.2.5.2): answered the moment the update lands,
400 when it asks more than two segments ahead, 503 after three target durations. A request for the
part the preload hint names is held the same way. Other files fall through to the disk.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from srs.remux.llhls import LiveUpdate

log = logging.getLogger("srs")

M3U8_TYPE = "application/vnd.apple.mpegurl"
PART_TYPES = {".m4s": "video/iso.segment", ".ts": "video/MP2T"}
_PART_NAME = re.compile(r"^(?P<stem>.+)-(?P<seq>\d{1,18})\.(?P<part>\d{1,6})\.(?:m4s|ts)$")


@dataclass(slots=True)
class _Live:
    playlist: bytes
    msn: int
    parts: int
    target_s: float
    changed: asyncio.Event = field(default_factory=asyncio.Event)


def ready(live: _Live, msn: int, part: int | None) -> bool:
    """Whether segment ``msn`` (part ``part`` of it) is in the playlist."""
    if live.msn > msn:
        return True
    return part is not None and live.msn == msn and live.parts > part


def blocking_query(query: dict[str, str]) -> tuple[int | None, int | None]:
    """``_HLS_msn`` / ``_HLS_part`` of a playlist request; a part without an msn is a bad request."""
    try:
        msn = int(query["_HLS_msn"]) if "_HLS_msn" in query else None
        part = int(query["_HLS_part"]) if "_HLS_part" in query else None
    except ValueError:
        raise web.HTTPBadRequest(text="_HLS_msn / _HLS_part must be integers") from None
    if (msn is not None and msn < 0) or (part is not None and (part < 0 or msn is None)):
        raise web.HTTPBadRequest(text="bad _HLS_msn / _HLS_part")
    return msn, part


@functools.lru_cache(maxsize=4096)
def _real_dir(d: str) -> str:
    return os.path.realpath(d)


def _real(path: str) -> str:
    """``os.path.realpath`` with the directory's resolution cached (the store resolves a few paths
    per part of every stream)."""
    d, name = os.path.split(path)
    return os.path.join(_real_dir(d), name)


class LlStore:
    def __init__(self) -> None:
        self._streams: dict[str, _Live] = {}  # real path of the playlist -> its LL state
        self._files: dict[str, bytes] = {}  # real path -> parts
        self._joins: dict[str, tuple[str, ...]] = {}  # real path of a new segment -> its parts
        self._stems: dict[str, str] = {}  # real path of "<dir>/<stem>" -> playlist key (part waits)

    def __len__(self) -> int:
        return len(self._streams)

    def apply(self, u: LiveUpdate) -> None:
        key = _real(u.m3u8_path)
        for p in u.drop:
            real = _real(p)
            self._files.pop(real, None)
            self._joins.pop(real, None)
        for p, data in u.add:
            self._files[_real(p)] = data
        for p, parts in u.join:
            self._joins[_real(p)] = tuple(_real(x) for x in parts)
        old = self._streams.get(key)
        if not u.playlist:  # disposed
            self._streams.pop(key, None)
            self._stems = {k: v for k, v in self._stems.items() if v != key}
            if old is not None:
                old.changed.set()
            return
        if old is None:
            self._streams[key] = _Live(u.playlist, u.msn, u.parts, u.target_s)
            self._stems[key.rsplit(".", 1)[0]] = key
            return
        old.playlist, old.msn, old.parts, old.target_s = u.playlist, u.msn, u.parts, u.target_s
        event, old.changed = old.changed, asyncio.Event()
        event.set()

    def has(self, path: str) -> bool:
        return path in self._streams or path in self._files or path in self._joins

    async def _wait(self, key: str, msn: int, part: int | None) -> _Live:
        live = self._streams.get(key)
        if live is None:
            raise web.HTTPNotFound()
        if msn > live.msn + 2:
            raise web.HTTPBadRequest(text=f"_HLS_msn {msn} is too far ahead of {live.msn}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3 * live.target_s
        while not ready(live, msn, part):
            left = deadline - loop.time()
            if left <= 0:
                raise web.HTTPServiceUnavailable(text="the requested segment or part did not come in time")
            try:
                await asyncio.wait_for(live.changed.wait(), left)
            except TimeoutError:
                continue
            now = self._streams.get(key)
            if now is None:
                raise web.HTTPNotFound()
            live = now
        return live

    async def playlist(self, key: str, query: dict[str, str]) -> bytes:
        """The LL playlist, once it has what the request blocks for."""
        msn, part = blocking_query(query)
        live = self._streams.get(key)
        if live is None:
            raise web.HTTPNotFound()
        if msn is not None:
            live = await self._wait(key, msn, part)
        return live.playlist

    async def file(self, key: str) -> bytes | None:
        """A part or segment from memory; the part the preload hint names is waited for."""
        data = self._files.get(key)
        if data is not None:
            return data
        parts = self._joins.get(key)
        if parts is not None:  # a new segment, maybe not on disk yet: its parts, end to end
            datas = [self._files.get(p) for p in parts]
            return b"".join(d for d in datas if d is not None) if all(d is not None for d in datas) else None
        m = _PART_NAME.match(os.path.basename(key))
        if m is None:
            return None
        stream = self._stems.get(os.path.join(os.path.dirname(key), m["stem"]))
        live = self._streams.get(stream) if stream else None
        if stream is None or live is None:
            return None
        seq, index = int(m["seq"]), int(m["part"])
        if (seq, index) not in ((live.msn, live.parts), (live.msn + 1, 0)):
            return None  # not the next part: gone, or too far ahead
        await self._wait(stream, seq, index)
        return self._files.get(key)


def live_path(root: str, url_path: str) -> str | None:
    """The real path a URL names under ``root`` (which may not exist on disk)."""
    if ".." in url_path or "\x00" in url_path:
        return None
    base = _real_dir(root)
    target = _real(os.path.join(base, url_path.lstrip("/")))
    return target if target.startswith(base + os.sep) else None


async def serve_live(request: web.Request, store: LlStore, root: str) -> web.StreamResponse | None:
    """Answer from memory what the store has (parts, newest segments; playlists are answered by
    :func:`live_playlist`); None: not ours, serve from disk."""
    key = live_path(root, request.path)
    if key is None or key.endswith(".m3u8"):
        return None
    data = await store.file(key)
    if data is None:
        return None
    ctype = PART_TYPES.get(Path(key).suffix, "application/octet-stream")
    return web.Response(body=data, headers={"Content-Type": ctype})


def live_playlist_key(request: web.Request, store: LlStore, root: str) -> str | None:
    key = live_path(root, request.path)
    return key if key is not None and key.endswith(".m3u8") and store.has(key) else None


def m3u8_response(body: bytes) -> web.Response:
    return web.Response(body=body, headers={"Content-Type": M3U8_TYPE, "Cache-Control": "no-cache"})
