"""Shared by the source-behaviour tests: a landing folder to drop files in, and readers of the raw
shipments table."""

from __future__ import annotations

import dataclasses
import os

import pytest
from conftest import query

HEADER = "shipment_id,order_id,carrier,shipped_at,delivered_at,weight_kg"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture
def files_env(local_env, tmp_path):
    samples = tmp_path / "samples"
    (samples / "files" / "shipments").mkdir(parents=True)
    return dataclasses.replace(local_env, samples=samples)


def drop(env, name: str, content: bytes | str, mtime: float) -> None:
    """A file landing in the bucket with the modification time its uploader preserved."""
    path = env.samples / "files" / "shipments" / name
    path.parent.mkdir(parents=True, exist_ok=True)  # `2026/06/drop.csv`: a drop in a subfolder
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    os.utime(path, (mtime, mtime))


def raw(env) -> list[tuple]:
    return query(
        env.datalake.path,
        "select shipment_id, carrier, _file_name, epoch(_file_modified_at)::bigint from raw_shop_files.shipments "
        "order by shipment_id, _file_modified_at, _file_name",
    )


def newest(env) -> list[tuple]:
    """What the staging model keeps: the newest version of each shipment (same rule, in SQL)."""
    return query(
        env.datalake.path,
        "select shipment_id, carrier from raw_shop_files.shipments "
        "qualify row_number() over (partition by shipment_id order by _file_modified_at desc nulls last, _file_name desc nulls last) = 1 "
        "order by shipment_id",
    )


def row(shipment: int, carrier: str, order: int | None = None) -> str:
    return f"{shipment},{order or shipment - 100},{carrier},2026-01-02T10:00:00Z,,1.5"
