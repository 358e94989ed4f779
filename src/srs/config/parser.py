"""SRS's nginx-like config syntax into a tree of :class:`Directive`.

The tokenizer follows ``SrsConfDirective::read_token`` of SRS 7.0 (itself modelled on nginx's
``ngx_conf_read_token``), so a file SRS accepts parses the same here and a file SRS refuses is
refused here, with the line number:

* a directive is ``name arg... ;`` or ``name arg... { ... }``; blocks nest;
* tokens are separated by space, tab, CR, LF; ``"..."``/``'...'`` quote a token (quotes stripped,
  no escapes) and a closing quote must be followed by whitespace, ``;`` or ``{``;
* ``#`` at the start of a token comments out the rest of the line;
* SRS 7.0: a directive must end on the line it starts (``unexpected end of line``); ``}`` may
  follow on the same line;
* ``include f1 [f2 ...];`` is replaced by the directives of the named files, anywhere.

The parser is iterative (an explicit stack), so hostile nesting cannot blow Python's recursion
limit; nesting deeper than :data:`MAX_DEPTH` is refused (SRS has no limit, but no real config nests
more than four levels).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from srs.util.errors import ConfigError

__all__ = ["MAX_DEPTH", "MAX_INCLUDES", "Directive", "FileReader", "parse_file", "parse_string"]

#: Deepest block nesting accepted (SRS compat: SRS itself has no limit).
MAX_DEPTH = 64
#: Most include expansions in one parse (guards against include bombs that are not cycles).
MAX_INCLUDES = 256

_SPACES = " \t\r\n"

FileReader = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Directive:
    """One parsed directive: ``name args... ;`` or a block with ``children``.

    ``file``/``line`` say where it was written (the including file's line for nothing: every
    directive keeps the file it really comes from), so every error can point at it.
    """

    name: str
    args: tuple[str, ...] = ()
    children: tuple[Directive, ...] = ()
    file: str = "<text>"
    line: int = 0
    is_block: bool = field(default=False, compare=False)

    @property
    def arg0(self) -> str:
        """First argument or ``""`` (SRS ``arg0()``)."""
        return self.args[0] if self.args else ""

    def get(self, name: str, arg0: str | None = None) -> Directive | None:
        """First child named ``name`` (and with that ``arg0``), as SRS's ``get()``."""
        for child in self.children:
            if child.name == name and (arg0 is None or child.arg0 == arg0):
                return child
        return None

    def get_all(self, name: str) -> tuple[Directive, ...]:
        """Every child named ``name``, in file order."""
        return tuple(c for c in self.children if c.name == name)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def walk(self) -> Iterator[tuple[str, Directive]]:
        """Every descendant with its dotted path (``vhost.play.gop_cache``), depth first."""
        stack: list[tuple[str, Directive]] = [(c.name, c) for c in reversed(self.children)]
        while stack:
            path, node = stack.pop()
            yield path, node
            stack.extend((f"{path}.{c.name}", c) for c in reversed(node.children))

    def dump(self, indent: int = 0) -> str:
        """Serialize back to config text (like SRS ``persistence()``); parses to an equal tree."""
        lines: list[str] = []
        self._dump_into(lines, indent)
        return "\n".join(lines) + ("\n" if lines else "")

    def _dump_into(self, lines: list[str], indent: int) -> None:
        for child in self.children:
            pad = "    " * indent
            head = " ".join([child.name, *(_quote(a) for a in child.args)])
            if child.children or child.is_block:
                lines.append(f"{pad}{head} {{")
                child._dump_into(lines, indent + 1)
                lines.append(f"{pad}}}")
            else:
                lines.append(f"{pad}{head};")


def _quote(arg: str) -> str:
    # Quotes and '#', '}' are only special at the start of a token; ';', '{' and spaces anywhere.
    if arg and arg[0] not in "'\"#}" and not any(c in arg for c in _SPACES + ";{"):
        return arg
    return f"'{arg}'" if "'" not in arg else f'"{arg}"'


class _Node:
    """Mutable block under construction (frozen into a :class:`Directive` when it closes)."""

    __slots__ = ("args", "children", "file", "line", "name")

    def __init__(self, name: str, args: tuple[str, ...], file: str, line: int) -> None:
        self.name = name
        self.args = args
        self.file = file
        self.line = line
        self.children: list[Directive] = []

    def freeze(self) -> Directive:
        return Directive(self.name, self.args, tuple(self.children), self.file, self.line, True)


class _Source:
    """One text being tokenized (the main file or an included one)."""

    __slots__ = ("file", "line", "pos", "text")

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.pos = 0
        self.line = 1


# Token-reader outcomes (SRS SrsDirectiveState).
_ENTIRE, _BLOCK_START, _BLOCK_END, _EOF = range(4)


def _error(src: _Source, line: int, message: str, directive: str | None = None) -> ConfigError:
    return ConfigError(message, file=src.file, line=line, directive=directive)


def _read_token(src: _Source) -> tuple[int, list[str], int]:
    """Read one statement; returns (state, words, line where it starts)."""
    text = src.text
    n = len(text)
    args: list[str] = []
    line_start = 0
    start = src.pos
    sharp_comment = False
    d_quoted = s_quoted = False
    need_space = False
    last_space = True

    while True:
        if src.pos >= n:
            if args or not last_space:
                raise _error(src, src.line, 'unexpected end of file, expecting ";" or "}"', _head(args))
            return _EOF, args, line_start
        ch = text[src.pos]
        src.pos += 1

        if ch in "\r\n":
            if ch == "\n":
                src.line += 1
            sharp_comment = False
            # SRS 7.0: a directive must end on the line it starts.
            if args:
                raise _error(src, src.line - 1 if ch == "\n" else src.line, "unexpected end of line", args[0])
        if sharp_comment:
            continue

        if need_space:
            if ch in _SPACES:
                last_space = True
                need_space = False
                continue
            if ch == ";" or ch == "{":
                return _end(src, ch, args, line_start)
            raise _error(src, src.line, f"unexpected {ch!r} after a quoted token", _head(args))

        if last_space:
            if ch in _SPACES:
                continue
            start = src.pos - 1
            if ch == ";":
                if not args:
                    raise _error(src, src.line, "unexpected ';'")
                return _ENTIRE, args, line_start
            if ch == "{":
                if not args:
                    raise _error(src, src.line, "unexpected '{'")
                return _BLOCK_START, args, line_start
            if ch == "}":
                if args:
                    raise _error(src, src.line, "unexpected '}' (missing ';'?)", args[0])
                return _BLOCK_END, args, src.line
            if ch == "#":
                sharp_comment = True
                continue
            if ch == '"':
                start += 1
                d_quoted = True
            elif ch == "'":
                start += 1
                s_quoted = True
            last_space = False
            if line_start == 0:
                line_start = src.line
            continue

        # Inside a token.
        if line_start == 0:
            line_start = src.line
        found = False
        if d_quoted:
            if ch == '"':
                d_quoted = False
                need_space = found = True
        elif s_quoted:
            if ch == "'":
                s_quoted = False
                need_space = found = True
        elif ch in _SPACES or ch in ";{":
            last_space = found = True
        if found:
            word = text[start : src.pos - 1]
            if word:  # SRS drops empty words, so '' and "" vanish
                args.append(word)
            if ch == ";" or ch == "{":
                return _end(src, ch, args, line_start)
            if ch in "\r\n" and args:
                raise _error(src, src.line - 1 if ch == "\n" else src.line, "unexpected end of line", args[0])


def _end(src: _Source, ch: str, args: list[str], line_start: int) -> tuple[int, list[str], int]:
    """A statement ends with ``;`` or opens a block with ``{``; either needs a name (``"";`` has none:
    SRS drops empty words)."""
    if not args:
        raise _error(src, src.line, f"unexpected {ch!r}")
    return (_ENTIRE if ch == ";" else _BLOCK_START), args, line_start


def _head(args: list[str]) -> str | None:
    return args[0] if args else None


def _default_reader(path: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        raise ConfigError(
            f"cannot read config file: {getattr(e, 'strerror', None) or e}", file=path
        ) from None
    # surrogateescape: bytes that are not UTF-8 survive to the paths/URLs they name.
    return data.decode("utf-8", errors="surrogateescape")


class _Parser:
    def __init__(self, reader: FileReader, base_dir: str | None) -> None:
        self.reader = reader
        self.base_dir = base_dir
        self.includes = 0

    def resolve(self, name: str, including: str) -> str:
        # SRS compat: SRS opens include paths relative to the process cwd. We also accept a path
        # relative to the including file when the cwd-relative one does not exist, so configs
        # that include their neighbours load from any cwd.
        if os.path.isabs(name) or os.path.exists(name):
            return name
        here = os.path.dirname(including) if including and not including.startswith("<") else ""
        if not here and self.base_dir:
            here = self.base_dir
        candidate = os.path.join(here, name) if here else name
        return candidate if os.path.exists(candidate) else name

    def parse(self, text: str, file: str) -> Directive:
        root = _Node("root", (), file, 0)
        blocks: list[_Node] = [root]
        # Each source remembers how many open blocks it started with: an included file may not
        # close a block it did not open (SRS parses includes as a file context).
        sources: list[tuple[_Source, int]] = [(_Source(text, file), 1)]
        active: list[str] = [_canonical(file)]

        while sources:
            src, floor = sources[-1]
            state, words, line = _read_token(src)
            if state == _EOF:
                if len(blocks) > floor:
                    opened = blocks[-1]
                    raise ConfigError(
                        'unexpected end of file, expecting "}"',
                        file=opened.file,
                        line=opened.line,
                        directive=opened.name,
                    )
                sources.pop()
                active.pop()
                continue
            if state == _BLOCK_END:
                if len(blocks) <= floor:
                    raise _error(src, line, "unexpected '}'")
                done = blocks.pop().freeze()
                blocks[-1].children.append(done)
                continue
            name, args = words[0], tuple(words[1:])
            if name == "include":
                if state == _BLOCK_START:
                    raise _error(src, line, "include must end with ';', not a block", name)
                if not args:
                    raise _error(src, line, "include is empty directive", name)
                self.includes += len(args)
                if self.includes > MAX_INCLUDES:
                    raise _error(src, line, f"more than {MAX_INCLUDES} includes", name)
                # Push in reverse so the files are read in the order written.
                for inc in reversed(args):
                    path = self.resolve(inc, src.file)
                    key = _canonical(path)
                    if key in active:
                        raise _error(src, line, f"include cycle: {inc!r} is already being parsed", name)
                    try:
                        body = self.reader(path)
                    except ConfigError as e:
                        raise _error(src, line, f"include {inc!r}: {e.message}", name) from None
                    sources.append((_Source(body, path), len(blocks)))
                    active.append(key)
                continue
            if state == _BLOCK_START:
                if len(blocks) > MAX_DEPTH:
                    raise _error(src, line, f"blocks nested deeper than {MAX_DEPTH}", name)
                blocks.append(_Node(name, args, src.file, line))
            else:
                blocks[-1].children.append(Directive(name, args, (), src.file, line))
        return Directive("root", (), tuple(root.children), file, 0, True)


def _canonical(path: str) -> str:
    if path.startswith("<"):
        return path
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path


def parse_string(
    text: str, *, filename: str = "<text>", reader: FileReader | None = None, base_dir: str | None = None
) -> Directive:
    """Parse config text (includes are read through ``reader``, default: the file system)."""
    return _Parser(reader or _default_reader, base_dir).parse(text, filename)


def parse_file(path: str, *, reader: FileReader | None = None) -> Directive:
    """Read and parse a config file with its includes."""
    read = reader or _default_reader
    return _Parser(read, None).parse(read(path), path)
