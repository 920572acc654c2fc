"""Errors a user can cause. The CLI prints them as one line and exits 2."""


class UserError(Exception):
    """A mistake in input, declarations or configuration, reported without a traceback."""


class DeclarationError(UserError):
    """A `Pipeline` subclass declares something invalid; the message names the file and line of the
    class (when known), the class and the field: `pipelines/x/pipeline.py:12: X.schedule: ...`."""

    def __init__(self, cls_name: str, field: str, problem: str, where: str | None = None) -> None:
        self.cls_name = cls_name
        self.field = field
        self.where = where
        super().__init__(f"{where + ': ' if where else ''}{cls_name}.{field}: {problem}")


class PipelineFailed(Exception):
    """A pipeline run failed; the message names the pipeline and never carries a secret."""


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM from Cloud Run on timeout or cancel, or Ctrl-C).

    A BaseException, like KeyboardInterrupt, so no `except Exception` swallows it on the way up.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"signal {signum}")


class SourceDataError(ValueError):
    """Source data breaks the pipeline's contract in a way no row-level discard can absorb."""
