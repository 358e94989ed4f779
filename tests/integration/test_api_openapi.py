"""``docs/openapi.yaml`` describes exactly the routes the server registers (API port, HTTP server
port, shared port, exporter port), each with a response schema, and every ``$ref`` resolves.

No YAML library is a dependency: the document keeps to a plain layout (two-space indents, one key per
line in ``paths``) that these checks read line by line."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from srs.app import App
from srs.config import Endpoint
from support.net import free_port

from .conftest import start_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
_PATH = re.compile(r"^  (/\S*):\s*$")
_METHOD = re.compile(r"^    (get|put|post|delete|patch|options|head):\s*$")
_REF = re.compile(r"\$ref: '#/components/(schemas|parameters|responses)/(\w+)'")


def doc_operations(text: str) -> dict[str, dict[str, str]]:
    """path -> method -> the operation's text."""
    out: dict[str, dict[str, str]] = {}
    path = method = None
    in_paths = False
    for line in text.splitlines():
        if line.startswith("paths:"):
            in_paths = True
            continue
        if not in_paths:
            continue
        if line and not line.startswith(" "):
            break  # the next top-level key
        if m := _PATH.match(line):
            path, method = m.group(1), None
            out[path] = {}
        elif (m := _METHOD.match(line)) and path is not None:
            method = m.group(1)
            out[path][method] = ""
        elif path is not None and method is not None:
            out[path][method] += line + "\n"
    return out


def components(text: str, section: str) -> set[str]:
    block = text.split("\ncomponents:\n", 1)[1]
    sec = block.split(f"\n  {section}:\n", 1)[1]
    names = set()
    for line in sec.splitlines():
        if line and not line.startswith("    "):
            break
        if m := re.match(r"^    (\w+):", line):
            names.add(m.group(1))
    return names


def routes(app: App) -> dict[str, set[str]]:
    """canonical path -> methods, over every HTTP listener of the app."""
    out: dict[str, set[str]] = {}
    for lst in app.http_listeners.values():
        for res in lst.app.router.resources():
            out.setdefault(res.canonical, set()).update(r.method for r in res)
    return out


async def test_openapi_lists_exactly_the_routes_of_every_listener(tmp_path: Path) -> None:
    text = DOC.read_text()
    assert "\t" not in text
    ops = doc_operations(text)
    r = await start_app(tmp_path)
    try:
        seen = routes(r.app)
        assert {"http_server", "http_api"} <= set(r.app.http_listeners)
        # the shared port (API on the HTTP server's port) and the exporter port
        conf = r.app.config
        shared = dataclasses.replace(
            conf, http_api=dataclasses.replace(conf.http_api, listen=conf.http_server.listen)
        )
        exporter = dataclasses.replace(conf.exporter, enabled=True, listen=Endpoint("", free_port()))
        shared = dataclasses.replace(shared, exporter=exporter)
        assert (await r.app.reload(shared)).ok
        assert {"http_server", "exporter"} <= set(r.app.http_listeners) and r.app.http_api is None
        for path, methods in routes(r.app).items():
            seen.setdefault(path, set()).update(methods)
    finally:
        await r.app.stop(graceful=False)

    assert set(ops) == set(seen), (
        f"missing from the document: {sorted(set(seen) - set(ops))}; "
        f"not served: {sorted(set(ops) - set(seen))}"
    )
    for path, methods in seen.items():
        # "*" routes answer any method: the document shows them as GET (and says so in its header)
        want = {"get"} if "*" in methods else {m.lower() for m in methods}
        assert want <= set(ops[path]), (path, methods, sorted(ops[path]))
    assert "delete" in ops["/api/v1/clients/{id}"]


def test_openapi_operations_have_responses_and_refs_resolve() -> None:
    text = DOC.read_text()
    assert text.startswith("openapi: 3.1.0\n")
    ops = doc_operations(text)
    assert len(ops) >= 25
    for path, methods in ops.items():
        assert methods, f"{path} has no operation"
        for method, body in methods.items():
            assert "\n      responses:\n" in "\n" + body, (path, method)
            assert "operationId:" in body, (path, method)
            if method == "get" and path.startswith("/api/v1/") and "redirects" not in path:
                assert "application/json:" in body and "schema" in body, (path, method)
        for name in re.findall(r"\{(\w+)\}", path):
            for method, body in methods.items():
                assert f"name: {name}, in: path" in body or "optionalId" in body, (path, method, name)
    defined = {s: components(text, s) for s in ("schemas", "parameters", "responses")}
    for section, name in _REF.findall(text):
        assert name in defined[section], f"unresolved $ref {section}/{name}"
    ids = re.findall(r"operationId: (\w+)", text)
    assert len(ids) == len(set(ids)), "duplicate operationId"
