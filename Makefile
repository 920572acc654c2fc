# Every target does its own set-up from a fresh clone: uv (installed with pip if absent),
# a .venv built from uv.lock, then the job itself.
PYTHON ?= python3
UV := $(PYTHON) -m uv
export UV_PYTHON_DOWNLOADS := never
# Compiled once here: with PYTHONDONTWRITEBYTECODE set (as on the CI machines) every process would
# otherwise recompile each module it imports (about 0.8 s of a `toltek run`).
export UV_COMPILE_BYTECODE := 1

.PHONY: setup bytecode run test faults bench lint clean

.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: .venv/.synced

# The project's own modules compiled too (the environment's are, at sync): hash-checked, so an
# edited file is simply compiled again in memory. Each `toltek` process the tests and benchmarks
# start, and each copy of the repository they make, reads these instead of compiling its modules.
bytecode: setup
	.venv/bin/python -m compileall -q -j 0 --invalidation-mode checked-hash pipelines infra bench tests

run: setup
	.venv/bin/toltek run --env local

# Two pytest-xdist workers: the machines have two cores.
test: bytecode
	.venv/bin/python -m pytest -n 2 --dist worksteal --durations=15

faults: bytecode
	.venv/bin/python -m pytest -m faults

# Every row of the speed table as ratios against yardsticks measured in the same run; writes
# bench/results/<date>.json and exits 1 when a row misses its goal.
bench: bytecode
	.venv/bin/python -m bench

lint: setup
	.venv/bin/hadolint images/*/Dockerfile

clean:
	rm -rf .toltek transform/target transform/logs
