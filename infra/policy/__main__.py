"""Entry point of `pulumi preview --policy-pack infra/policy`: builds the pack (and serves it)."""

from pulumi_policy import EnforcementLevel, PolicyPack

from infra.policy.pack import DESCRIPTION, PACK_NAME, policies

PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.MANDATORY, description=DESCRIPTION)
