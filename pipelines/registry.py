"""The registry of pipeline classes: the single source of truth everything else derives from.

Defining a `Pipeline` subclass registers it; `discover()` imports every module of the `pipelines`
package so that every subclass defined anywhere in it is registered.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pipelines import naming
from pipelines.errors import DeclarationError, UserError

if TYPE_CHECKING:
    from pipelines.base import Pipeline


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class Registry:
    def __init__(self) -> None:
        self._by_name: dict[str, type[Pipeline]] = {}

    def add(self, cls: type[Pipeline]) -> None:
        """Register `cls`; a re-import of the same class replaces it, anything else must be unique."""
        for dataset in naming.written_datasets(cls.dataset):
            if dataset in naming.RESERVED_DATASETS:
                raise DeclarationError(
                    cls.__name__, "dataset", f"'{dataset}' is reserved for the warehouse and dbt"
                )
        for other in self._by_name.values():
            if _qualified(other) == _qualified(cls):
                continue
            if other.name == cls.name:
                raise DeclarationError(
                    cls.__name__, "name", f"'{cls.name}' is already declared by {_qualified(other)}"
                )
            clash = set(naming.written_datasets(other.dataset)) & set(naming.written_datasets(cls.dataset))
            if clash:
                raise DeclarationError(
                    cls.__name__, "dataset", f"'{min(clash)}' is already claimed by {_qualified(other)}"
                )
            shared = set(other.secrets) & set(cls.secrets)
            if shared:
                raise DeclarationError(
                    cls.__name__,
                    "secrets",
                    f"secret '{min(shared)}' already belongs to {_qualified(other)}; each secret belongs to one pipeline "
                    "(create a second secret with the same value)",
                )
        self._by_name = {n: c for n, c in self._by_name.items() if _qualified(c) != _qualified(cls)}
        self._by_name[cls.name] = cls

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
        saved = dict(self._by_name)
        try:
            yield self
        finally:
            self._by_name = saved


REGISTRY = Registry()


def discover(package: str = "pipelines") -> Registry:
    """Import every module of `package`, registering each `Pipeline` subclass defined there."""
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if module.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        importlib.import_module(module.name)
    return REGISTRY
