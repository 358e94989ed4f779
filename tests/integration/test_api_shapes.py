"""API shapes against the reference (section 3.3): every endpoint, with an RTMP publisher, an RTMP
player, an HTTP-FLV player and a second vhost connected. Field names and JSON types come from one
table below (SRS's ``dumps()``: ``integer`` -> int, ``number`` -> int or float); the values that
can be known are checked too: cross references by id, counts, kbps, the clip's codec info."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp

from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags

from .conftest import Running, start_app

V2 = "v2.test"
V2_CONF = f"vhost {V2} {{ }}"

# ---------------------------------------------------------------- the shape table

INT, NUM, STR, BOOL = "int", "number", "str", "bool"
NULL = None


def each(names: str, shape: Any) -> dict[str, Any]:
    """``{name: shape}`` for every space-separated name."""
    return dict.fromkeys(names.split(), shape)


def opt(key: str) -> str:
    """A key SRS writes only sometimes (``publish.cid``, ``hls.fragment``)."""
    return "?" + key


ENVELOPE: dict[str, Any] = {"code": INT, "server": STR, "service": STR, "pid": STR}
KBPS = {"recv_30s": INT, "send_30s": INT}
VHOST = {
    "id": STR,
    "name": STR,
    "enabled": BOOL,
    "clients": INT,
    "streams": INT,
    "send_bytes": INT,
    "recv_bytes": INT,
    "kbps": KBPS,
    "hls": {"enabled": BOOL, opt("fragment"): NUM},
}
VIDEO = {"codec": STR, "profile": STR, "level": STR, "width": INT, "height": INT}
AUDIO = {"codec": STR, "sample_rate": INT, "channel": INT, "profile": STR}
STREAM = {
    "id": STR,
    "name": STR,
    "vhost": STR,
    "app": STR,
    "tcUrl": STR,
    "url": STR,
    "live_ms": INT,
    "clients": INT,
    "frames": INT,
    "send_bytes": INT,
    "recv_bytes": INT,
    "kbps": KBPS,
    "publish": {"active": BOOL, opt("cid"): STR},
    "video": (NULL, VIDEO),
    "audio": (NULL, AUDIO),
}
CLIENT = {
    "id": STR,
    "vhost": STR,
    "stream": STR,
    "ip": STR,
    "pageUrl": STR,
    "swfUrl": STR,
    "tcUrl": STR,
    "url": STR,
    "name": STR,
    "type": STR,
    "publish": BOOL,
    "alive": NUM,
    "send_bytes": INT,
    "recv_bytes": INT,
    "kbps": KBPS,
}
SUMMARIES = {
    "ok": BOOL,
    "now_ms": INT,
    "self": {
        "version": STR,
        "pid": INT,
        "ppid": INT,
        "argv": STR,
        "cwd": STR,
        "mem_kbyte": INT,
        "mem_percent": NUM,
        "cpu_percent": NUM,
        "srs_uptime": INT,
    },
    "system": {
        "cpu_percent": NUM,
        "disk_read_KBps": INT,
        "disk_write_KBps": INT,
        "disk_busy_percent": NUM,
        "mem_ram_kbyte": INT,
        "mem_ram_percent": NUM,
        "mem_swap_kbyte": INT,
        "mem_swap_percent": NUM,
        "cpus": INT,
        "cpus_online": INT,
        "uptime": NUM,
        "ilde_time": NUM,
        "load_1m": NUM,
        "load_5m": NUM,
        "load_15m": NUM,
        "net_sample_time": INT,
        "net_recv_bytes": INT,
        "net_send_bytes": INT,
        "net_recvi_bytes": INT,
        "net_sendi_bytes": INT,
        "srs_sample_time": INT,
        "srs_recv_bytes": INT,
        "srs_send_bytes": INT,
        "conn_sys": INT,
        "conn_sys_et": INT,
        "conn_sys_tw": INT,
        "conn_sys_udp": INT,
        "conn_srs": INT,
    },
}
SELF_PROC = {
    "ok": BOOL,
    "sample_time": INT,
    "percent": NUM,
    "pid": INT,
    "comm": STR,
    "state": STR,
    **each(
        "ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime "
        "priority nice num_threads itrealvalue starttime vsize rss rsslim startcode endcode startstack "
        "kstkesp kstkeip signal blocked sigignore sigcatch wchan nswap cnswap exit_signal processor "
        "rt_priority policy delayacct_blkio_ticks guest_time cguest_time",
        INT,
    ),
}
V1_URLS = each(
    "versions summaries rusages self_proc_stats system_proc_stats meminfos authors features requests "
    "vhosts streams clients raw clusters perf tcmalloc",
    STR,
)
FEATURES = each(
    "ssl hls hds callback api httpd dvr transcode ingest stat caster complex_send tcp_nodelay so_sendbuf mr",
    BOOL,
)

# path -> shape of the whole body (reference 3.2)
SHAPES: dict[str, Any] = {
    "/": {**ENVELOPE, "urls": {"api": STR, "rtc": {"v1": {"play": STR, "publish": STR, "nack": STR}}}},
    "/api/": {**ENVELOPE, "urls": {"v1": STR}},
    "/api/v1/": {
        **ENVELOPE,
        "urls": V1_URLS,
        "tests": {"requests": STR, "errors": STR, "redirects": STR, "[vhost]": STR},
    },
    "/api/v1/versions": {**ENVELOPE, "data": {"major": INT, "minor": INT, "revision": INT, "version": STR}},
    "/api/v1/summaries": {**ENVELOPE, "data": SUMMARIES},
    "/api/v1/rusages": {
        **ENVELOPE,
        "data": {
            "ok": BOOL,
            "sample_time": INT,
            **each(
                "ru_utime ru_stime ru_maxrss ru_ixrss ru_idrss ru_isrss ru_minflt ru_majflt ru_nswap "
                "ru_inblock ru_oublock ru_msgsnd ru_msgrcv ru_nsignals ru_nvcsw ru_nivcsw",
                INT,
            ),
        },
    },
    "/api/v1/self_proc_stats": {**ENVELOPE, "data": SELF_PROC},
    "/api/v1/system_proc_stats": {
        **ENVELOPE,
        "data": {
            "ok": BOOL,
            "sample_time": INT,
            "percent": NUM,
            **each("user nice sys idle iowait irq softirq steal guest", INT),
        },
    },
    "/api/v1/meminfos": {
        **ENVELOPE,
        "data": {
            "ok": BOOL,
            "sample_time": INT,
            "percent_ram": NUM,
            "percent_swap": NUM,
            **each("MemActive RealInUse NotInUse MemTotal MemFree Buffers Cached SwapTotal SwapFree", INT),
        },
    },
    "/api/v1/authors": {**ENVELOPE, "data": {"license": STR, "contributors": STR}},
    "/api/v1/features": {
        **ENVELOPE,
        "data": {"options": STR, "options2": STR, "build": STR, "build2": STR, "features": FEATURES},
    },
    "/api/v1/tests/requests": {
        **ENVELOPE,
        "data": {
            "uri": STR,
            "path": STR,
            "METHOD": STR,
            "headers": {"sigature": STR, "version": STR, "link": STR, "time": INT},
        },
    },
    "/api/v1/tests/errors": {"code": INT},
    "/api/v1/vhosts/": {**ENVELOPE, "vhosts": [VHOST]},
    "/api/v1/streams/": {**ENVELOPE, "streams": [STREAM]},
    "/api/v1/clients/": {**ENVELOPE, "clients": [CLIENT]},
    "/api/v1/raw?rpc=raw": {
        "code": INT,
        "http_api": {
            "enabled": BOOL,
            "listen": STR,
            "crossdomain": BOOL,
            "raw_api": {"enabled": BOOL, "allow_reload": BOOL, "allow_query": BOOL, "allow_update": BOOL},
        },
    },
    "/api/v1/raw?rpc=reload-fetch": {"code": INT, "data": {"err": INT, "msg": STR, "state": INT, "rid": STR}},
    "/api/v1/clusters?vhost=__defaultVhost__&app=live&stream=livestream&coworker=127.0.0.1:1985": {
        "code": INT,
        "data": {
            "query": {"ip": STR, "vhost": STR, "app": STR, "stream": STR},
            "origin": (
                NULL,
                {"ip": STR, "port": INT, "vhost": STR, "api": STR, "routers": [STR]},
            ),
        },
    },
}
# one object by id: filled in from the lists
ONE = {"vhosts": ("vhost", VHOST), "streams": ("stream", STREAM), "clients": ("client", CLIENT)}


def check_shape(value: Any, shape: Any, where: str = "$") -> None:
    """``value`` has exactly ``shape``: same keys (``?key`` optional), JSON types, list elements."""
    if isinstance(shape, tuple):
        errors = []
        for alt in shape:
            try:
                check_shape(value, alt, where)
                return
            except AssertionError as e:
                errors.append(str(e))
        raise AssertionError(f"{where}: none of the alternatives fit: {errors}")
    if shape is None:
        assert value is None, f"{where}: expected null, got {value!r}"
    elif isinstance(shape, dict):
        assert isinstance(value, dict), f"{where}: expected object, got {value!r}"
        required = {k for k in shape if not k.startswith("?")}
        allowed = required | {k[1:] for k in shape if k.startswith("?")}
        assert required <= value.keys() <= allowed, (
            f"{where}: keys {sorted(value)} != {sorted(required)} (+optional {sorted(allowed - required)})"
        )
        for k, v in value.items():
            check_shape(v, shape.get(k, shape.get("?" + k)), f"{where}.{k}")
    elif isinstance(shape, list):
        assert isinstance(value, list), f"{where}: expected array, got {value!r}"
        for i, item in enumerate(value):
            check_shape(item, shape[0], f"{where}[{i}]")
    elif shape == INT:
        assert isinstance(value, int) and not isinstance(value, bool), (
            f"{where}: expected integer, got {value!r}"
        )
    elif shape == NUM:
        assert isinstance(value, int | float) and not isinstance(value, bool), (
            f"{where}: expected number, got {value!r}"
        )
    elif shape == STR:
        assert isinstance(value, str), f"{where}: expected string, got {value!r}"
    elif shape == BOOL:
        assert isinstance(value, bool), f"{where}: expected boolean, got {value!r}"
    else:  # pragma: no cover - a typo in the table
        raise AssertionError(f"bad shape {shape!r}")


# ---------------------------------------------------------------- a server with clients of each kind


@dataclass
class Scene:
    r: Running
    http: aiohttp.ClientSession
    pub: RtmpClient
    player: RtmpClient
    v2_player: RtmpClient
    flv: aiohttp.ClientResponse
    flv_received: list[int] = field(default_factory=lambda: [0])
    flv_eof: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def api_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.r.ports.api}{path}"

    async def get(self, path: str) -> Any:
        async with self.http.get(self.api_url(path)) as resp:
            assert resp.status == 200, (path, resp.status)
            return json.loads(await resp.read())

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(BaseException):
                await t
        self.flv.close()
        for c in (self.pub, self.player, self.v2_player):
            c.writer.close()
        await self.http.close()


async def _drain_flv(scene: Scene) -> None:
    try:
        async for chunk in scene.flv.content.iter_any():
            scene.flv_received[0] += len(chunk)
    except (aiohttp.ClientError, ConnectionError):
        pass
    finally:
        scene.flv_eof.set()


async def open_scene(r: Running, *, stream: str = "livestream") -> Scene:
    """Publisher (avatar.flv in real time) + RTMP player + HTTP-FLV player on the default vhost, and
    an RTMP player waiting on ``v2.test`` (a second vhost with an unpublished stream)."""
    http = aiohttp.ClientSession()
    pub = await RtmpClient.open(r.ports.rtmp)
    await pub.publish(stream)
    tags = flv_tags(clip("avatar.flv"))
    publishing = asyncio.create_task(pub.send_tags(tags, realtime=True))
    player = await RtmpClient.open(r.ports.rtmp)
    await player.play(stream)
    v2_player = await RtmpClient.open(r.ports.rtmp, tc_url=f"rtmp://127.0.0.1:{r.ports.rtmp}/live?vhost={V2}")
    await v2_player.play("waiting")
    flv = await http.get(r.flv_url(stream))
    assert flv.status == 200
    scene = Scene(r, http, pub, player, v2_player, flv)
    scene.tasks += [publishing, asyncio.create_task(_drain_flv(scene))]
    return scene


async def wait_for(cond: Any, timeout_s: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await cond():
        assert loop.time() < deadline, f"timeout waiting for {what}"
        await asyncio.sleep(0.05)


@cache
def clip_codecs() -> tuple[dict[str, Any], dict[str, Any]]:
    """What ffprobe says about avatar.flv, in the API's terms."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,profile,level,width,height,sample_rate,channels",
            "-of",
            "json",
            str(clip("avatar.flv")),
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    streams = {s["codec_type"]: s for s in json.loads(out.stdout)["streams"]}
    v, a = streams["video"], streams["audio"]
    level = int(v["level"])
    video = {
        "codec": "H264",
        "profile": v["profile"],
        "level": f"{level // 10}" + (f".{level % 10}" if level % 10 else ""),
        "width": int(v["width"]),
        "height": int(v["height"]),
    }
    audio = {
        "codec": "AAC",
        "sample_rate": int(a["sample_rate"]),
        "channel": int(a["channels"]),
        "profile": a["profile"],
    }
    return video, audio


def set_config(r: Running, **http_api: Any) -> None:
    """Change ``http_api`` settings in the running config (the API reads it at each request)."""
    cfg = r.app.config
    api = cfg.http_api
    for name, value in http_api.items():
        if name in ("raw_api", "auth"):
            value = dataclasses.replace(getattr(api, name), **value)
        api = dataclasses.replace(api, **{name: value})
    r.app.config = r.ctx.config = dataclasses.replace(cfg, http_api=api)


# ---------------------------------------------------------------- the test


async def test_every_endpoint_has_the_reference_shape(tmp_path: Path) -> None:
    r = await start_app(tmp_path, extra=V2_CONF)
    set_config(r, raw_api={"enabled": True})
    scene = await open_scene(r)
    try:
        # kbps needs two samples (one per second) after the media started flowing
        async def flowing() -> bool:
            body = await scene.get("/api/v1/streams/")
            st = [s for s in body["streams"] if s["publish"]["active"]]
            return bool(st) and st[0]["kbps"]["recv_30s"] > 0 and st[0]["kbps"]["send_30s"] > 0

        await wait_for(flowing, what="kbps")
        for path, shape in SHAPES.items():
            body = await scene.get(path)
            check_shape(body, shape, path)
            if "code" in shape and path != "/api/v1/tests/errors":
                assert body["code"] == 0, path
        for plural, (single, shape) in ONE.items():
            items = (await scene.get(f"/api/v1/{plural}/"))[plural]
            assert items, plural
            for item in items:
                one = await scene.get(f"/api/v1/{plural}/{item['id']}")
                check_shape(one, {**ENVELOPE, single: shape}, f"/api/v1/{plural}/{{id}}")
                assert one[single]["id"] == item["id"]

        vhosts = (await scene.get("/api/v1/vhosts/"))["vhosts"]
        streams = (await scene.get("/api/v1/streams/"))["streams"]
        clients = (await scene.get("/api/v1/clients/"))["clients"]

        # cross references by statistics id, and counts (clients include the publisher)
        vh = {v["id"]: v for v in vhosts}
        st = {s["id"]: s for s in streams}
        assert {v["name"] for v in vhosts} == {"__defaultVhost__", V2}
        for s in streams:
            assert s["vhost"] in vh
            assert s["clients"] == sum(1 for c in clients if c["stream"] == s["id"])
        for c in clients:
            assert c["stream"] in st and st[c["stream"]]["vhost"] == c["vhost"]
        for v in vhosts:
            assert v["clients"] == sum(1 for c in clients if c["vhost"] == v["id"])
            assert v["streams"] == sum(1 for s in streams if s["vhost"] == v["id"] and s["publish"]["active"])
        assert sorted(c["type"] for c in clients) == ["flv-play", "fmle-publish", "rtmp-play", "rtmp-play"]

        live = next(s for s in streams if s["url"] == "/live/livestream")
        waiting = next(s for s in streams if s["url"] == f"{V2}/live/waiting")
        publisher = next(c for c in clients if c["type"] == "fmle-publish")
        assert live["publish"] == {"active": True, "cid": publisher["id"]} and publisher["publish"] is True
        assert (
            waiting["publish"] == {"active": False} and waiting["video"] is None and waiting["audio"] is None
        )
        assert (live["clients"], waiting["clients"]) == (3, 1)
        assert (live["name"], live["app"], vh[live["vhost"]]["name"]) == (
            "livestream",
            "live",
            "__defaultVhost__",
        )
        assert vh[live["vhost"]]["enabled"] is True and vh[live["vhost"]]["hls"] == {"enabled": False}
        assert live["frames"] > 0 and live["recv_bytes"] > 0 and live["send_bytes"] > 0
        assert live["kbps"]["recv_30s"] > 0 and live["kbps"]["send_30s"] > 0
        assert publisher["kbps"]["recv_30s"] > 0 and publisher["recv_bytes"] > 0
        flv_client = next(c for c in clients if c["type"] == "flv-play")
        assert flv_client["send_bytes"] > 0 and flv_client["ip"] == "127.0.0.1"
        assert all(c["alive"] > 0 for c in clients)

        # codec info exactly as ffprobe reads the clip (H.264 High 3.2 768x320, AAC LC 44100 2ch)
        video, audio = clip_codecs()
        assert (live["video"], live["audio"]) == (video, audio)

        # totals agree with the lists
        summary = (await scene.get("/api/v1/summaries"))["data"]["system"]
        # SRS counts every connection, the API request's own included: 4 stream clients + 1.
        assert summary["srs_recv_bytes"] > 0 and summary["conn_srs"] == 5
        origin = (await scene.get(next(p for p in SHAPES if p.startswith("/api/v1/clusters"))))["data"][
            "origin"
        ]
        assert origin["port"] == r.ports.rtmp and origin["vhost"] == "__defaultVhost__"
        assert origin["ip"] == "127.0.0.1" and origin["routers"] == [origin["api"]]
        assert origin["api"] == f"127.0.0.1:{r.ports.api}"
    finally:
        await scene.close()
        await r.app.stop(graceful=False)
