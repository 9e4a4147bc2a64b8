"""EKS cluster insights on the local stack: ListInsights and DescribeInsight, and the upgrade
readiness check UpdateClusterVersion makes with them (eks_upgrade).

EKS API reference, ListInsights (POST /clusters/{name}/insights, body {filter: {categories,
kubernetesVersions, statuses}, maxResults 1-100, nextToken}: `insights` of InsightSummary) and
DescribeInsight (GET /clusters/{name}/insights/{id}: `insight`, with recommendation,
additionalInfo, resources, categorySpecificSummary {deprecationDetails,
addonCompatibilityDetails}):
https://docs.aws.amazon.com/eks/latest/APIReference/API_ListInsights.html,
https://docs.aws.amazon.com/eks/latest/APIReference/API_DescribeInsight.html. Names,
descriptions and reasons as the EKS User Guide's examples show them ("Prepare for Kubernetes
version upgrades with cluster insights",
https://docs.aws.amazon.com/eks/latest/userguide/cluster-insights.html).

What a cluster has, by default: for every version EKS offers (eks_catalogue, at the account's
"now") newer than the cluster's, an UPGRADE_READINESS insight "Deprecated APIs removed in
Kubernetes v1.NN" and one "Kubelet version skew", both PASSING. A test adds or replaces
insights per account (same name and version: replaced), for every cluster of the account
whose version is older than the insight's:

    POST /moto-api/config {"byoc": {"eks": {"111122223333": {"insights": [
        {"name": "Deprecated APIs removed in Kubernetes v1.35", "kubernetes_version": "1.35",
         "status": "ERROR", "reason": "Deprecated API usage detected within last 30 days ...",
         "deprecations": [{"usage": "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
                           "replacedWith": "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
                           "stopServingVersion": "1.32", "startServingReplacementVersion": "1.29"}]}]}}}}

(optional keys: "category" (UPGRADE_READINESS), "description", "recommendation",
"resources"). Ids are stable per cluster, name and version.

Enforcement: "EKS now checks and enforces the status of EKS upgrade insights as part of the
UpdateClusterVersion API" (aws/containers-roadmap#2570, 2025-03-28; `force` "to override
upgrade-blocking readiness checks", API reference UpdateClusterVersion). The same announcement
says the enforcement was temporarily rolled back, and the User Guide's update-cluster.html
says so too; the local stack models the stricter behaviour: an UPGRADE_READINESS insight in
ERROR for the target version refuses the update unless `force`, with EKS's answer as callers
report it (hashicorp/terraform-provider-aws#42031): InvalidStateException "Upgrade readiness
issues detected. Call the EKS ListInsights API to view upgrade blocking issues detected by
EKS. Pass the force flag to override upgrade readiness errors and proceed with upgrade."

Not modelled: the insights EKS derives from the cluster itself ("Cluster health issues",
"EKS add-on version compatibility", "kube-proxy version skew", deprecated API use seen in the
audit log); MISCONFIGURATION (hybrid nodes) insights.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from . import control
from . import eks_catalogue as catalogue

UPGRADE_READINESS = "UPGRADE_READINESS"
BLOCKED = (
    "Upgrade readiness issues detected. Call the EKS ListInsights API to view upgrade blocking "
    "issues detected by EKS. Pass the force flag to override upgrade readiness errors and proceed with upgrade."
)
_SUMMARY_KEYS = ("id", "name", "category", "kubernetesVersion", "lastRefreshTime", "lastTransitionTime", "description", "insightStatus")


def _deprecated(version: str) -> dict[str, Any]:
    return {
        "name": f"Deprecated APIs removed in Kubernetes v{version}",
        "description": f"Checks for usage of deprecated APIs that are scheduled for removal in Kubernetes v{version}. Upgrading your cluster before migrating to the updated APIs supported by v{version} could cause application impact.",
        "reason": "No deprecated API usage detected within the last 30 days.",
        "recommendation": f"Update manifests and API clients to use newer Kubernetes APIs if applicable before upgrading to Kubernetes v{version}.",
        "additionalInfo": {
            "Kubernetes API deprecation guide": "https://kubernetes.io/docs/reference/using-api/deprecation-guide/",
            "EKS update cluster documentation": "https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html",
        },
    }


def _skew(version: str) -> dict[str, Any]:
    return {
        "name": "Kubelet version skew",
        "description": "Checks for kubelet versions of worker nodes in the cluster to see if upgrade would cause non compliance with supported Kubernetes kubelet version skew policy.",
        "reason": "Node kubelet versions match the cluster control plane version.",
        "recommendation": "Upgrade your worker nodes to match the Kubernetes version of your cluster control plane.",
        "additionalInfo": {
            "Kubelet version skew policy": "https://kubernetes.io/releases/version-skew-policy/#kubelet",
            "Updating a managed node group": "https://docs.aws.amazon.com/eks/latest/userguide/update-managed-node-group.html",
        },
    }


def _insight(cluster: Any, version: str, base: dict, status: str, reason: str, when: datetime, steered: dict | None = None) -> dict[str, Any]:
    steered = steered or {}
    name = steered.get("name") or base["name"]
    deprecations = [
        {
            "usage": d.get("usage", ""),
            "replacedWith": d.get("replacedWith", ""),
            "stopServingVersion": d.get("stopServingVersion", ""),
            "startServingReplacementVersion": d.get("startServingReplacementVersion", ""),
            "clientStats": list(d.get("clientStats") or []),
        }
        for d in steered.get("deprecations") or []
        if isinstance(d, dict)
    ]
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{cluster.arn}|{name}|{version}")),
        "name": name,
        "category": steered.get("category") or UPGRADE_READINESS,
        "kubernetesVersion": version,
        "lastRefreshTime": when,
        "lastTransitionTime": when,
        "description": steered.get("description") or base["description"],
        "insightStatus": {"status": status, "reason": reason},
        "recommendation": steered.get("recommendation") or base["recommendation"],
        "additionalInfo": dict(base["additionalInfo"]),
        "resources": list(steered.get("resources") or []),
        "categorySpecificSummary": {"deprecationDetails": deprecations, "addonCompatibilityDetails": []},
    }


def insights(cluster: Any, account: str) -> list[dict[str, Any]]:
    """Every insight of the cluster (full Insight shapes), by version, then name."""
    current = catalogue.minor(cluster.version) or 0
    when = datetime.now(timezone.utc)
    out: dict[tuple[str, str], dict] = {}
    for version in catalogue.offered(catalogue.now(account)):
        if (catalogue.minor(version) or 0) > current:
            for base in (_deprecated(version), _skew(version)):
                out[(base["name"], version)] = _insight(cluster, version, base, "PASSING", base["reason"], when)
    steered = control.setting("eks", account, "insights", []) or []
    for item in steered if isinstance(steered, list) else []:
        version = str(item.get("kubernetes_version") or "") if isinstance(item, dict) else ""
        if (catalogue.minor(version) or 0) <= current:
            continue
        name = str(item.get("name") or _deprecated(version)["name"])
        base = _skew(version) if name == "Kubelet version skew" else _deprecated(version)
        status = str(item.get("status") or "PASSING").upper()
        out[(name, version)] = _insight(cluster, version, base, status, str(item.get("reason") or base["reason"]), when, dict(item, name=name))
    return sorted(out.values(), key=lambda i: (catalogue.minor(i["kubernetesVersion"]) or 0, i["name"]))


def blocking(cluster: Any, account: str, target: str) -> list[dict[str, Any]]:
    """The UPGRADE_READINESS insights in ERROR for `target`: UpdateClusterVersion's refusal."""
    return [
        i for i in insights(cluster, account)
        if i["kubernetesVersion"] == target and i["category"] == UPGRADE_READINESS and i["insightStatus"]["status"] == "ERROR"
    ]


def _error(kind: str, message: str, cluster: str) -> Exception:
    from moto.eks import exceptions

    return getattr(exceptions, kind)(message=message, clusterName=cluster, nodegroupName=None, addonName=None)


def install(EKSResponse: Any) -> None:
    from moto.core.responses import ActionResult

    from .eks_ext import _cluster

    def list_insights(self: Any) -> Any:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        wanted = self._get_param("filter") or {}
        categories, versions, statuses = (wanted.get(k) or [] for k in ("categories", "kubernetesVersions", "statuses"))
        found = [
            {k: i[k] for k in _SUMMARY_KEYS}
            for i in insights(cluster, self.current_account)
            if (not categories or i["category"] in categories)
            and (not versions or i["kubernetesVersion"] in versions)
            and (not statuses or i["insightStatus"]["status"] in statuses)
        ]
        size = self._get_param("maxResults") or 100
        token = self._get_param("nextToken") or "0"
        if not (isinstance(size, int) and 1 <= size <= 100) or not str(token).isdigit():
            raise _error("InvalidParameterException", "maxResults must be between 1 and 100 and nextToken one this API returned", cluster.name)
        start = int(token)
        body: dict[str, Any] = {"insights": found[start:start + size]}
        if start + size < len(found):
            body["nextToken"] = str(start + size)
        return ActionResult(body)

    def describe_insight(self: Any) -> Any:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        wanted = self._get_param("id")
        for insight in insights(cluster, self.current_account):
            if insight["id"] == wanted:
                return ActionResult({"insight": insight})
        raise _error("ResourceNotFoundException", f"No insight found for id: {wanted}", cluster.name)

    EKSResponse.list_insights = list_insights
    EKSResponse.describe_insight = describe_insight
