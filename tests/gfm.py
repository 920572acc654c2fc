"""GitHub-flavoured Markdown tables, checked as GitHub reads them (the GFM spec's table extension)."""

from __future__ import annotations

import re

SEPARATOR = re.compile(r"^\|( *:?-{3,}:? *\|)+$")
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def cells(line: str) -> list[str]:
    """The cells of a table row: split at pipes not escaped with a backslash (also in code spans)."""
    inner = line.strip()
    assert inner.startswith("|") and inner.endswith("|") and not inner.endswith("\\|"), line
    return UNESCAPED_PIPE.split(inner[1:-1])


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table: header row, then body rows, as lists of cells. Fails on a malformed one: a
    header without its separator row, a separator or row whose column count is not the header's."""
    lines = markdown.splitlines()
    found, i = [], 0
    while i < len(lines):
        if not lines[i].startswith("|"):
            i += 1
            continue
        assert i == 0 or lines[i - 1].strip() == "", f"a table must follow a blank line: {lines[i]!r}"
        header = cells(lines[i])
        assert i + 1 < len(lines) and SEPARATOR.match(lines[i + 1]), f"no separator row under {lines[i]!r}"
        assert len(cells(lines[i + 1])) == len(header), f"separator of {len(cells(lines[i + 1]))} columns under {len(header)}"
        rows, i = [header], i + 2
        while i < len(lines) and lines[i].startswith("|"):
            row = cells(lines[i])
            assert len(row) == len(header), f"{len(row)} cells under a header of {len(header)}: {lines[i]!r}"
            rows.append(row)
            i += 1
        found.append(rows)
    return found
