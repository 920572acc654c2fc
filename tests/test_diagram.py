"""The architecture picture: drawn from the evaluated plan, every project, job, dataset and
cross-project edge in it, each line valid Mermaid flowchart syntax, and the committed copies current."""

from __future__ import annotations

import re
import shutil
import sys

import pytest
import typer
from conftest import REPO_ROOT
from typer.testing import CliRunner

from infra import cli as infra_cli
from infra import diagram

# A line validator after Mermaid's flowchart grammar, for the subset the picture uses.
ID = r"[A-Za-z0-9_]+"
QUOTED = r'"(?:[^"#<>|]|#(?:[a-z]+|[0-9]+);|<br/>)*"'  # quotes, '#', '<', '>', '|' only as entity codes
PLAIN = r'[^"\[\](){}|<>#;]+'
LABEL = f"(?:{QUOTED}|{PLAIN})"
SHAPES = (rf"\[{LABEL}\]", rf"\(\[{LABEL}\]\)", rf"\[\({LABEL}\)\]", rf"\{{\{{{LABEL}\}}\}}")
NODE = re.compile(rf"(?P<id>{ID})(?:{'|'.join(SHAPES)})")
EDGE = re.compile(rf"(?P<source>{ID}) (?P<arrow>-->|-\.->)(?:\|(?P<label>{LABEL})\|)? (?P<target>{ID})")
SUBGRAPH = re.compile(rf"subgraph (?P<id>{ID})(?: \[(?P<title>{LABEL})\])?")
README_BEGIN = "<!-- architecture of stack prd: the mermaid block of docs/architecture.md (toltek plan -s prd --diagram) -->"
README_END = "<!-- end of architecture -->"
RESERVED = {"end", "subgraph", "graph", "flowchart", "style", "class", "click", "direction"}


def parse(text: str) -> tuple[list[str], dict, list, dict]:
    """(problems, nodes: id -> subgraph, edges: (source, target, label, dotted), subgraphs: id -> title)."""
    problems, nodes, edges, subgraphs, open_ = [], {}, [], {}, []
    lines = text.splitlines()
    if not lines or not re.fullmatch(r"flowchart (LR|RL|TB|TD|BT)", lines[0]):
        problems.append(f"line 1 is not a flowchart header: {lines[:1]}")
    for number, raw in enumerate(lines[1:], 2):
        line = raw.strip()
        if not line or line.startswith("%%"):
            continue
        if line == "end":
            if not open_:
                problems.append(f"line {number}: 'end' closes no subgraph")
            else:
                open_.pop()
        elif m := SUBGRAPH.fullmatch(line):
            subgraphs[m["id"]] = m["title"]
            open_.append(m["id"])
        elif m := EDGE.fullmatch(line):
            edges.append((m["source"], m["target"], (m["label"] or "").strip('"'), m["arrow"] == "-.->"))
        elif m := NODE.fullmatch(line):
            if m["id"] in nodes:
                problems.append(f"line {number}: node {m['id']} declared twice")
            nodes[m["id"]] = open_[-1] if open_ else None
        else:
            problems.append(f"line {number}: not flowchart syntax: {line}")
    problems += [f"subgraph {s} never ends" for s in open_]
    problems += [f"reserved word {i} as an id" for i in [*nodes, *subgraphs] if i.lower() in RESERVED]
    problems += [f"edge {a} -> {b} to an undeclared node" for a, b, *_ in edges if a not in nodes or b not in nodes]
    return problems, nodes, edges, subgraphs


@pytest.fixture(scope="module")
def plans():
    """The real plans of prd and dev, and prd with shop_sheets copied into the warehouse."""
    from infra.plan import run_plan
    from pipelines.shop_sheets.pipeline import ShopSheets

    found = {"prd": run_plan("prd"), "dev": run_plan("dev")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ShopSheets, "transfer", "copy")
        found["copy"] = run_plan("prd")
    return found


def test_the_validator_refuses_what_mermaid_would_not_read():
    good = 'flowchart LR\n  subgraph p ["a project"]\n    a["x<br/>#quot;y#quot;"]\n    b[("z")]\n  end\n  a -->|"acts"| b\n  b -.-> a\n'
    assert parse(good)[0] == []
    for bad in (
        'flowchart LR\n  a["say "hi""]',  # a raw quote inside a quoted label
        "flowchart LR\n  a-b[\"x\"]",  # a dash in an id
        'flowchart LR\n  a["x"]\n  b["y"]\n  a ==> b',  # an arrow the picture never draws
        'flowchart LR\n  a["x"]\n  a --> b',  # an edge to nothing declared
        'flowchart LR\n  subgraph p ["x"]\n  a["x"]',  # a subgraph left open
        'flowchart LR\n  end["x"]',  # a reserved word
        'graph\n  a["x"]',  # no flowchart header
        'flowchart LR\n  a["x|y"]',  # a pipe inside a label
    ):
        assert parse(bad)[0], bad


@pytest.mark.parametrize("stack", ["prd", "dev", "copy"])
def test_every_project_job_dataset_and_cross_project_edge_of_the_plan_is_drawn_in_valid_syntax(plans, stack):
    plan = plans[stack]
    text = diagram.mermaid(diagram.build(plan))
    problems, nodes, edges, subgraphs = parse(text)
    assert problems == []
    assert {subgraphs[diagram.project_id(p)] for p in plan.projects()} == {f'"{p}"' for p in plan.projects()}
    assert len(subgraphs) == len(plan.projects())
    for job in plan.of_type(diagram.JOB):
        node = diagram.node_id("job", job.project, job.inputs["name"])
        assert nodes[node] == diagram.project_id(job.project) and job.inputs["name"] in text
    for dataset in plan.of_type(diagram.DATASET):
        assert nodes[diagram.node_id("dataset", dataset.project, dataset.inputs["datasetId"])] == diagram.project_id(dataset.project)
    linked = {(a, b): label for a, b, label, _ in edges}
    crossing = diagram.cross_project_grants(plan)
    assert crossing or stack == "dev"
    for account, project, target in crossing:
        assert any(
            target in (a, b) and nodes[a if b == target else b] == diagram.project_id(project) and account in label
            for (a, b), label in linked.items()
        ), (account, target)
    for scheduler in plan.of_type(diagram.SCHEDULER):
        job = diagram.scheduled_job(scheduler)
        assert "toltek-scheduler" in linked[(diagram.node_id("scheduler", scheduler.project, scheduler.inputs["name"]), job)]
    for grant in plan.of_type(diagram.DATASET_GRANT):
        if grant.inputs["role"] == "roles/bigquery.dataEditor" and grant.inputs["member"].startswith("serviceAccount:pl-"):
            account = grant.inputs["member"].split(":")[1].split("@")[0]
            job = next(j for j in plan.of_type(diagram.JOB) if j.inputs["template"]["template"]["serviceAccount"].startswith(account + "@"))
            assert linked[(diagram.node_id("job", job.project, job.inputs["name"]), diagram.node_id("dataset", grant.project, grant.inputs["datasetId"]))] == account
    if stack == "copy":
        (copy,) = plan.of_type("gcp:bigquery/dataTransferConfig:DataTransferConfig")
        node = diagram.node_id("copy", copy.project, "raw_shop_sheets copy")
        assert linked[(diagram.node_id("dataset", "toltek-datalake-prd", "raw_shop_sheets"), node)] == "toltek-copier"
        assert linked[(node, diagram.node_id("dataset", "toltek-dwh-prd", "raw_shop_sheets"))] == "toltek-copier"
        assert linked[(diagram.node_id("dataset", "toltek-dwh-prd", "raw_shop_sheets"), diagram.node_id("job", "toltek-dwh-prd", "toltek-dbt-prd"))] == "toltek-dbt"
    if stack == "prd":
        assert linked[("secret_toltek_datalake_prd_shop_api_token", "job_toltek_datalake_prd_toltek_shop_api_prd")] == "pl-shop-api"
        assert linked[("bucket_toltek_datalake_prd_toltek_landing_prd", "job_toltek_datalake_prd_toltek_shop_files_prd")] == "pl-shop-files"
        assert ("job_toltek_dwh_prd_toltek_dbt_prd", "job_toltek_datalake_prd_toltek_shop_api_prd", "toltek-dbt", True) in edges


def test_labels_are_escaped_for_mermaid():
    graph = diagram.Graph("x", ["p"])
    a = graph.node("job", "p", 'say "hi" <b>#1|2')
    b = graph.node("dataset", "p", "d")
    graph.edge(a, b, 'acts "as" | this')
    problems, nodes, edges, _ = parse(diagram.mermaid(graph))
    assert problems == [] and edges == [(a, b, "acts #quot;as#quot; #124; this", False)]


def test_the_committed_pictures_are_the_plans(plans):
    graph = diagram.build(plans["prd"])
    regenerate = "run `toltek plan -s prd --diagram docs/architecture.md` and paste its mermaid block into README.md"
    assert (REPO_ROOT / "docs" / "architecture.md").read_text() == diagram.markdown(graph, "docs/architecture.md"), regenerate
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0]
    assert block == f"\n```mermaid\n{diagram.mermaid(graph)}```\n", regenerate



def test_dot_holds_the_same_graph(plans):
    graph = diagram.build(plans["copy"])
    text = diagram.dot(graph)
    assert text.startswith('digraph "toltek-prd" {') and text.count("subgraph \"cluster_") == len(graph.projects)
    assert all(f"  {e.source} -> {e.target} [" in text for e in graph.edges.values())
    assert all(f"{n.id} [label=" in text for n in graph.nodes.values())
    assert text.count(" -> ") == len(graph.edges) and text.count("style=dashed") == sum(e.dotted for e in graph.edges.values())


def plan_command(*args):
    app = typer.Typer()
    infra_cli.register(app)
    return CliRunner().invoke(app, ["plan", *args])


def test_plan_diagram_writes_the_chart_and_an_svg_when_dot_is_there(plans, tmp_path, monkeypatch):
    tools = tmp_path / "bin"
    tools.mkdir()
    monkeypatch.setenv("PATH", str(tools))
    done = plan_command("-s", "prd", "--diagram", str(tmp_path / "arch.mmd"))
    assert done.exit_code == 0, done.output
    assert (tmp_path / "arch.mmd").read_text() == diagram.mermaid(diagram.build(plans["prd"]))
    assert "no SVG: Graphviz `dot` is not on PATH" in done.output and not (tmp_path / "arch.svg").exists()
    # A stand-in `dot` that checks it was given DOT and writes what -o names.
    fake = tools / "dot"
    fake.write_text(f"#!{sys.executable}\nimport sys\ntext = sys.stdin.read()\nassert text.startswith('digraph')\n"
                    "open(sys.argv[sys.argv.index('-o') + 1], 'w').write('<svg>' + str(text.count(' -> ')) + '</svg>')\n")
    fake.chmod(0o755)
    done = plan_command("-s", "prd", "--diagram", str(tmp_path / "arch.md"))
    assert done.exit_code == 0, done.output
    assert (tmp_path / "arch.svg").read_text() == f"<svg>{len(diagram.build(plans['prd']).edges)}</svg>"
    assert (tmp_path / "arch.md").read_text().startswith("# Architecture of stack `prd`")
    (tmp_path / "notes.md").write_text("# mine\n")
    refused = plan_command("-s", "prd", "--diagram", str(tmp_path / "notes.md"))
    assert refused.exit_code == 2 and "was not written by --diagram; not overwritten" in refused.output
    assert plan_command("-s", "prd", "--diagram", str(tmp_path / "arch.png")).exit_code == 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed here")
def test_graphviz_reads_the_dot(plans, tmp_path):
    import subprocess

    done = subprocess.run(["dot", "-Tsvg"], input=diagram.dot(diagram.build(plans["copy"])), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "<svg" in done.stdout, done.stderr
