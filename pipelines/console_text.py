"""Lines the CLI prints that carry text from outside: messages, names, paths, values, API answers.

They are built as Rich `Text`, never parsed as markup: a `[secret]`, a `[/]`, a trailing
backslash or an emoji code such as `:x:` prints as written, on a terminal, in a pipe and in Cloud
Logging records (which take a `Text`'s styles as the record's severity). Only the label is styled.
"""

from __future__ import annotations

from rich.text import Text


def labelled(label: str, text: str, style: str = "bold red") -> Text:
    """`label` in `style`, a space, then `text` as written: `error: …`, `failed: …`, `note: …`."""
    return Text.assemble((label, style), " ", text)


def plain(text: str, style: str = "") -> Text:
    """`text` as written, all in `style` (none by default)."""
    return Text(text, style=style)
