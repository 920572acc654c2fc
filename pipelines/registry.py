"""The registry of pipeline classes: the single source of truth everything else derives from.

Defining a `Pipeline` subclass registers it. A pipeline is a package `pipelines/<name>/` whose class
lives in `pipeline.py`; `discover()` imports those modules, and only those, so that listing and
planning pipelines never load a source (dlt, pyarrow, requests): a source module is imported by
the class's `source()` when it runs.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines import naming
from pipelines.errors import DeclarationError, UserError

if TYPE_CHECKING:
    from pipelines.base import Pipeline


PIPELINE_MODULE = "pipeline"
# A class deriving from Pipeline (`class X(Pipeline):`), found without importing the module.
_CLASS = re.compile(r"^class\s+\w+\(\s*(?:\w+\.)*Pipeline\s*[,)]", re.M)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class Registry:
    def __init__(self) -> None:
        self._by_name: dict[str, type[Pipeline]] = {}
        # Who holds each dataset and secret: a new class is checked against them by lookup, so a
        # registry of n classes costs n checks, not n squared.
        self._datasets: dict[str, type[Pipeline]] = {}
        self._secrets: dict[str, type[Pipeline]] = {}
        self._by_qualified: dict[str, type[Pipeline]] = {}
        # Landing folders of file sources, and every folder above one (with the classes below it).
        self._landing: dict[str, tuple[type[Pipeline], ...]] = {}
        self._landing_above: dict[str, tuple[type[Pipeline], ...]] = {}

    def add(self, cls: type[Pipeline]) -> None:
        """Register `cls`; a re-import of the same class replaces it, anything else must be unique."""
        datasets = naming.written_datasets(cls.dataset)
        for dataset in datasets:
            if dataset in naming.RESERVED_DATASETS:
                raise DeclarationError(
                    cls.__name__, "dataset", f"'{dataset}' is reserved for the warehouse and dbt", where=_class_where(cls)
                )
        me = _qualified(cls)
        other = self._by_name.get(cls.name)
        if other is not None and _qualified(other) != me:
            raise DeclarationError(cls.__name__, "name", f"'{cls.name}' is already declared by {_qualified(other)}", where=_class_where(cls))
        clash = sorted(d for d in datasets if d in self._datasets and _qualified(self._datasets[d]) != me)
        if clash:
            raise DeclarationError(
                cls.__name__, "dataset", f"'{clash[0]}' is already claimed by {_qualified(self._datasets[clash[0]])}", where=_class_where(cls)
            )
        shared = sorted(s for s in cls.secrets if s in self._secrets and _qualified(self._secrets[s]) != me)
        if shared:
            raise DeclarationError(
                cls.__name__,
                "secrets",
                f"secret '{shared[0]}' already belongs to {_qualified(self._secrets[shared[0]])}; each secret belongs to one pipeline "
                "(create a second secret with the same value)",
                where=_class_where(cls),
            )
        folder = _folder(cls)
        if folder is not None:
            self._check_landing(cls, folder, me)
        self._forget(me)
        self._by_name[cls.name] = cls
        self._by_qualified[me] = cls
        self._datasets.update(dict.fromkeys(datasets, cls))
        self._secrets.update(dict.fromkeys(cls.secrets, cls))
        if folder is not None:
            self._landing[folder] = (*self._landing.get(folder, ()), cls)
            for above in _above(folder):
                self._landing_above[above] = (*self._landing_above.get(above, ()), cls)

    def _check_landing(self, cls: type[Pipeline], folder: str, me: str) -> None:
        """A files source reads its landing folder and every folder under it, and its service
        account may read every object under it: one folder inside another pipeline's would be
        read (and loaded) by both. Two pipelines may share one folder (each narrowing its glob)."""
        outer = next((o for above in _above(folder) for o in self._landing.get(above, ()) if _qualified(o) != me), None)
        inner = next((o for o in self._landing_above.get(folder, ()) if _qualified(o) != me), None)
        # The inner one is named, whichever module was imported first: its folder is to move.
        nested, holder = (cls, outer) if outer is not None else (inner, cls)
        if nested is not None and holder is not None:
            raise DeclarationError(
                nested.__name__, "landing_prefix",
                f"'{_folder(nested)}' is inside '{_folder(holder)}', the landing folder of {_qualified(holder)}, whose source "
                "reads (and whose account may read) every file under it; choose a folder beside it",
                where=_class_where(nested),
            )

    def _forget(self, qualified: str) -> None:
        """Drop an earlier import of the class named `qualified` (its fields may have changed)."""
        old = self._by_qualified.pop(qualified, None)
        if old is None:
            return
        self._by_name.pop(old.name, None)
        for dataset in naming.written_datasets(old.dataset):
            self._datasets.pop(dataset, None)
        for secret in old.secrets:
            self._secrets.pop(secret, None)
        folder = _folder(old)
        if folder is not None:
            for index, key in ((self._landing, folder), *((self._landing_above, a) for a in _above(folder))):
                kept = tuple(c for c in index.get(key, ()) if c is not old)
                if kept:
                    index[key] = kept
                else:
                    index.pop(key, None)

    def all(self) -> list[type[Pipeline]]:
        """Registered pipelines, sorted by name."""
        return [self._by_name[n] for n in sorted(self._by_name)]

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def get(self, name: str) -> type[Pipeline]:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise UserError(f"unknown pipeline '{name}' (registered: {known})") from None

    def select(self, names: list[str] | None, env: str) -> list[type[Pipeline]]:
        """The named pipelines (all when none are named) that run in `env`."""
        if names:
            chosen = [self.get(n) for n in dict.fromkeys(names)]
            for cls in chosen:
                if env not in cls.environments:
                    raise UserError(f"pipeline '{cls.name}' does not run in environment '{env}'")
            return chosen
        return [cls for cls in self.all() if env in cls.environments]

    @contextmanager
    def isolated(self) -> Iterator[Registry]:
        """Restore the registry afterwards (for tests that declare pipelines)."""
        saved = [dict(index) for index in self._indexes()]
        try:
            yield self
        finally:
            for index, before in zip(self._indexes(), saved):
                index.clear()
                index.update(before)

    def _indexes(self) -> tuple[dict[str, object], ...]:
        return (self._by_name, self._by_qualified, self._datasets, self._secrets, self._landing, self._landing_above)


def _folder(cls: type[Pipeline]) -> str | None:
    """The class's landing folder without slashes at its ends (None: not a files source)."""
    prefix = cls.landing_prefix
    return prefix.strip("/") if isinstance(prefix, str) and prefix.strip("/") else None


def _above(folder: str) -> list[str]:
    """The folders holding `folder`: `a`, `a/b` for `a/b/c`."""
    parts = folder.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


REGISTRY = Registry()


def discover(package: str = "pipelines") -> Registry:
    """Import the `pipeline` module of every subpackage of `package`, registering each `Pipeline`
    subclass defined there."""
    root = importlib.import_module(package)
    for path in sorted(Path(root.__file__).parent.glob("*.py")):
        if _CLASS.search(path.read_text()):
            raise UserError(
                f"{package}/{path.name} defines a Pipeline class outside a pipeline package: move it to {package}/<name>/{PIPELINE_MODULE}.py"
            )
    for sub in pkgutil.iter_modules(root.__path__):
        if not sub.ispkg or sub.name.startswith("_"):
            continue
        name = f"{package}.{sub.name}.{PIPELINE_MODULE}"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a package without pipeline.py is not a pipeline
                continue
            raise UserError(f"{_where(exc)}: cannot import {exc.name!r} ({name}); is it installed (uv.lock) and spelled right?") from None
        except SyntaxError as exc:
            raise UserError(f"{_relative(exc.filename)}:{exc.lineno}: syntax error: {exc.msg}") from None
        except (DeclarationError, UserError):
            raise
        except Exception as exc:  # anything a module raises while it is imported
            raise UserError(f"{_where(exc)}: {type(exc).__name__} while importing {name}: {' '.join(str(exc).split())[:200]}") from None
    return REGISTRY


def _class_where(cls: type) -> str | None:
    from pipelines.base import _where as where

    return where(cls)


def _relative(filename: str | None) -> str:
    if not filename:
        return "<unknown file>"
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame of `exc` inside the project (not the import machinery)."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")]
    ours = [f for f in frames if "site-packages" not in f.filename] or frames
    return f"{_relative(ours[-1].filename)}:{ours[-1].lineno}" if ours else "<unknown file>"
