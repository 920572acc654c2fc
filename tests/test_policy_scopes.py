"""The pack reads grants from every IAM scope pulumi-gcp has, and its allowance table bounds the
deployer's roles the checklist asks for."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pulumi_gcp
import pytest

from infra.deploy.apis import deployer_roles
from infra.deploy.report import view
from infra.plan import run_plan
from infra.policy.allowances import DEPLOYER_MAY_HOLD
from infra.policy.iam import SCOPES, grants, iam_type
from infra.policy.model import Res

TOKEN = re.compile(r"""['"](gcp:\w+/\w+:\w+)['"]""")


def sdk_iam_types() -> dict[str, type]:
    """Every `*IamMember` / `*IamBinding` / `*IamPolicy` resource class of the installed pulumi-gcp."""
    root = Path(pulumi_gcp.__file__).parent
    out = {}
    for path in root.rglob("*.py"):
        if "iam" not in path.name.lower().replace("_", "") or path.name.startswith("get"):
            continue
        for token in TOKEN.findall(path.read_text()):
            name = token.rsplit(":", 1)[1]
            if re.search(r"(?i)iam(member|binding|policy)$", name):
                module = root.relative_to(root.parent).as_posix().replace("/", ".")
                out[token] = (f"{module}.{path.parent.name}", name)
    return out


@pytest.fixture(scope="module")
def iam_types():
    types = sdk_iam_types()
    assert len(types) > 400, "pulumi-gcp 10 has some 470 IAM resource types"
    return types


def test_every_iam_type_of_the_sdk_is_recognised(iam_types):
    missed = [t for t in iam_types if iam_type(t) is None]
    assert missed == []


def test_each_named_scope_reads_a_property_its_resource_has(iam_types):
    """Where the pack names the property a scope's target is read from, the SDK has it."""
    import importlib

    checked = 0
    for token, (module, cls_name) in iam_types.items():
        scope, target, _ = iam_type(token)
        if target is None:
            continue
        cls = getattr(importlib.import_module(module), cls_name)
        params = inspect.signature(cls._internal_init).parameters
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", target).lower()
        assert snake in params, f"{token}: no {snake}"
        checked += 1
    assert checked >= len({k for k in SCOPES}) * 2  # member, binding, policy of each named scope


@pytest.mark.parametrize(
    ("token", "props", "scope", "target"),
    [
        ("gcp:organizations/iAMMember:IAMMember", {"orgId": "1234", "role": "roles/owner", "member": "group:a@b.c"}, "organization", "1234"),
        ("gcp:folder/iAMBinding:IAMBinding", {"folder": "folders/9", "role": "roles/editor", "members": ["group:a@b.c"]}, "folder", "folders/9"),
        ("gcp:serviceaccount/iAMMember:IAMMember", {"serviceAccountId": "projects/p/serviceAccounts/x@p.iam.gserviceaccount.com",
                                                   "role": "roles/iam.serviceAccountUser", "member": "group:a@b.c"}, "service_account",
         "projects/p/serviceAccounts/x@p.iam.gserviceaccount.com"),
        ("gcp:kms/keyRingIAMMember:KeyRingIAMMember", {"keyRingId": "p/europe/ring", "role": "roles/cloudkms.admin", "member": "group:a@b.c"},
         "key_ring", "p/europe/ring"),
        ("gcp:pubsub/topicIAMMember:TopicIAMMember", {"project": "p", "topic": "t", "role": "roles/editor", "member": "allUsers"}, "pubsub.topic", "t"),
        ("gcp:billing/accountIamMember:AccountIamMember", {"billingAccountId": "0-1-2", "role": "roles/billing.admin", "member": "group:a@b.c"},
         "billing_account", "0-1-2"),
    ],
)
def test_grants_are_read_from_scopes_no_rule_lists(token, props, scope, target):
    (grant,) = grants(Res(token, "r", "urn:r", props))
    assert (grant.scope, grant.target, grant.role) == (scope, target, props["role"])
    assert grant.member == (props.get("member") or props["members"][0])


def test_a_policy_of_unknown_content_is_a_grant_of_unknown_role():
    (grant,) = grants(Res("gcp:projects/iAMPolicy:IAMPolicy", "r", "urn:r", {"project": "p", "policyData": "not json"}))
    assert grant.authoritative and grant.role is not None and not isinstance(grant.role, str)


@pytest.mark.parametrize("stack", ["dev", "prd"])
def test_the_deployer_is_never_asked_for_more_than_the_table_allows(stack):
    plan = run_plan(stack)
    asked = set().union(*deployer_roles(view(plan.resources, stack=plan.stack, invokes=plan.invokes)).values())
    assert asked and asked <= DEPLOYER_MAY_HOLD, sorted(asked - DEPLOYER_MAY_HOLD)
