"""HTTP VOD on aiohttp: ``.flv?start=`` and SRS's ``.mp4?range=`` query form (see :mod:`srs.server.vod`).

:func:`serve_vod` is asked first by ``serve_static``; ``None`` means "a plain static file", which
``web.FileResponse`` serves with RFC 9110 ``Range`` support (206, 416, suffix ranges, If-Range,
``Accept-Ranges``) through ``sendfile``. Here:

* ``.flv``/``.fhv`` with ``start`` > 0: FLV header + sequence headers + the file from the offset,
  copied in chunks read off the event loop (the file is never read whole into memory).
* ``.mp4`` with ``?range=``/``?bytes=``: turned into the equivalent ``Range`` header and served by
  ``FileResponse`` (so 206/416 are the same as for a header range).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import BinaryIO

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from multidict import CIMultiDict

from srs.server.vod import (
    FLV_EXTENSIONS,
    MP4_EXTENSIONS,
    FlvPlan,
    flv_start,
    mp4_range_override,
    plan_flv_start,
    unsatisfiable_range,
)
from srs.util.errors import ParseError

log = logging.getLogger("srs")

CHUNK = 256 * 1024


class _QueryRangeFileResponse(web.FileResponse):
    """A ``FileResponse`` prepared as if the request carried ``Range: <range_value>`` (none if empty)."""

    def __init__(self, path: Path, range_value: str, headers: dict[str, str]) -> None:
        super().__init__(path, headers=headers)
        self._range_value = range_value

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        fields = CIMultiDict(request.headers)
        fields.popall(hdrs.RANGE, None)
        if self._range_value:
            fields[hdrs.RANGE] = self._range_value
        fields.popall(hdrs.IF_RANGE, None)  # the query asks for these bytes, whatever the validator
        return await super().prepare(request.clone(headers=fields))


def _plan(path: Path, offset: int) -> FlvPlan:
    with path.open("rb") as f:
        size = path.stat().st_size

        def read_at(pos: int, n: int) -> bytes:
            f.seek(pos)
            return f.read(n)

        return plan_flv_start(offset, size, read_at)


def _read(f: BinaryIO, pos: int, n: int) -> bytes:
    f.seek(pos)
    return f.read(n)


async def _send_flv(request: web.Request, path: Path, plan: FlvPlan, resp: web.StreamResponse) -> None:
    loop = asyncio.get_running_loop()
    f = await loop.run_in_executor(None, path.open, "rb")
    try:
        for pos, length in plan.pieces():
            while length > 0:
                chunk = await loop.run_in_executor(None, _read, f, pos, min(CHUNK, length))
                if not chunk:
                    # The file shrank since it was measured: the promised length cannot be met.
                    raise ConnectionResetError(f"{path} shrank while being served")
                await resp.write(chunk)
                pos += len(chunk)
                length -= len(chunk)
    finally:
        await loop.run_in_executor(None, f.close)


async def _serve_flv_start(
    request: web.Request, path: Path, offset: int, headers: dict[str, str]
) -> web.StreamResponse:
    loop = asyncio.get_running_loop()
    try:
        plan = await loop.run_in_executor(None, _plan, path, offset)
    except ParseError as e:
        raise web.HTTPBadRequest(text=f"{request.path}: {e.message}") from None
    except OSError:
        raise web.HTTPNotFound() from None
    if plan.status == 416:
        raise web.HTTPRequestRangeNotSatisfiable(headers={hdrs.CONTENT_RANGE: unsatisfiable_range(plan.size)})
    resp = web.StreamResponse(status=200, headers={**headers, hdrs.CONTENT_TYPE: "video/x-flv"})
    resp.content_length = plan.content_length
    await resp.prepare(request)
    if request.method != "HEAD":
        await _send_flv(request, path, plan, resp)
    await resp.write_eof()
    return resp


async def serve_vod(request: web.Request, path: Path, headers: dict[str, str]) -> web.StreamResponse | None:
    """Answer the VOD forms SRS has beyond a plain file; ``None``: serve ``path`` as a static file."""
    suffix = path.suffix.lower()
    if suffix in FLV_EXTENSIONS:
        offset = flv_start(request.query)
        if offset > 0:
            return await _serve_flv_start(request, path, offset, headers)
    elif suffix in MP4_EXTENSIONS:
        override = mp4_range_override(request.query)
        if override is not None:
            return _QueryRangeFileResponse(path, override, headers)
    return None
