"""A customer-managed encryption key per project, used by its datasets and buckets.

BigQuery and Cloud Storage encrypt with the key through their Google-managed service agents,
which get `cryptoKeyEncrypterDecrypter` on that key only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

ENCRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
ROTATION = "7776000s"  # 90 days


def kms_location(bigquery_location: str) -> str:
    """KMS location matching a BigQuery location: EU -> europe, US -> us, a region -> itself."""
    return {"EU": "europe", "US": "us"}.get(bigquery_location, bigquery_location)


@dataclass(frozen=True)
class ProjectKey:
    key: gcp.kms.CryptoKey
    grants: list[gcp.kms.CryptoKeyIAMMember]

    @property
    def id(self) -> pulumi.Output[str]:
        return self.key.id


def project_key(project: str, bigquery_location: str, opts: pulumi.ResourceOptions) -> ProjectKey:
    """Key ring `toltek`, key `data` (rotated every 90 days), usable by BigQuery and Storage."""
    ring = gcp.kms.KeyRing(f"{project}-keyring", project=project, name="toltek", location=kms_location(bigquery_location), opts=opts)
    key = gcp.kms.CryptoKey(
        f"{project}-data-key",
        name="data",
        key_ring=ring.id,
        purpose="ENCRYPT_DECRYPT",
        rotation_period=ROTATION,
        labels={"app": "toltek"},
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True)),
    )
    invoke = pulumi.InvokeOptions(provider=opts.provider, parent=opts.parent)
    agents = {
        "bigquery": gcp.bigquery.get_default_service_account_output(project=project, opts=invoke).member,
        "storage": gcp.storage.get_project_service_account_output(project=project, opts=invoke).member,
    }
    grants = [
        gcp.kms.CryptoKeyIAMMember(f"{project}-data-key-{service}", crypto_key_id=key.id, role=ENCRYPTER, member=member, opts=opts)
        for service, member in agents.items()
    ]
    return ProjectKey(key, grants)
