"""Errors a user can cause. The CLI prints them as one line and exits 2."""


class UserError(Exception):
    """A mistake in input, declarations or configuration, reported without a traceback."""


class DeclarationError(UserError):
    """A `Pipeline` subclass declares something invalid; the message names class and field."""

    def __init__(self, cls_name: str, field: str, problem: str) -> None:
        self.cls_name = cls_name
        self.field = field
        super().__init__(f"{cls_name}.{field}: {problem}")


class PipelineFailed(Exception):
    """A pipeline run failed; the message names the pipeline and never carries a secret."""
