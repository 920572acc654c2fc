"""The monthly cost estimate: runs per month from real schedules, free tiers, each priced line
against a hand computation, and the commands that show it."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from infra import cost
from infra.config import parse
from pipelines import cli
from pipelines.base import Pipeline
from pipelines.declarations import Resources, Schedule
from pipelines.errors import DeclarationError

MONTH = 365.25 / 12


@pytest.fixture(scope="module")
def prd():
    """The real prd plan and its estimate."""
    from infra.plan import run_plan

    plan = run_plan("prd")
    return plan, cost.plan_estimate("prd", plan)


# --- runs per month -------------------------------------------------------------------------


def field_values(field: str, low: int, high: int) -> set[int] | None:
    """A cron field as a set of numbers (None for `*`): lists, ranges and steps, nothing else."""
    if field == "*":
        return None
    values: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        first, _, last = span.partition("-")
        start, end = (low, high) if span == "*" else (int(first), int(last or (high if step else first)))
        values.update(range(start, end + 1, int(step or 1)))
    return values


def counted_by_the_clock(cron: str, zone_name: str, year: int) -> int:
    """Firings in `year` counted from the other side: every quarter of an hour of real (UTC) time,
    read on the zone's wall clock; a wall-clock minute the cron selects fires once per real minute
    that shows it (so twice in an hour repeated when clocks go back, never in one skipped)."""
    minute, hour, dom, month, dow = (field_values(f, lo, hi) for f, (lo, hi) in zip(cron.split(), [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]))
    zone = ZoneInfo(zone_name)
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(timezone.utc) - timedelta(hours=1)
    end = datetime(year + 1, 1, 1, tzinfo=zone).astimezone(timezone.utc) + timedelta(hours=1)
    count, moment = 0, start
    while moment < end:
        wall = moment.astimezone(zone)  # offsets are whole quarters of an hour: one offset per quarter
        day_of_week = wall.isoweekday() % 7
        by_dom, by_dow = dom is None or wall.day in dom, dow is None or day_of_week in dow
        day = (by_dom or by_dow) if dom is not None and dow is not None else (by_dom and by_dow)
        if wall.year == year and day and (month is None or wall.month in month) and (hour is None or wall.hour in hour):
            count += sum(1 for m in range(wall.minute, wall.minute + 15) if minute is None or m in minute)
        moment += timedelta(minutes=15)
    return count


@pytest.mark.parametrize(
    ("cron", "zone"),
    [
        ("0 * * * *", "Etc/UTC"),
        ("15 * * * *", "Europe/Amsterdam"),
        ("30 2 * * *", "Europe/Amsterdam"),  # skipped in March, twice in October
        ("0 2 * * *", "America/New_York"),  # skipped in March, once in November
        ("30 1 * * *", "America/New_York"),  # twice in November
        ("0 6 * * 1-5", "Europe/Amsterdam"),
        ("*/20 1-3 * * 0", "Australia/Lord_Howe"),  # a half-hour daylight-saving shift
        ("45 0 1,15 * 1", "Asia/Kolkata"),  # both day fields: either selects the day
    ],
)
def test_firings_in_a_year_match_a_count_by_the_clock(cron, zone):
    assert Schedule(cron, zone).firings(date(2026, 1, 1), 365) == counted_by_the_clock(cron, zone, 2026)


def test_runs_per_month_average_four_years_of_real_months():
    assert Schedule("0 * * * *").runs_per_month() == 730.5
    assert Schedule("15 * * * *", "Europe/Amsterdam").runs_per_month() == 730.5  # an hour lost in March, one gained in October
    assert Schedule("0 6 * * *", "Europe/Amsterdam").runs_per_month() == MONTH
    # 2026-2029 have 261 + 261 + 260 + 261 weekdays.
    assert Schedule("0 6 * * 1-5", "Europe/Amsterdam").runs_per_month() == pytest.approx(1043 / 48) == pytest.approx(21.73, abs=0.005)
    # 02:00 does not exist on the four March days New York springs forward; 01:30 comes twice in November.
    assert Schedule("0 2 * * *", "America/New_York").runs_per_month() == (1461 - 4) / 48
    assert Schedule("30 1 * * *", "America/New_York").runs_per_month() == (1461 + 4) / 48
    assert Schedule("30 */4 * * *", "Europe/Amsterdam").runs_per_month() == 6 * MONTH
    assert Schedule("0 0 29 2 *").runs_per_month() == 1 / 48


# --- the typical duration -------------------------------------------------------------------


def test_typical_duration_defaults_to_a_quarter_of_the_timeout_and_stays_within_it(registry):
    assert Resources(timeout_seconds=900).typical_execution_seconds == 225
    assert Resources(timeout_seconds=900, typical_seconds=120).typical_execution_seconds == 120
    assert Resources(timeout_seconds=900, typical_seconds=901).problems() == ["typical_seconds 901 must be 1..timeout_seconds (900)"]
    assert Resources(typical_seconds="60").problems() == ["typical_seconds '60' must be an integer (or None)"]
    with pytest.raises(DeclarationError, match=r"Slow.resources: typical_seconds 2000 must be 1..timeout_seconds \(1200\)"):
        type("Slow", (Pipeline,), {
            "__doc__": "Slow.", "name": "slow_one", "schedule": Schedule("0 3 * * *"), "dataset": "raw_slow_one",
            "resources": Resources(typical_seconds=2000), "source": lambda self, env: None,
        })
    assert registry.get("shop_api").as_dict()["resources"]["typical_seconds"] == 225


# --- free tiers and prices ------------------------------------------------------------------


def usage(line, quantity, pipeline="p", project="lake", upper=None):
    return cost.Usage(line, f"{line}-{pipeline}-{project}", project, pipeline, quantity, quantity if upper is None else upper)


def test_a_line_under_its_free_tier_costs_nothing_and_over_it_only_the_excess_shared_by_use():
    prices = cost.load_prices()
    under = cost.price("t", [usage("run_cpu", 100_000, "a"), usage("run_cpu", 139_999, "b"), usage("scheduler_jobs", 1, "a"), usage("scheduler_jobs", 1, "b"),
                             usage("secret_versions", 6), usage("secret_access", 10_000), usage("artifact_storage", 0.5), usage("run_memory", 450_000)], prices)
    assert under.total == 0 and {i.monthly for i in under.items} == {0.0}
    over = cost.price("t", [usage("run_cpu", 100_000, "a"), usage("run_cpu", 200_000, "b")], prices)
    assert over.of_pipeline("a") == pytest.approx(60_000 * 0.000018 / 3) and over.of_pipeline("b") == pytest.approx(60_000 * 0.000018 * 2 / 3)
    four = cost.price("t", [usage("scheduler_jobs", 1, name) for name in "abcd"], prices)
    assert four.total == pytest.approx(0.10 * MONTH / 31)  # one job beyond the three free, at $0.10 per 31 days
    # Logging's 50 GiB are per project: two projects of 40 GiB each pay nothing.
    logs = cost.price("t", [usage("logging", 40, project="lake"), usage("logging", 40, project="dwh")], prices)
    assert logs.total == 0 and {(f.scope, f.used) for f in logs.free_tiers} == {("lake", 40), ("dwh", 40)}
    assert cost.price("t", [usage("logging", 60, project="lake")], prices).total == pytest.approx(10 * 0.50)
    # The upper bound applies the free tier to the upper quantities.
    bound = cost.price("t", [usage("run_cpu", 100_000, upper=400_000)], prices)
    assert (bound.total, bound.upper) == (0.0, pytest.approx(160_000 * 0.000018))


def test_each_line_of_the_prd_stack_against_a_hand_computation(prd):
    _, estimate = prd
    items = {(i.usage.line, i.usage.resource): i for i in estimate.items}

    def line(name):
        return sum(i.monthly for i in estimate.items if i.usage.line == name)

    api = items[("run_cpu", "toltek-shop-api-prd")]
    assert (api.usage.quantity, api.usage.upper) == (730.5 * 225 * 1, 730.5 * 900 * 3)  # hourly, a quarter of 900 s, 1 vCPU; upper 3 attempts
    cpu = 730.5 * 225 * 1 + 6 * MONTH * 750 * 2 + MONTH * 150 * 1 + MONTH * 900 * 1  # shop_api, shop_files, shop_sheets, dbt
    assert line("run_cpu") == pytest.approx((cpu - 240_000) * 0.000018)
    assert api.monthly == pytest.approx(730.5 * 225 / cpu * (cpu - 240_000) * 0.000018)
    memory = 730.5 * 225 * 1 + 6 * MONTH * 750 * 2 + MONTH * 150 * 0.5 + MONTH * 900 * 2
    assert line("run_memory") == pytest.approx((memory - 450_000) * 0.000002)
    assert line("scheduler_jobs") == pytest.approx((4 - 3) * 0.10 * MONTH / 31)
    assert line("secret_versions") == 0 and items[("secret_access", "toltek-shop-api-prd")].usage.quantity == 730.5
    assert line("secret_access") == 0 and items[("secret_access", "toltek-shop-api-prd")].usage.upper == 730.5 * 3
    # A key rotated every 90 days: 1 version for 90 days, then 2, 3, 4, and 5 for the year's last 5 days.
    key = items[("kms_key_versions", "toltek-datalake-prd-data-key")]
    assert (key.usage.quantity, key.usage.upper) == (pytest.approx((90 + 180 + 270 + 360 + 25) / 365), 5)
    assert line("kms_key_versions") == pytest.approx(2 * 925 / 365 * 0.06)
    # Two repositories of 0.05 GB of base and 20 kept versions of 0.23 GB, less 0.5 GB free.
    assert items[("artifact_storage", "toltek-datalake-prd-images")].usage.quantity == pytest.approx(0.05 + 20 * 0.23)
    assert line("artifact_storage") == pytest.approx((2 * 4.65 - 0.5) * 0.10)
    assert items[("logging", "toltek-shop-api-prd")].usage.quantity == pytest.approx(730.5 * 40 / 2**20) and line("logging") == 0
    assert line("alert_conditions") == pytest.approx(7 * 1.50)  # failure and freshness per pipeline, the dbt job's failure
    assert line("alert_series") == pytest.approx(7 * 2 * 60 * 24 * MONTH * 0.35 / 1e6)
    assert estimate.total == pytest.approx(sum(line(name) for name in estimate.prices.lines))
    assert estimate.total == pytest.approx(sum(estimate.of_pipeline(p) for p in estimate.pipelines) + estimate.shared)


def test_a_dataset_copy_is_counted_daily_and_free():
    copy = SimpleNamespace(type=cost.COPY, name="copy-raw_x", project="dwh", parent="dwh",
                           inputs={"schedule": "every day 04:00", "params": {"source_dataset_id": "raw_x"}})
    plan = SimpleNamespace(stack="prd", of_type=lambda t: [copy] if t == cost.COPY else [])
    pipeline = SimpleNamespace(name="x", dataset="raw_x", secrets={})
    (found,) = cost.usage_from_plan(plan, [pipeline], cost.load_prices())
    assert (found.line, found.pipeline, found.quantity) == ("dataset_copies", "x", MONTH)
    assert cost.price("prd", [found], cost.load_prices()).total == 0


def test_another_currency_is_refused_not_converted(prd):
    plan, _ = prd
    eur = parse("prd", {"datalakeProject": "toltek-datalake-prd", "warehouseProject": "toltek-dwh-prd", "region": "europe-west1",
                        "bigqueryLocation": "EU", "alertEmail": "a@b.example", "currency": "EUR"})
    with pytest.raises(cost.CostError, match=r"'toltek:currency' is EUR, but infra/prices.yaml holds USD list prices: no estimate"):
        cost.estimate(plan, eur, [])


def test_the_price_file_names_a_source_and_what_was_found_for_every_line():
    prices = cost.load_prices()
    assert prices.currency == "USD" and prices.taken == "2026-11-26"
    for line in prices.lines.values():
        assert line.source.startswith("https://cloud.google.com/") and line.found, line.key


# --- the commands ---------------------------------------------------------------------------


def test_pipelines_cost_adds_a_monthly_column_and_says_what_it_leaves_out(prd):
    from rich.console import Console

    _, estimate = prd
    cli.err = Console(stderr=True, record=True, width=100)
    try:
        piped = CliRunner().invoke(cli.app, ["pipelines", "--cost"])
        summary = cli.err.export_text()
        as_json = CliRunner().invoke(cli.app, ["pipelines", "--json", "-s", "prd"])
    finally:
        cli.err = Console(stderr=True)
    assert piped.exit_code == 0, piped.output
    header, *rows = [line.split("\t") for line in piped.stdout.splitlines()]
    assert header[-2:] == ["monthly USD", "upper USD"]
    assert {row[0]: float(row[-2]) for row in rows} == estimate.as_dict()["pipelines"]
    assert "monthly cost estimate, stack prd: " in summary and "an estimate, leaving out: BigQuery; network" in summary
    assert "list prices of 2026-11-26" in summary
    records = {r["name"]: r for r in json.loads(as_json.stdout)}
    assert records["shop_api"]["cost"]["monthly"] == round(estimate.of_pipeline("shop_api"), 2)
    assert records["shop_api"]["cost"]["excludes"] == list(cost.EXCLUDES)


def test_plan_without_an_estimate_still_plans_and_says_why_in_one_line(monkeypatch):
    import dataclasses

    import typer

    from infra import cli as infra_cli

    euro = dataclasses.replace(cost.load_prices(), currency="EUR")
    monkeypatch.setattr(cost, "load_prices", lambda: euro)
    app = typer.Typer()
    infra_cli.register(app)
    done = CliRunner().invoke(app, ["plan", "-s", "dev", "--json"])
    assert done.exit_code == 0 and json.loads(done.stdout)["cost"] is None
    assert done.stderr.strip() == (
        "cost not estimated: Pulumi.dev.yaml: 'toltek:currency' is USD, but infra/prices.yaml holds EUR list prices: "
        "no estimate (set toltek:currency to EUR, or give the prices in USD)"
    )
