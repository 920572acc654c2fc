"""The committed sample data set is exactly what the generator produces."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq

from pipelines.samples import DATA_DIR
from pipelines.samples.generate import generate


def run(out):
    """The generator's command line, writing into `out`."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines.samples.generate", "--out", str(out)], capture_output=True, text=True, timeout=300
    )


def relative_files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_generator_reproduces_the_committed_data_set(tmp_path):
    counts = generate(tmp_path / "data")
    assert counts == {"products": 48, "customers": 2000, "orders": 8000, "order_items": 19907, "shipments": 6672}
    assert relative_files(tmp_path / "data") == relative_files(DATA_DIR)
    for rel in relative_files(DATA_DIR):
        fresh, committed = tmp_path / "data" / rel, DATA_DIR / rel
        if rel.suffix == ".parquet":
            assert pq.read_table(fresh).equals(pq.read_table(committed)), rel
        else:
            assert fresh.read_bytes() == committed.read_bytes(), rel


def test_scale_multiplies_volumes(tmp_path):
    counts = generate(tmp_path / "big", scale=3)
    assert counts["customers"] == 6000
    assert counts["orders"] == 24000


def test_the_generator_replaces_only_a_data_set_it_generated(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    done = run(precious)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: {precious} is not empty and holds no generated sample data (.toltek-samples); not replacing it"
    )
    assert (precious / "thesis.txt").read_text() == "years of work"

    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert run(a_file).stderr.strip() == f"error: {a_file} is a file, not a folder"

    out = tmp_path / "samples"
    assert run(out).returncode == 0
    (out / "stale.csv").write_text("left over")
    (out / "api" / "payments").mkdir()
    (out / "api" / "payments" / "items.jsonl").write_text('{"id": 1}\n')  # another pipeline's sample (toltek new)
    assert run(out).returncode == 0  # an earlier generated set is replaced whole, but for other pipelines' samples
    assert not (out / "stale.csv").exists()
    assert (out / "api" / "payments" / "items.jsonl").read_text() == '{"id": 1}\n'


def test_the_generator_refuses_a_symlink_and_a_path_under_a_file_in_one_line(tmp_path):
    real = tmp_path / "real"
    assert run(real).returncode == 0
    link = tmp_path / "link"
    link.symlink_to(real)
    done = run(link)
    assert (done.returncode, done.stderr.strip()) == (2, f"error: {link} is a symbolic link; pass the folder it points to ({real})")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    done = run(a_file / "inner")
    assert (done.returncode, done.stderr.strip()) == (2, f"error: cannot write {a_file / 'inner' / 'api'}: Not a directory")
