"""Secrets in code: values that belong in Secret Manager, written into the program instead."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

from infra.policy.model import CRITICAL, UNKNOWN, Res, get, items, iter_containers, rule

SECRET_VERSIONS = ("gcp:secretmanager/secretVersion:SecretVersion", "gcp:secretmanager/regionalSecretVersion:RegionalSecretVersion")
RUN_TYPES = ("gcp:cloudrunv2/job:Job", "gcp:cloudrunv2/service:Service")
SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.IGNORECASE)
SECRET_VALUE = re.compile(
    r"(AIza[0-9A-Za-z_-]{35}|-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|gh[pousr]_[0-9A-Za-z]{36}"
    r"|github_pat_[0-9A-Za-z_]{40,}|xox[abposr]-[0-9A-Za-z-]{10,}|sk_live_[0-9A-Za-z]{16,}|ya29\.[0-9A-Za-z_-]{20,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # a JWT
    r"|\"private_key\"\s*:"  # a service account key file
    r"|[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@)"  # a URL with a password
)
KEY_LIKE = re.compile(r"^[A-Za-z0-9+/=_-]{32,}$")


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def credential(value: str) -> str | None:
    """Why `value` looks like a credential, or None."""
    if SECRET_VALUE.search(value):
        return "a credential-shaped value"
    if KEY_LIKE.match(value) and any(c.isdigit() for c in value) and any(c.isalpha() for c in value) and _entropy(value) >= 4.0:
        return "a key-like random string"
    return None


@rule(
    "secret-no-version-in-code",
    "No Secret Manager secret version with its value in the program: values are added out of band (gcloud secrets versions add).",
    severity=CRITICAL,
    types=SECRET_VERSIONS,
    rationale="A value in the program sits in its repository and, encrypted or not, in every state file and plan.",
)
def no_version_in_code(res: Res) -> Iterator[str]:
    for key in ("secretData", "secretDataWo"):
        if get(res.props, key) is not None:
            yield f"{res.name} writes a secret's value from the program ({key}); add versions with `gcloud secrets versions add`"
            return


@rule(
    "run-no-plaintext-secrets",
    "No credential in a container's plain environment values or arguments: use Secret Manager references.",
    severity=CRITICAL,
    types=RUN_TYPES,
    mirrors=("KICS a88baa34-e2ad-44ea-ad6f-8cac87bc7c71 (generic)",),
    rationale="Plain values are visible to anyone who can read the job's configuration.",
)
def no_plaintext_secrets(res: Res) -> Iterator[str]:
    for container in iter_containers(res):
        for env in items(container, "envs"):
            name, value = get(env, "name"), get(env, "value")
            if not isinstance(value, str) or not value or value is UNKNOWN:
                continue
            why = credential(value)
            if why:
                yield f"{res.name}: variable {name} holds {why}"
            elif isinstance(name, str) and SECRET_NAME.search(name):
                yield f"{res.name}: variable {name} looks secret but is set in plaintext"
        for key in ("args", "commands"):
            for arg in items(container, key):
                why = credential(arg) if isinstance(arg, str) else None
                if why:
                    yield f"{res.name}: an argument holds {why}"
