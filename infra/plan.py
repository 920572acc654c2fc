"""Evaluate the real Pulumi program offline, under Pulumi's mocks, and capture every resource.

No CLI, no provider plugin, no credentials: the program registers its resources with a recording
mock monitor, which sees each raw register request (type, name, parent, provider, inputs as the
engine receives them). Outputs the cloud would compute (service account e-mails, image digests,
resource names) are derived deterministically by `PlanMocks`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format

from infra import config as stack_config
from infra.heap import fewer_collections
from pipelines import yaml_text
from pipelines.environments import REPO_ROOT
from pipelines.errors import UserError

PROJECT = "toltek"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
SIG_KEY = "4dabf18193072939515e22adb298388d"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PROVIDER_PREFIX = "pulumi:providers:"


@dataclass
class PlannedResource:
    type: str
    name: str
    urn: str
    custom: bool
    parent_urn: str | None
    provider_urn: str | None
    inputs: dict[str, Any]
    raw_inputs: dict[str, Any] = field(default_factory=dict, repr=False)  # engine wire form
    protect: bool = False
    parent: str | None = None
    project: str | None = None
    # What the engine orders this resource after: `depends_on` plus every input's dependencies
    # (URNs, components expanded to their children by the SDK), and per input property.
    dependencies: frozenset[str] = frozenset()
    property_dependencies: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "parent": self.parent, "project": self.project, "inputs": self.inputs}


@dataclass
class Plan:
    stack: str
    preview: bool = False
    resources: list[PlannedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # data sources read at preview

    def of_type(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def projects(self) -> set[str]:
        return {r.project for r in self.resources if r.project}

    def to_json(self) -> str:
        return json.dumps([r.as_dict() for r in self.resources], indent=2, sort_keys=False)


def _wire(value: Any) -> Any:
    """Engine wire values -> plain JSON: secrets masked, resource references as their URN."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return "[secret]"
        if sig == RESOURCE_SIG:
            return value.get("urn")
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    if value == UNKNOWN:
        return "[unknown]"
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire has only doubles
    return value


def read_stack_file(stack: str, root: Path | None = None) -> dict[str, str]:
    """All keys of `Pulumi.<stack>.yaml` as Pulumi's runtime holds them (non-strings as JSON)."""
    path = (root or REPO_ROOT) / f"Pulumi.{stack}.yaml"
    if stack not in stack_config.STACKS:
        raise stack_config.ConfigError(f"unknown stack '{stack}' (choose from: {', '.join(stack_config.STACKS)})")
    if not path.exists():
        raise stack_config.ConfigError(f"stack config {path.name} not found in {path.parent}")
    try:
        data = yaml_text.read(path)
    except yaml.YAMLError as exc:
        raise stack_config.ConfigError(f"{path.name} is not valid YAML: {' '.join(str(exc).split())[:200]}") from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise stack_config.ConfigError(f"{path.name} has no 'config:' mapping")
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def stack_settings(stack: str, root: Path | None = None) -> stack_config.StackConfig:
    """The validated `toltek:` settings of `Pulumi.<stack>.yaml`."""
    raw = read_stack_file(stack, root)
    return stack_config.parse(stack, {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith(f"{PROJECT}:")})


def _mocks(preview: bool) -> Any:
    import pulumi

    class PlanMocks(pulumi.runtime.Mocks):
        """Deterministic stand-ins for what the cloud computes.

        In a preview, like the engine's, a resource to create echoes its inputs and everything
        the cloud would compute stays unknown.
        """

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
            state = dict(args.inputs)
            if preview:
                return "", state
            project = state.get("project", "")
            if args.typ == "gcp:serviceaccount/account:Account":
                email = f"{state['accountId']}@{project}.iam.gserviceaccount.com"
                state.update(email=email, member=f"serviceAccount:{email}", name=f"projects/{project}/serviceAccounts/{email}")
            elif args.typ == "gcp:secretmanager/secret:Secret":
                state["name"] = f"projects/{project}/secrets/{state['secretId']}"
            elif args.typ == "gcp:projects/iAMCustomRole:IAMCustomRole":  # what a grant of it names
                state["name"] = f"projects/{project}/roles/{state['roleId']}"
            elif args.typ == "gcp:organizations/iAMCustomRole:IAMCustomRole":
                state["name"] = f"organizations/{state['orgId']}/roles/{state['roleId']}"
            elif args.typ == "gcp:monitoring/notificationChannel:NotificationChannel":
                state["name"] = f"projects/{project}/notificationChannels/{_digest(args.name)[:12]}"
            elif args.typ == "docker:index/image:Image":
                repo = state["imageName"].rsplit(":", 1)[0]
                state["repoDigest"] = f"{repo}@sha256:{_digest(state['imageName'])}"
            elif args.typ == "gcp:kms/keyRing:KeyRing":  # ids in the form the KMS API gives them
                return f"projects/{project}/locations/{state['location']}/keyRings/{state['name']}", state
            elif args.typ == "gcp:kms/cryptoKey:CryptoKey":
                return f"{state['keyRing']}/cryptoKeys/{state['name']}", state
            state.setdefault("name", args.name)
            return f"{args.name}-id", state

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
            project = args.args.get("project", "")
            number = int(_digest(project)[:10], 16) % 10**12  # a stand-in project number
            if args.token == "gcp:bigquery/getDefaultServiceAccount:getDefaultServiceAccount":
                email = f"bq-{number}@bigquery-encryption.iam.gserviceaccount.com"
                return {"email": email, "member": f"serviceAccount:{email}", "project": project, "id": email}, []
            if args.token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
                email = f"service-{number}@gs-project-accounts.iam.gserviceaccount.com"
                return {"emailAddress": email, "member": f"serviceAccount:{email}", "project": project, "id": email}, []
            return {}, []

    return PlanMocks()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _monitor(mocks: Any, plan: Plan) -> Any:
    from pulumi.runtime.mocks import MockMonitor

    class RecordingMonitor(MockMonitor):
        def Invoke(self, request):  # noqa: N802 - gRPC naming
            args = json_format.MessageToDict(request.args, preserving_proto_field_name=True)
            plan.invokes.append((request.tok, _wire(args)))
            return super().Invoke(request)

        def RegisterResource(self, request):  # noqa: N802 - gRPC naming
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                inputs = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
                by_property = {k: frozenset(v.urns) for k, v in request.propertyDependencies.items()}
                plan.resources.append(
                    PlannedResource(
                        type=request.type,
                        name=request.name,
                        urn=response.urn,
                        custom=bool(request.custom),
                        parent_urn=request.parent or None,
                        provider_urn=request.provider.rsplit("::", 1)[0] if request.provider else None,
                        inputs=_wire(inputs),
                        raw_inputs=inputs,
                        protect=bool(request.protect),
                        dependencies=frozenset(request.dependencies).union(*by_property.values()),
                        property_dependencies=by_property,
                    )
                )
            return response

    return RecordingMonitor(mocks)


def _resolve(plan: Plan) -> None:
    """Fill in each resource's parent component name and GCP project."""
    by_urn = {r.urn: r for r in plan.resources}
    for r in plan.resources:
        parent = by_urn.get(r.parent_urn or "")
        r.parent = parent.name if parent else None
        if r.type.startswith(PROVIDER_PREFIX):
            r.project = r.inputs.get("project")
        elif isinstance(r.inputs.get("project"), str):
            r.project = r.inputs["project"]
        elif r.type == "docker:index/image:Image":
            r.project = r.inputs["imageName"].split("/")[1]
        elif r.provider_urn and r.provider_urn in by_urn:
            r.project = by_urn[r.provider_urn].inputs.get("project")


def run_plan(stack: str, root: Path | None = None, *, preview: bool = False) -> Plan:
    """Run the stack's program under mocks with `Pulumi.<stack>.yaml`; return what it registers."""
    raw = read_stack_file(stack, root)
    stack_settings(stack, root)  # a bad stack file is one line before anything is evaluated

    import pulumi
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from infra.program import main

    plan = Plan(stack, preview=preview)
    mocks = _mocks(preview)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The SDK walks the Python stack of every registration to tell the engine which line created
    # the resource; no engine reads it here, and at a thousand pipelines it is a tenth of the plan.
    from pulumi.runtime import resource as sdk_resource
    from pulumi.runtime.proto import source_pb2

    stack_trace = sdk_resource._get_stack_trace
    sdk_resource._get_stack_trace = source_pb2.StackTrace
    try:
        pulumi.runtime.set_all_config(raw, [])
        # set_mocks reuses a root stack left by an earlier run in this process, whose outputs are
        # already finalised (a plan after a preview would export nothing): start from a fresh one.
        pulumi.runtime.settings.set_root_resource(None)  # type: ignore[arg-type]
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=_monitor(mocks, plan))
        with fewer_collections():
            _sync_await(run_pulumi_func(main))
            if not preview:
                exported = dict(getattr(pulumi.runtime.get_root_resource(), "outputs", {}) or {})
                plan.outputs = _sync_await(pulumi.Output.from_input(exported).future()) or {}
    except UserError:
        raise
    finally:
        sdk_resource._get_stack_trace = stack_trace
        loop.close()
        asyncio.set_event_loop(None)
    _resolve(plan)
    return plan
