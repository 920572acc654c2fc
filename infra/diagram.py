"""The architecture of a stack, drawn from its evaluated plan: a Mermaid flowchart (and Graphviz DOT).

Everything comes from the captured resources, not from the registry: GCP projects are subgraphs;
Cloud Scheduler jobs, Cloud Run jobs, datasets, secrets, buckets and dataset copies are nodes;
edges come from what the resources say of each other (a schedule's target, a copy's source and
destination) and from the IAM grants between them, each labelled with the service account that
acts. Solid arrows carry data or start a job; dotted ones read a secret or a job's executions.
"""

from __future__ import annotations

import re
import shutil
import textwrap
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.errors import UserError

if TYPE_CHECKING:
    from infra.plan import Plan, PlannedResource

JOB = "gcp:cloudrunv2/job:Job"
SCHEDULER = "gcp:cloudscheduler/job:Job"
DATASET = "gcp:bigquery/dataset:Dataset"
SECRET = "gcp:secretmanager/secret:Secret"
BUCKET = "gcp:storage/bucket:Bucket"
COPY = "gcp:bigquery/dataTransferConfig:DataTransferConfig"
DATASET_GRANT = "gcp:bigquery/datasetIamMember:DatasetIamMember"
SECRET_GRANT = "gcp:secretmanager/secretIamMember:SecretIamMember"
BUCKET_GRANT = "gcp:storage/bucketIAMMember:BucketIAMMember"
JOB_GRANT = "gcp:cloudrunv2/jobIamMember:JobIamMember"
ACCOUNT = "gcp:serviceaccount/account:Account"

# Roles whose grant means data flows from the resource to the one acting (a read); a secret read
# and a look at a job's executions are dotted; any other role points from the actor to the resource.
READS = ("roles/bigquery.dataViewer", "roles/storage.objectViewer")
SECRET_READ = "roles/secretmanager.secretAccessor"
EXECUTIONS_READ = "roles/run.viewer"
SERVICE_ACCOUNT = re.compile(r"^serviceAccount:([a-z0-9-]+)@([a-z0-9-]+)\.iam\.gserviceaccount\.com$")

# Mermaid node shapes (flowchart syntax) and their Graphviz counterparts, by kind of node.
SHAPES = {
    "scheduler": ("{{", "}}", "hexagon"),
    "job": ("[", "]", "box"),
    "dataset": ("[(", ")]", "cylinder"),
    "bucket": ("[(", ")]", "cylinder"),
    "secret": ("([", "])", "box"),
    "copy": ("{{", "}}", "hexagon"),
    "account": ("([", "])", "ellipse"),
}
TITLES = {
    "scheduler": "Cloud Scheduler",
    "job": "Cloud Run job",
    "dataset": "dataset",
    "bucket": "bucket",
    "secret": "secret",
    "copy": "dataset copy",
    "account": "service account",
}


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    project: str
    lines: tuple[str, ...]  # the label's lines, first the resource's own name


@dataclass
class Edge:
    source: str
    target: str
    dotted: bool
    labels: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return ", ".join(sorted(self.labels))


@dataclass
class Graph:
    stack: str
    projects: list[str]
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple[str, str], Edge] = field(default_factory=dict)

    def node(self, kind: str, project: str, name: str, *more: str) -> str:
        id_ = node_id(kind, project, name)
        self.nodes.setdefault(id_, Node(id_, kind, project, (name, *more)))
        return id_

    def in_project(self, project: str) -> list[Node]:
        return sorted((n for n in self.nodes.values() if n.project == project), key=lambda n: (list(SHAPES).index(n.kind), n.id))

    def outside(self) -> list[Node]:
        """Nodes of projects the stack does not create resources in (an outside account)."""
        return sorted((n for n in self.nodes.values() if n.project not in self.projects), key=lambda n: n.id)

    def edge(self, source: str, target: str, label: str, dotted: bool = False) -> None:
        edge = self.edges.setdefault((source, target), Edge(source, target, dotted))
        edge.dotted = edge.dotted and dotted  # a solid relation wins over a dotted one
        if label:
            edge.labels.add(label)


def node_id(kind: str, project: str, name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{kind}_{project}_{name}")


def project_id(project: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"project_{project}")


def account_of(member: str) -> tuple[str, str] | None:
    """(account id, project) of a `serviceAccount:` member of one of the stack's own kind."""
    match = SERVICE_ACCOUNT.match(member)
    return (match[1], match[2]) if match else None


def email_account(email: object) -> tuple[str, str] | None:
    return account_of(f"serviceAccount:{email}")


def scheduled_job(scheduler: PlannedResource) -> str | None:
    uri = (scheduler.inputs.get("httpTarget") or {}).get("uri", "")
    match = re.search(r"/projects/([^/]+)/locations/[^/]+/jobs/([^/:]+):run$", str(uri))
    return node_id("job", match[1], match[2]) if match else None


def build(plan: Plan) -> Graph:
    """The stack's graph from its plan."""
    graph = Graph(plan.stack, sorted(plan.projects()))
    acting: dict[tuple[str, str], list[str]] = {}  # service account -> the nodes that act as it

    for r in plan.of_type(JOB):
        job = graph.node("job", r.project, r.inputs["name"])
        account = email_account(r.inputs["template"]["template"].get("serviceAccount"))
        if account:
            acting.setdefault(account, []).append(job)
    for r in plan.of_type(DATASET):
        graph.node("dataset", r.project, r.inputs["datasetId"])
    for r in plan.of_type(SECRET):
        graph.node("secret", r.project, r.inputs["secretId"])
    for r in plan.of_type(BUCKET):
        graph.node("bucket", r.project, r.inputs["name"])
    for r in plan.of_type(SCHEDULER):
        when = f"{r.inputs.get('schedule')} {r.inputs.get('timeZone', 'Etc/UTC')}"
        scheduler = graph.node("scheduler", r.project, r.inputs["name"], when)
        account = email_account((r.inputs.get("httpTarget") or {}).get("oauthToken", {}).get("serviceAccountEmail"))
        target = scheduled_job(r)
        if target in graph.nodes:
            graph.edge(scheduler, target, account[0] if account else "")
        if account:
            acting.setdefault(account, []).append(scheduler)
    for r in plan.of_type(COPY):
        params = r.inputs.get("params") or {}
        copy = graph.node("copy", r.project, f"{params.get('source_dataset_id')} copy", str(r.inputs.get("schedule", "")))
        account = email_account(r.inputs.get("serviceAccountName"))
        label = account[0] if account else ""
        source = node_id("dataset", str(params.get("source_project_id")), str(params.get("source_dataset_id")))
        destination = node_id("dataset", r.project, str(r.inputs.get("destinationDatasetId")))
        if source in graph.nodes:
            graph.edge(source, copy, label)
        if destination in graph.nodes:
            graph.edge(copy, destination, label)
        if account:
            acting.setdefault(account, []).append(copy)

    grants = {DATASET_GRANT: ("dataset", "datasetId"), SECRET_GRANT: ("secret", "secretId"), BUCKET_GRANT: ("bucket", "bucket"), JOB_GRANT: ("job", "name")}
    for type_, (kind, key) in grants.items():
        for r in plan.of_type(type_):
            account = account_of(str(r.inputs.get("member", "")))
            target = node_id(kind, r.project, str(r.inputs.get(key)))
            if account is None or target not in graph.nodes:
                continue  # Google's service agents, or a resource the picture does not draw
            role = str(r.inputs.get("role"))
            actors = acting.get(account) or [graph.node("account", account[1], account[0])]
            # An account acting through several nodes (the scheduler's, the copier's) acts here
            # through those already related to the resource: a schedule to its job, a copy to its datasets.
            related = [a for a in actors if (a, target) in graph.edges or (target, a) in graph.edges]
            for actor in related or actors:
                if role in READS:
                    graph.edge(target, actor, account[0])
                elif role == SECRET_READ:
                    graph.edge(target, actor, account[0], dotted=True)
                elif role == EXECUTIONS_READ:
                    graph.edge(actor, target, account[0], dotted=True)
                else:
                    graph.edge(actor, target, account[0])
    return graph


def cross_project_grants(plan: Plan) -> list[tuple[str, str, str]]:
    """(account id, its project, the granted resource's node id) of every grant that crosses
    projects: the edges a picture of the stack must show."""
    grants = {DATASET_GRANT: ("dataset", "datasetId"), SECRET_GRANT: ("secret", "secretId"), BUCKET_GRANT: ("bucket", "bucket"), JOB_GRANT: ("job", "name")}
    found = []
    for type_, (kind, key) in grants.items():
        for r in plan.of_type(type_):
            account = account_of(str(r.inputs.get("member", "")))
            if account and account[1] != r.project:
                found.append((account[0], account[1], node_id(kind, r.project, str(r.inputs.get(key)))))
    return sorted(found)


# --- Mermaid --------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text for a quoted Mermaid label: its own entity codes for the characters the syntax uses."""
    return text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;").replace("|", "#124;")


def mermaid_label(node: Node) -> str:
    return "<br/>".join(escape(line) for line in (TITLES[node.kind], *node.lines))


def mermaid(graph: Graph) -> str:
    """`flowchart LR`: a subgraph per project holding its nodes, then the edges."""
    lines = ["flowchart LR", f"  %% stack {graph.stack}, from the evaluated plan: toltek plan -s {graph.stack} --diagram FILE"]

    def declare(node: Node, indent: str) -> str:
        opening, closing, _ = SHAPES[node.kind]
        return f'{indent}{node.id}{opening}"{mermaid_label(node)}"{closing}'

    for project in graph.projects:
        lines.append(f'  subgraph {project_id(project)} ["{escape(project)}"]')
        lines += [declare(node, "    ") for node in graph.in_project(project)]
        lines.append("  end")
    lines += [declare(node, "  ") for node in graph.outside()]
    for edge in sorted(graph.edges.values(), key=lambda e: (e.source, e.target)):
        arrow = "-.->" if edge.dotted else "-->"
        label = f'|"{escape(edge.label)}"|' if edge.label else ""
        lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(lines) + "\n"


INTRO = (
    "What `pulumi up -s {stack}` creates, drawn from the plan `toltek plan -s {stack}` evaluates offline (not "
    "from the registry alone). Each GCP project is a box. Per pipeline: the Cloud Scheduler job that starts its "
    "Cloud Run job, the raw dataset (and dlt's `_staging` dataset) the job writes, the secrets and landing bucket "
    "it reads; then how the warehouse reaches each raw dataset (a read through a dataset grant, or a Data Transfer "
    "Service copy), and the dbt job with the datasets it builds. Solid arrows carry data or start a job; dotted "
    "ones read a secret or a job's executions. Each arrow is labelled with the service account that acts."
)
GENERATED = "toltek plan -s {stack} --diagram"


def markdown(graph: Graph, path: str) -> str:
    """A page: a short introduction, then the flowchart in a ```mermaid fence (GitHub draws it)."""
    return (
        f"# Architecture of stack `{graph.stack}`\n\n"
        f"<!-- generated by `{GENERATED.format(stack=graph.stack)} {path}`; a test fails when it differs from the plan -->\n\n"
        + "\n".join(textwrap.wrap(INTRO.format(stack=graph.stack), 100, break_on_hyphens=False))
        + f"\n\n```mermaid\n{mermaid(graph)}```\n"
    )


# --- Graphviz -------------------------------------------------------------------------------


def dot(graph: Graph) -> str:
    """The same graph in Graphviz DOT: a cluster per project."""

    def quoted(*parts: str) -> str:
        return '"' + "\\n".join(p.replace("\\", "\\\\").replace('"', '\\"') for p in parts) + '"'

    def declare(node: Node, indent: str) -> str:
        style = ', style="rounded"' if node.kind == "secret" else ""
        return f"{indent}{node.id} [label={quoted(TITLES[node.kind], *node.lines)}, shape={SHAPES[node.kind][2]}{style}];"

    lines = [f"digraph {quoted('toltek-' + graph.stack)} {{", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']
    for project in graph.projects:
        lines.append(f"  subgraph {quoted('cluster_' + project)} {{")
        lines.append(f"    label={quoted(project)};")
        lines += [declare(node, "    ") for node in graph.in_project(project)]
        lines.append("  }")
    lines += [declare(node, "  ") for node in graph.outside()]
    for edge in sorted(graph.edges.values(), key=lambda e: (e.source, e.target)):
        style = ", style=dashed" if edge.dotted else ""
        lines.append(f"  {edge.source} -> {edge.target} [label={quoted(edge.label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write(plan: Plan, path: Path) -> list[str]:
    """Write the plan's picture to `path` (`.md`: a page, `.mmd`: the chart) and, when Graphviz
    `dot` is on PATH, an SVG beside it; return what was done, a line each."""
    graph = build(plan)
    text = markdown(graph, path.as_posix()) if path.suffix == ".md" else mermaid(graph)
    try:
        if path.exists() and "--diagram" not in "".join(path.read_text().splitlines(keepends=True)[:3]):
            raise UserError(f"--diagram {path}: the file exists and was not written by --diagram; not overwritten")
        path.write_text(text)
    except OSError as exc:
        raise UserError(f"--diagram {path}: {exc.strerror or exc}") from None
    done = [f"wrote {path} ({len(graph.nodes)} nodes, {len(graph.edges)} edges)"]
    program = shutil.which("dot")
    if program is None:
        return [*done, "no SVG: Graphviz `dot` is not on PATH (the Mermaid chart is written)"]
    svg = path.with_suffix(".svg")
    result = subprocess.run([program, "-Tsvg", "-o", str(svg)], input=dot(graph), capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise UserError(f"Graphviz dot failed on the diagram: {' '.join(result.stderr.split())[:300]}")
    return [*done, f"wrote {svg}"]
