"""The list prices the cost estimate uses (`prices.yaml`), read and checked: every line has a
price, a free allotment, a source and what was found there."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from pipelines import yaml_text
from pipelines.declarations import DAYS_PER_MONTH
from pipelines.errors import UserError

PRICES = Path(__file__).with_name("prices.yaml")


class CostError(UserError):
    """The estimate cannot be made: a price file that does not parse, another currency."""


@dataclass(frozen=True)
class Price:
    key: str
    what: str
    unit: str
    monthly: float  # per unit and month (or per unit, for usage lines)
    free: float
    free_scope: str | None  # "billing account", "project" or None
    source: str
    found: str


@dataclass(frozen=True)
class Prices:
    currency: str
    taken: str
    lines: dict[str, Price]
    assumptions: dict[str, Any]
    path: Path = PRICES


@lru_cache(maxsize=None)
def load_prices(path: Path = PRICES) -> Prices:
    """The price file, checked: every line has a price, a free allotment, a source and what was found."""
    try:
        data = yaml_text.read(path)
        lines = {
            key: Price(
                key=key,
                what=str(spec["what"]),
                unit=str(spec["unit"]),
                monthly=float(spec["price"]) * (DAYS_PER_MONTH / float(spec["per_days"]) if "per_days" in spec else 1.0),
                free=float(spec["free"]),
                free_scope=spec["free_scope"],
                source=str(spec["source"]),
                found=" ".join(str(spec["found"]).split()),
            )
            for key, spec in data["prices"].items()
        }
        return Prices(currency=str(data["currency"]), taken=str(data["taken"]), lines=lines, assumptions=data["assumptions"], path=path)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise CostError(f"{path.name}: not a price file this estimate can read ({type(exc).__name__}: {' '.join(str(exc).split())})") from None
