"""Generate the sample data set of a fictional online coffee shop, deterministically.

The committed data set under `data/` is `generate(DATA_DIR)`; pass `--scale` for larger volumes:

    python -m pipelines.samples.generate --scale 20 --out /tmp/toltek-samples
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.samples import DATA_DIR, SAMPLE_SPREADSHEET_ID

YEAR = 2025
CHANNELS = ("web", "mobile", "marketplace")
COUNTRIES = ("NL", "DE", "BE", "FR", "GB", "ES", "IT", "DK")
CATEGORIES = {
    "coffee": ("Beans", 9.5, 24.0),
    "equipment": ("Grinder", 49.0, 420.0),
    "accessories": ("Filter", 4.0, 39.0),
}
CARRIERS = ("postnl", "dhl", "dpd", "ups")
STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "refunded")
SHIPMENT_FIELDS = ("shipment_id", "order_id", "carrier", "shipped_at", "delivered_at", "weight_kg")

SHIPMENT_SCHEMA = pa.schema(
    [
        ("shipment_id", pa.int64()),
        ("order_id", pa.int64()),
        ("carrier", pa.string()),
        ("shipped_at", pa.timestamp("us", tz="UTC")),
        ("delivered_at", pa.timestamp("us", tz="UTC")),
        ("weight_kg", pa.float64()),
    ]
)


def _ts(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(rng: random.Random, start: datetime, days: float) -> datetime:
    return start + timedelta(seconds=rng.randrange(int(days * 86400)))


def generate(out: Path, scale: int = 1, seed: int = 7) -> dict[str, int]:
    """Write the data set into `out` (replacing it); return row counts per entity."""
    rng = random.Random(seed)
    year_start = datetime(YEAR, 1, 1, tzinfo=timezone.utc)
    if out.exists():
        shutil.rmtree(out)
    (out / "api").mkdir(parents=True)
    (out / "sheets").mkdir()
    (out / "files" / "shipments").mkdir(parents=True)

    products = []
    for pid in range(1, 49):
        category = CATEGORIES_LIST[pid % len(CATEGORIES_LIST)]
        label, low, high = CATEGORIES[category]
        created = _moment(rng, year_start - timedelta(days=400), 30)
        products.append(
            {
                "id": pid,
                "sku": f"{category[:3].upper()}-{pid:04d}",
                "name": f"{label} {pid}",
                "category": category,
                "price": round(rng.uniform(low, high), 2),
                "created_at": _ts(created),
                "updated_at": _ts(created + timedelta(days=rng.randrange(300))),
            }
        )

    customers = []
    for cid in range(1, 2000 * scale + 1):
        created = _moment(rng, year_start - timedelta(days=365), 365 + 300)
        customers.append(
            {
                "id": cid,
                "email": f"customer{cid}@example.com",
                "first_name": f"First{cid}",
                "last_name": f"Last{cid}",
                "country": rng.choice(COUNTRIES),
                "created_at": _ts(created),
                "updated_at": _ts(created + timedelta(days=rng.randrange(60))),
            }
        )

    orders, shipments = [], []
    for oid in range(1, 8000 * scale + 1):
        customer = customers[rng.randrange(len(customers))]
        created = max(
            _moment(rng, year_start, 365), datetime.fromisoformat(customer["created_at"].replace("Z", "+00:00"))
        )
        created = min(created, datetime(YEAR, 12, 31, 12, tzinfo=timezone.utc))
        status = rng.choices(STATUSES, weights=(3, 5, 10, 70, 8, 4))[0]
        items = []
        for line in range(1, rng.randint(1, 4) + 1):
            product = products[rng.randrange(len(products))]
            items.append(
                {
                    "line": line,
                    "product_id": product["id"],
                    "quantity": rng.randint(1, 3),
                    "unit_price": product["price"],
                }
            )
        total = round(sum(i["quantity"] * i["unit_price"] for i in items), 2)
        updated = created + timedelta(hours=rng.randrange(1, 240))
        orders.append(
            {
                "id": oid,
                "customer_id": customer["id"],
                "channel": rng.choices(CHANNELS, weights=(55, 30, 15))[0],
                "status": status,
                "currency": "EUR",
                "total_amount": total,
                "created_at": _ts(created),
                "updated_at": _ts(updated),
                "items": items,
            }
        )
        if status in ("shipped", "delivered", "refunded"):
            shipped = created + timedelta(hours=rng.randrange(6, 72))
            delivered = shipped + timedelta(hours=rng.randrange(12, 120))
            shipments.append(
                {
                    "shipment_id": 100000 + len(shipments) + 1,
                    "order_id": oid,
                    "carrier": rng.choice(CARRIERS),
                    "shipped_at": shipped,
                    "delivered_at": delivered if status != "shipped" else None,
                    "weight_kg": round(sum(i["quantity"] for i in items) * rng.uniform(0.25, 1.5), 3),
                }
            )

    for name, rows in (("products", products), ("customers", customers), ("orders", orders)):
        with open(out / "api" / f"{name}.jsonl", "w") as f:
            for row in rows:
                f.write(json.dumps(row, separators=(",", ":")) + "\n")

    _write_targets(out, orders, rng)
    _write_shipments(out, shipments)
    return {
        "products": len(products),
        "customers": len(customers),
        "orders": len(orders),
        "order_items": sum(len(o["items"]) for o in orders),
        "shipments": len(shipments),
    }


CATEGORIES_LIST = tuple(CATEGORIES)


def _write_targets(out: Path, orders: list[dict], rng: random.Random) -> None:
    """A spreadsheet of monthly revenue targets per channel, as the Sheets API returns values."""
    actual: dict[tuple[str, str], float] = {}
    for order in orders:
        key = (order["created_at"][:7], order["channel"])
        actual[key] = actual.get(key, 0.0) + order["total_amount"]
    rows = [["Month", "Channel", "Target revenue", "Owner"]]
    for month in range(1, 13):
        for channel in CHANNELS:
            key = (f"{YEAR}-{month:02d}", channel)
            target = round(actual.get(key, 0.0) * rng.uniform(0.85, 1.15), -2)
            rows.append([key[0], channel, target, "growth" if channel != "marketplace" else "partners"])
    spreadsheet = {"sheets": {"sales_targets": rows}}
    (out / "sheets" / f"{SAMPLE_SPREADSHEET_ID}.json").write_text(json.dumps(spreadsheet, indent=1))


def _write_shipments(out: Path, shipments: list[dict]) -> None:
    """One file per month the warehouse partner drops: CSV for H1, Parquet for H2."""
    by_month: dict[int, list[dict]] = {}
    for s in shipments:
        by_month.setdefault(s["shipped_at"].month if s["shipped_at"].year == YEAR else 12, []).append(s)
    for month, rows in sorted(by_month.items()):
        stem = out / "files" / "shipments" / f"shipments_{YEAR}_{month:02d}"
        if month <= 6:
            with open(stem.with_suffix(".csv"), "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(SHIPMENT_FIELDS)
                for s in rows:
                    writer.writerow(
                        [
                            s["shipment_id"],
                            s["order_id"],
                            s["carrier"],
                            _ts(s["shipped_at"]),
                            _ts(s["delivered_at"]) if s["delivered_at"] else "",
                            s["weight_kg"],
                        ]
                    )
        else:
            table = pa.Table.from_pylist(rows, schema=SHIPMENT_SCHEMA)
            pq.write_table(table, stem.with_suffix(".parquet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output folder (replaced)")
    parser.add_argument("--scale", type=int, default=1, help="multiply customers and orders")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    counts = generate(args.out, scale=args.scale, seed=args.seed)
    print(", ".join(f"{k}: {v}" for k, v in counts.items()), f"-> {args.out}")


if __name__ == "__main__":
    main()
