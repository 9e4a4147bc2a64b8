"""What EKS offers, and when: the Kubernetes version calendar and the add-on versions, for the
local stack's EKS (eks_ext: CreateCluster, DescribeClusterVersions, add-ons; eks_upgrade:
version updates; k8s_api: `/version`).

A version's support status is not a fixed label: EKS computes it from the version's dates
against the current time. So it is here, against "now":

    now < endOfStandardSupport   -> STANDARD_SUPPORT
    now < endOfExtendedSupport   -> EXTENDED_SUPPORT
    otherwise (or before its EKS release) the version is no longer (not yet) offered: not
    listed by DescribeClusterVersions (listed as UNSUPPORTED only with includeAll), and
    CreateCluster / UpdateClusterVersion refuse it.

"Now" is the real UTC time unless a test steers it for a customer account (control.setting):

    POST /moto-api/config {"byoc": {"eks": {"111122223333": {"now": "2026-06-01T00:00:00Z"}}}}

Sources (EKS User Guide, "Understand the Kubernetes version lifecycle on EKS",
https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html): 14 months of
standard support from the EKS release, then 12 of extended support; "Billing for extended
support starts at the beginning of the day that the version reaches end of standard support,
in the UTC+0 timezone" (so the end date itself is already extended support); "On the end of
extended support date, you can no longer create new Amazon EKS clusters with the unsupported
version". Release calendar rows 1.31-1.34 are that page's table (UTC dates). The stored copy
of the page has no 1.35 row: 1.35's dates (EKS release 2026-01-27, end of standard support
2027-03-27, end of extended support 2028-03-27) are the vendor's brief's, and agree with
https://endoflife.date/amazon-eks ("1.35-eks-3 (27 Jan 2026)", support ends 27 Mar 2027 and
27 Mar 2028). 1.36 is not in the calendar: AWS documents it as available
(kubernetes-versions-standard.html, "Kubernetes 1.36 is now available in Amazon EKS") but no
AWS page found gives its dates (only a third-party blog does), so with the real clock in
December 2026 only 1.35 is in standard support here, while AWS also offers 1.36. Versions before
1.31 are not in it either (no add-on versions are modelled for them), so for clocks set
before 2026-07-23 the local stack offers fewer versions than AWS did: stricter, never kinder.

`defaultVersion` (DescribeClusterVersions; the version CreateCluster uses without one): AWS's
default lags the newest version ("If you don't specify a value here, the default version
available in Amazon EKS is used. The default version might not be the latest version
available.", EKS API reference, CreateCluster `version`,
https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html); AWS does not
publish its rule. Here: the newest version in standard support at "now", minus one minor
version if that one is also in standard support, else the newest.

Add-on versions (DescribeAddonVersions, EKS API reference,
https://docs.aws.amazon.com/eks/latest/APIReference/API_DescribeAddonVersions.html): a small
catalogue, each add-on version with the cluster versions it is compatible with and whether it
is EKS's default for that version; every cluster version above has a default for every
add-on. The 1.35 add-on versions are those public EKS configurations pin for 1.35
(kube-proxy v1.35.0-eksbuild.2, coredns v1.13.2-eksbuild.1, vpc-cni v1.21.1-eksbuild.3);
which other versions are compatible with 1.35, and the defaults, are the local stack's
choice (no AWS page found lists them); as on AWS the newest version is not always the
default (vpc-cni's is not, for any version).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from . import control

LOG = logging.getLogger("byoc.eks")

STANDARD = "STANDARD_SUPPORT"
EXTENDED = "EXTENDED_SUPPORT"
UNSUPPORTED = "UNSUPPORTED"


def _day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Version:
    version: str  # 1.NN
    patch: str  # kubernetesPatchVersion
    platform: str  # defaultPlatformVersion
    release: datetime  # Amazon EKS release
    end_of_standard: datetime
    end_of_extended: datetime

    @property
    def ami_release(self) -> str:
        """The EKS optimized AMI release of this version a managed node group gets by default
        (`releaseVersion`, e.g. 1.34.1-20251002)."""
        return f"{self.patch}-{self.release:%Y%m%d}"


CALENDAR = [
    Version("1.35", "1.35.0", "eks.3", _day(2026, 1, 27), _day(2027, 3, 27), _day(2028, 3, 27)),
    Version("1.34", "1.34.1", "eks.4", _day(2025, 10, 2), _day(2026, 12, 2), _day(2027, 12, 2)),
    Version("1.33", "1.33.5", "eks.16", _day(2025, 5, 29), _day(2026, 7, 29), _day(2027, 7, 29)),
    Version("1.32", "1.32.9", "eks.23", _day(2025, 1, 23), _day(2026, 3, 23), _day(2027, 3, 23)),
    Version("1.31", "1.31.13", "eks.44", _day(2024, 9, 26), _day(2025, 11, 26), _day(2026, 11, 26)),
]
_BY_VERSION = {v.version: v for v in CALENDAR}


def minor(version: str | None) -> int | None:
    """19 of "1.19" (None when it is not 1.NN)."""
    parts = str(version or "").split(".")
    if len(parts) != 2 or parts[0] != "1" or not parts[1].isdigit():
        return None
    return int(parts[1])


def now(account: str) -> datetime:
    """The time EKS decides by for this account: the steered "now", else the real UTC time."""
    value = control.setting("eks", account, "now")
    if isinstance(value, str) and value:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            LOG.error("eks now %r for account %s is not an ISO 8601 time; using the real time", value, account)
        else:
            return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


def calendar_entry(version: str | None) -> Version | None:
    return _BY_VERSION.get(str(version or ""))


def status(version: str | None, when: datetime) -> str | None:
    """STANDARD_SUPPORT / EXTENDED_SUPPORT, UNSUPPORTED past extended support, None when
    the version is unknown here or not released yet."""
    entry = calendar_entry(version)
    if entry is None or when < entry.release:
        return None
    if when < entry.end_of_standard:
        return STANDARD
    if when < entry.end_of_extended:
        return EXTENDED
    return UNSUPPORTED


def is_offered(version: str | None, when: datetime) -> bool:
    return status(version, when) in (STANDARD, EXTENDED)


def offered(when: datetime) -> list[str]:
    """The versions EKS offers at `when`, newest first."""
    return [v.version for v in CALENDAR if is_offered(v.version, when)]


def default_version(when: datetime) -> str | None:
    """The newest version in standard support minus one minor, if that one is also in
    standard support; else the newest in standard support (None: none is)."""
    standard = sorted((v.version for v in CALENDAR if status(v.version, when) == STANDARD), key=minor)
    if not standard:
        return None
    newest = standard[-1]
    lagging = f"1.{minor(newest) - 1}"
    return lagging if lagging in standard else newest


def platform(version: str) -> str:
    entry = calendar_entry(version)
    return entry.platform if entry else "eks.1"


def ami_release(version: str) -> str:
    entry = calendar_entry(version)
    return entry.ami_release if entry else f"{version}.0"


def patch(version: str) -> str:
    entry = calendar_entry(version)
    return entry.patch if entry else f"{version}.0"


def cluster_versions(when: datetime, wanted: list[str] | None, version_status: str | None, default_only: bool, include_all: bool, cluster_type: str | None = None) -> list[dict[str, Any]]:
    """DescribeClusterVersions' `clusterVersions` (EKS API reference, ClusterVersionInformation;
    `status` is the deprecated lower-case twin of `versionStatus`)."""
    if cluster_type not in (None, "", "eks"):
        return []
    default = default_version(when)
    rows = []
    for entry in CALENDAR:
        state = status(entry.version, when)
        if state is None or state == UNSUPPORTED and not include_all:
            continue
        if wanted and entry.version not in wanted or default_only and entry.version != default:
            continue
        legacy = state.lower().replace("_", "-")
        if version_status and version_status not in (state, legacy):
            continue
        rows.append({
            "clusterVersion": entry.version,
            "clusterType": "eks",
            "defaultPlatformVersion": entry.platform,
            "defaultVersion": entry.version == default,
            "releaseDate": entry.release,
            "endOfStandardSupportDate": entry.end_of_standard,
            "endOfExtendedSupportDate": entry.end_of_extended,
            "status": legacy,
            "versionStatus": state,
            "kubernetesPatchVersion": entry.patch,
        })
    return rows


# ---------------------------------------------------------------- add-ons

_ALL = ("1.31", "1.32", "1.33", "1.34", "1.35")


def _compat(versions: tuple[str, ...] | list[str], default: tuple[str, ...] = ()) -> dict[str, bool]:
    return {v: v in default for v in versions}


# add-on -> (type, [(version, {cluster version: is EKS's default for it})]), newest first
ADDON_CATALOGUE: dict[str, tuple[str, list[tuple[str, dict[str, bool]]]]] = {
    "vpc-cni": ("networking", [
        ("v1.21.1-eksbuild.3", _compat(("1.32", "1.33", "1.34", "1.35"))),
        ("v1.20.5-eksbuild.1", _compat(_ALL, default=("1.35",))),
        ("v1.20.4-eksbuild.2", _compat(_ALL[:4], default=_ALL[:4])),
        ("v1.19.6-eksbuild.7", _compat(("1.31", "1.32", "1.33"))),
    ]),
    "coredns": ("networking", [
        ("v1.13.2-eksbuild.1", _compat(("1.35",), default=("1.35",))),
        ("v1.12.4-eksbuild.1", _compat(("1.34",))),
        ("v1.12.3-eksbuild.1", _compat(("1.34",), default=("1.34",))),
        ("v1.12.1-eksbuild.2", _compat(("1.33",), default=("1.33",))),
        ("v1.11.4-eksbuild.24", _compat(("1.32",))),
        ("v1.11.4-eksbuild.2", _compat(("1.32",), default=("1.32",))),
        ("v1.11.3-eksbuild.2", _compat(("1.31",), default=("1.31",))),
    ]),
    "kube-proxy": ("networking", [
        ("v1.35.0-eksbuild.2", _compat(("1.35",), default=("1.35",))),
        ("v1.34.0-eksbuild.2", _compat(("1.34",), default=("1.34",))),
        ("v1.33.3-eksbuild.10", _compat(("1.33",))),
        ("v1.33.3-eksbuild.4", _compat(("1.33",), default=("1.33",))),
        ("v1.32.6-eksbuild.8", _compat(("1.32",), default=("1.32",))),
        ("v1.31.10-eksbuild.8", _compat(("1.31",), default=("1.31",))),
    ]),
    "eks-pod-identity-agent": ("security", [
        ("v1.3.9-eksbuild.3", _compat(_ALL, default=("1.35",))),
        ("v1.3.8-eksbuild.2", _compat(_ALL, default=_ALL[:4])),
    ]),
    "aws-ebs-csi-driver": ("storage", [
        ("v1.48.0-eksbuild.2", _compat(_ALL, default=_ALL)),
    ]),
}


def is_addon(addon: str) -> bool:
    return addon in ADDON_CATALOGUE


def addon_compatible(addon: str, addon_version: str, cluster_version: str) -> bool:
    offered_versions = dict(ADDON_CATALOGUE.get(addon, ("", []))[1])
    return cluster_version in offered_versions.get(addon_version, {})


def default_addon_version(addon: str, cluster_version: str) -> str | None:
    for version, compat in ADDON_CATALOGUE.get(addon, ("", []))[1]:
        if compat.get(cluster_version):
            return version
    return None


def addon_versions(addon: str | None, kubernetes_version: str | None) -> list[dict]:
    """DescribeAddonVersions' `addons`: only versions (and compatibilities) for
    `kubernetes_version` when it is given."""
    out = []
    for name, (kind, versions) in ADDON_CATALOGUE.items():
        if addon and name != addon:
            continue
        infos = []
        for version, compat in versions:
            pairs = [(k, d) for k, d in compat.items() if kubernetes_version in (None, k)]
            if not pairs:
                continue
            infos.append({
                "addonVersion": version,
                "architecture": ["amd64", "arm64"],
                "computeTypes": ["ec2", "hybrid"] if name != "coredns" else ["ec2", "auto"],
                "compatibilities": [{"clusterVersion": k, "platformVersions": ["*"], "defaultVersion": d} for k, d in pairs],
                "requiresConfiguration": False,
                # retreive-iam-info.html: true for aws-ebs-csi-driver too
                "requiresIamPermissions": name in ("vpc-cni", "aws-ebs-csi-driver"),
            })
        if infos:
            out.append({"addonName": name, "type": kind, "addonVersions": infos, "publisher": "eks", "owner": "aws", "defaultNamespace": "kube-system"})
    return out
