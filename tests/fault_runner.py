"""Run the `toltek` CLI with a fault armed at one point of a pipeline run.

    python tests/fault_runner.py <point> <signal> -- run shop_api --skip-transform

Points: `extract:N` (while serving the N-th page of the sample API), `normalize` (extract done,
before normalizing), `load:N` (after N load jobs completed), `drop` (after a refresh dropped its tables), `transfer` (as the transfer copies a `copy` dataset), `dbt:N` (as dbt starts the N-th model). At the point, the process sends
itself `signal` (KILL or TERM), as a Cloud Run container is killed or told to stop.
"""

from __future__ import annotations

import os
import signal
import sys


def arm(point: str, signum: int) -> None:
    name, _, count = point.partition(":")
    remaining = [int(count or 1)]

    def fire() -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            os.kill(os.getpid(), signum)

    if name == "extract":
        from pipelines.samples.server import SampleStore

        page = SampleStore.page

        def counting_page(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            fire()
            return page(self, *args, **kwargs)

        SampleStore.page = counting_page
    elif name == "normalize":
        from dlt.pipeline.pipeline import Pipeline

        normalize = Pipeline.normalize

        def firing_normalize(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            fire()
            return normalize(self, *args, **kwargs)

        Pipeline.normalize = firing_normalize
    elif name == "load":
        from dlt.common.storages.load_package import PackageStorage

        complete = PackageStorage.complete_job

        def firing_complete(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            path = complete(self, *args, **kwargs)
            fire()
            return path

        PackageStorage.complete_job = firing_complete
    elif name == "transfer":
        # shop_sheets reaches the warehouse by copy in this run; the signal comes inside the copy's
        # transaction, after its schema is created and before its table is.
        import pipelines.transfer as transfer_module
        from pipelines.shop_sheets.pipeline import ShopSheets

        ShopSheets.transfer = "copy"
        copy = transfer_module._copy

        class FiringConnection:
            def __init__(self, con):  # noqa: ANN001
                self.con, self.calls = con, 0

            def execute(self, *args, **kwargs):  # noqa: ANN002, ANN003
                self.calls += 1
                if self.calls == 3:  # begin, create schema, then the first table
                    fire()
                return self.con.execute(*args, **kwargs)

            def __getattr__(self, attr):  # noqa: ANN001
                return getattr(self.con, attr)

        transfer_module._copy = lambda con, dataset: copy(FiringConnection(con), dataset)
    elif name == "drop":  # a refresh's drop done, its new schema version not stored yet
        from dlt.destinations.job_client_impl import SqlJobClientBase

        drop = SqlJobClientBase.drop_tables

        def firing_drop(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            drop(self, *args, **kwargs)
            fire()

        SqlJobClientBase.drop_tables = firing_drop
    elif name == "dbt":
        from dbt.task.run import ModelRunner

        execute = ModelRunner.execute

        def firing_execute(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            fire()
            return execute(self, *args, **kwargs)

        ModelRunner.execute = firing_execute
    else:
        raise SystemExit(f"unknown point {point}")


if __name__ == "__main__":
    point, sig, separator, *args = sys.argv[1:]
    assert separator == "--"
    arm(point, getattr(signal, f"SIG{sig}"))
    from pipelines.cli import main

    sys.argv = ["toltek", *args]
    main()
