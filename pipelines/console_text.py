"""Lines the CLI prints that carry text from outside: messages, names, paths, values, API answers.

They are built as Rich `Text`, never parsed as markup: a `[secret]`, a `[/]`, a trailing
backslash or an emoji code such as `:x:` prints as written, on a terminal, in a pipe and in Cloud
Logging records (which take a `Text`'s styles as the record's severity). Only the label is styled.
"""

from __future__ import annotations

import re

from rich.text import Text

# Control characters but line feed and tab: an escape sequence in a log message or an API answer
# would otherwise reach the terminal (recolour it, retitle the window, move the cursor back over
# what was printed), and a carriage return would print over the line.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with control characters (but line feed and tab) shown as `\\xNN` instead of acted on."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def labelled(label: str, text: str, style: str = "bold red") -> Text:
    """`label` in `style`, a space, then `text` as written: `error: …`, `failed: …`, `note: …`."""
    return Text.assemble((label, style), " ", printable(text))


def plain(text: str, style: str = "") -> Text:
    """`text` as written, all in `style` (none by default)."""
    return Text(printable(text), style=style)
