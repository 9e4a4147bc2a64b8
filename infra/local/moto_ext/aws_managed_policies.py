"""AWS managed policies in the local stack's IAM, as in every AWS account, and CloudFormation's
AWS::IAM::Role `ManagedPolicyArns` attached as CloudFormation attaches them.

- AWS managed policies are known to IAM by ARN (moto ships them but loads none by default), and
  CloudFormation's AWS::IAM::Role `ManagedPolicyArns` are attached (moto ignores them), detached
  when the stack deletes the role or drops them; an ARN IAM does not know fails the role.
(IAM User Guide, "AWS managed policies"; CloudFormation AWS::IAM::Role ManagedPolicyArns.)
"""

from __future__ import annotations

import json
import re
import threading
from functools import lru_cache
from typing import Any

_LOCK = threading.RLock()


@lru_cache(maxsize=1)
def _aws_policies() -> dict:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def know_aws_managed_policy(backend: Any, arn: str) -> None:
    """Puts the AWS managed policy `arn` into the account's IAM (it is in every account)."""
    from moto.iam.models import AWSManagedPolicy

    match = re.fullmatch(r"arn:aws[a-z-]*:iam::aws:policy(/(?:[^/]+/)*)([^/]+)", arn or "")
    if not match or arn in backend.managed_policies:
        return
    data = _aws_policies().get(match.group(2))
    if data is None or (data.get("Path") or "/") != match.group(1):
        return
    policy = AWSManagedPolicy.from_data(match.group(2), backend.account_id, backend.region_name, data)
    if policy.arn == arn:
        with _LOCK:
            backend.managed_policies.setdefault(arn, policy)


def install() -> None:
    from moto.iam.models import IAMBackend, Role, iam_backends
    from moto.utilities.utils import get_partition

    for method in ("attach_role_policy", "attach_user_policy", "attach_group_policy", "get_policy", "get_policy_version"):
        original = getattr(IAMBackend, method)

        def knowing(self: Any, policy_arn: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            know_aws_managed_policy(self, policy_arn)
            return _original(self, policy_arn, *args, **kwargs)

        setattr(IAMBackend, method, knowing)

    create, update, delete = (getattr(Role, m).__func__ for m in ("create_from_cloudformation_json", "update_from_cloudformation_json", "delete_from_cloudformation_json"))

    def sync(role: Any, backend: Any, wanted: set[str]) -> None:
        held = set(getattr(role, "byoc_cfn_policies", set()))
        for arn in sorted(held - wanted):
            if arn in role.managed_policies:
                backend.detach_role_policy(arn, role.name)
            held.discard(arn)
        role.byoc_cfn_policies = held & wanted
        for arn in sorted(wanted - held):
            backend.attach_role_policy(arn, role.name)  # NoSuchEntity for an ARN IAM does not know
            role.byoc_cfn_policies.add(arn)

    def arns(cloudformation_json: dict) -> set[str]:
        return {a for a in (cloudformation_json.get("Properties", {}).get("ManagedPolicyArns") or []) if isinstance(a, str)}

    @classmethod  # type: ignore[misc]
    def create_role(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        role = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = iam_backends[account_id][get_partition(region_name)]
        try:
            sync(role, backend, arns(cloudformation_json))
        except Exception:
            sync(role, backend, set())
            backend.delete_role(role.name)
            raise
        return role

    @classmethod  # type: ignore[misc]
    def update_role(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        role = update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        sync(role, iam_backends[account_id][get_partition(region_name)], arns(cloudformation_json))
        return role

    @classmethod  # type: ignore[misc]
    def delete_role(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        backend = iam_backends[account_id][get_partition(region_name)]
        role = next((r for r in backend.roles.values() if r.name == resource_name), None)
        if role is not None:
            sync(role, backend, set())
        return delete(cls, resource_name, cloudformation_json, account_id, region_name)

    Role.create_from_cloudformation_json, Role.update_from_cloudformation_json, Role.delete_from_cloudformation_json = create_role, update_role, delete_role
