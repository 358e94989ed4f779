"""Syntax rules of reference 2.1, each with a passing and a failing case (file:line asserted)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from srs.config import ConfigError, Directive, parse_string
from srs.config.parser import MAX_DEPTH


def tree(text: str) -> list[tuple[str, tuple[str, ...], int]]:
    """Flattened (path, args, line) of every directive."""
    root = parse_string(text, filename="t.conf")
    return [(path, d.args, d.line) for path, d in root.walk()]


PASSING = [
    ("directive", "listen 1935;", [("listen", ("1935",), 1)]),
    ("several args", "listen 1935 1936;", [("listen", ("1935", "1936"), 1)]),
    ("no args", "a;", [("a", (), 1)]),
    ("block", "vhost v {\n enabled on;\n}\n", [("vhost", ("v",), 1), ("vhost.enabled", ("on",), 2)]),
    ("nested", "a {\nb {\nc 1;\n}\n}\n", [("a", (), 1), ("a.b", (), 2), ("a.b.c", ("1",), 3)]),
    ("block closes on same line", "a { b 1; }", [("a", (), 1), ("a.b", ("1",), 1)]),
    ("empty block", "a {}\n", [("a", (), 1)]),
    ("double quotes stripped", 'a "x y";', [("a", ("x y",), 1)]),
    ("single quotes stripped", "a 'x;y';", [("a", ("x;y",), 1)]),
    ("no escapes in quotes", r'a "x\y";', [("a", ("x\\y",), 1)]),
    ("empty quoted word dropped", 'a "" b;', [("a", ("b",), 1)]),
    ("comment line", "# hi\na 1;", [("a", ("1",), 2)]),
    ("comment after ;", "a 1; # c {\nb 2;", [("a", ("1",), 1), ("b", ("2",), 2)]),
    ("tabs and CRLF", "a\t1;\r\nb 2;\r\n", [("a", ("1",), 1), ("b", ("2",), 2)]),
    ("repeated kept in order", "a 1;\na 2;\n", [("a", ("1",), 1), ("a", ("2",), 2)]),
    ("hash inside a token", "a x#y;", [("a", ("x#y",), 1)]),
    ("empty file", "", []),
    ("only comments", "# a\n# b\n", []),
]


@pytest.mark.parametrize(("name", "text", "expected"), PASSING, ids=[p[0] for p in PASSING])
def test_syntax_accepted(name: str, text: str, expected: list[tuple[str, tuple[str, ...], int]]) -> None:
    assert tree(text) == expected


FAILING = [
    ("directive spans lines", "listen\n1935;\n", 1, "unexpected end of line"),
    ("args then newline", "listen 1935\n;\n", 1, "unexpected end of line"),
    ("block brace on next line", "vhost v\n{\n}\n", 1, "unexpected end of line"),
    ("quoted token spans lines", "a 'x\ny';\n", 1, "unexpected end of line"),
    ("missing ; before }", "a {\nb 1 }\n", 2, "unexpected '}'"),
    ("unclosed block", "a {\nb 1;\n", 1, 'expecting "}"'),
    ("stray }", "a 1;\n}\n", 2, "unexpected '}'"),
    ("stray ;", ";\n", 1, "unexpected ';'"),
    ("empty quoted name ;", 'listen 1935;\n"";\n', 2, "unexpected ';'"),
    ("empty quoted name {", "listen 1935;\n''{ }\n", 2, "unexpected '{'"),
    ("stray {", "{\n}\n", 1, "unexpected '{'"),
    ("no ; at EOF", "a 1", 1, "unexpected end of file"),
    ("char after closing quote", 'a "x"y;\n', 1, "after a quoted token"),
    ("include without files", "include;\n", 1, "include is empty"),
    ("include as a block", "include a {\n}\n", 1, "include must end"),
]


@pytest.mark.parametrize(("name", "text", "line", "message"), FAILING, ids=[f[0] for f in FAILING])
def test_syntax_refused_with_location(name: str, text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_string(text, filename="bad.conf")
    assert e.value.file == "bad.conf"
    assert e.value.line == line
    assert message in str(e.value)
    assert str(e.value).startswith(f"bad.conf:{line}: ")


def test_error_names_the_directive() -> None:
    with pytest.raises(ConfigError) as e:
        parse_string("chunk_size 128\n;", filename="x.conf")
    assert e.value.directive == "chunk_size"
    assert "directive 'chunk_size'" in str(e.value)


def test_nesting_limit() -> None:
    ok = "a {" * MAX_DEPTH + "}" * MAX_DEPTH
    assert parse_string(ok).children[0].name == "a"
    with pytest.raises(ConfigError, match="nested deeper"):
        parse_string("a {" * (MAX_DEPTH + 1) + "}" * (MAX_DEPTH + 1))


def test_dump_round_trips() -> None:
    text = "listen 1935 1936;\nvhost v {\n    play {\n        gop_cache off;\n    }\n    x 'a b';\n    e {\n    }\n}\n"
    root = parse_string(text)
    again = parse_string(root.dump())
    assert again == root
    assert root.dump() == text.replace("'a b'", "'a b'")


def test_directive_helpers() -> None:
    root = parse_string("v a { x 1; x 2; y; }\nv b;\n")
    va = root.get("v", "a")
    assert va is not None and va.get("x") == Directive("x", ("1",), (), "<text>", 1)
    assert [d.arg0 for d in va.get_all("x")] == ["1", "2"]
    assert root.get("v", "b") is not None and root.get("v", "c") is None
    assert va.get("y") is not None and va.get("y").arg0 == ""  # type: ignore[union-attr]


# --- include -----------------------------------------------------------------------------------


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_include_expands_in_place_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.conf", "a 1;\n")
    write(tmp_path / "b.conf", "b 2;\nc 3;\n")
    write(tmp_path / "inner.conf", "hls {\n enabled on;\n}\n")
    root = parse_string(
        "x 0;\ninclude a.conf b.conf;\nv {\n include inner.conf;\n y 9;\n}\n", filename="main"
    )
    assert [(p, d.args, d.file, d.line) for p, d in root.walk()] == [
        ("x", ("0",), "main", 1),
        ("a", ("1",), "a.conf", 1),
        ("b", ("2",), "b.conf", 1),
        ("c", ("3",), "b.conf", 2),
        ("v", (), "main", 3),
        ("v.hls", (), "inner.conf", 1),
        ("v.hls.enabled", ("on",), "inner.conf", 2),
        ("v.y", ("9",), "main", 5),
    ]


def test_include_relative_to_cwd_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "x.conf", "from_sub 1;\n")
    write(tmp_path / "x.conf", "from_cwd 1;\n")
    main = write(tmp_path / "sub" / "main.conf", "include x.conf;\n")
    monkeypatch.chdir(tmp_path)
    root = parse_string(Path(main).read_text(), filename=main)
    assert root.children[0].name == "from_cwd"


def test_include_falls_back_to_including_file_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "x.conf", "from_sub 1;\n")
    main = write(tmp_path / "sub" / "main.conf", "include x.conf;\n")
    monkeypatch.chdir(tmp_path)  # x.conf does not exist here
    root = parse_string(Path(main).read_text(), filename=main)
    assert root.children[0].name == "from_sub"
    assert root.children[0].file == os.path.join(str(tmp_path / "sub"), "x.conf")


def test_include_cycle_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.conf", "include b.conf;\n")
    write(tmp_path / "b.conf", "ok 1;\ninclude a.conf;\n")
    with pytest.raises(ConfigError) as e:
        parse_string("include a.conf;\n", filename=str(tmp_path / "main.conf"))
    assert "include cycle" in str(e.value) and e.value.file == "b.conf" and e.value.line == 2


def test_include_self_cycle(tmp_path: Path) -> None:
    main = write(tmp_path / "m.conf", "include m.conf;\n")
    with pytest.raises(ConfigError, match="include cycle"):
        parse_string("include m.conf;\n", filename=main)


def test_include_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as e:
        parse_string("a 1;\ninclude nope.conf;\n", filename="m.conf")
    assert e.value.line == 2 and "nope.conf" in str(e.value)


def test_included_file_cannot_close_outer_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "close.conf", "}\n")
    with pytest.raises(ConfigError) as e:
        parse_string("v {\ninclude close.conf;\n}\n", filename="m.conf")
    assert e.value.file == "close.conf" and "unexpected '}'" in str(e.value)


def test_included_file_unclosed_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "open.conf", "v {\n")
    with pytest.raises(ConfigError) as e:
        parse_string("include open.conf;\n", filename="m.conf")
    assert e.value.file == "open.conf" and e.value.line == 1


def test_injected_reader() -> None:
    files = {"a.conf": "a 1;\n"}
    root = parse_string("include a.conf;\n", reader=lambda p: files[p])
    assert root.children[0] == Directive("a", ("1",), (), "a.conf", 1)


@pytest.mark.parametrize("text", ["a x'y\"z;\n", "a '#x' '}' \"a'b\" 'c;d' 'e{f' x}y;\n", "a 'sp ace';\n"])
def test_dump_quotes_only_what_needs_it(text: str) -> None:
    root = parse_string(text)
    assert parse_string(root.dump()) == root


def test_include_path_with_nul_byte_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="cannot read"):
        parse_string("include a\x00b;\n", filename="m.conf")
