"""Help that reads like the docs: placeholders named for what they hold (`--env ENV`, `NAMES...`),
none for on/off flags, instead of the parser's type names (`<str>`, `<bool>`, `<list[str]>`)."""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup


def tidy(command: Any) -> None:
    """Name every placeholder of `command` that has none (`--help` included)."""
    if not getattr(command, "_tidied", False):
        original = command.get_help_option

        def help_option(ctx: Any) -> Any:
            option = original(ctx)
            if option is not None:
                option.metavar = ""
            return option

        command.get_help_option = help_option
        command._tidied = True
    for param in command.params:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        elif param.metavar is None:
            name = (param.name or "value").upper()
            repeated = param.nargs == -1 or getattr(param, "multiple", False)
            # An argument's usage adds its own "..."; an option's placeholder says it repeats.
            param.metavar = f"{name}..." if repeated and getattr(param, "param_type_name", "") == "option" else name
        if getattr(param, "param_type_name", "") == "argument":
            param.display_type_rich = _no_type  # the argument's name column already says what it holds


def _no_type(ctx: Any) -> None:
    return None


class TidyGroup(TyperGroup):
    """The `toltek` group: its own help and every command's tidied before they are shown."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            tidy(command)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        tidy(self)
        super().format_help(ctx, formatter)
