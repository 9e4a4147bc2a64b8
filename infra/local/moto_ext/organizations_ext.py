"""Organizations DetachPolicy as AWS answers it, where moto is kinder.

The emulator's IAM evaluation (iam_enforce.scp_levels) reads every level of an organization
from the root down to the account, and a level must allow a call. AWS keeps at least one SCP on
every root, OU and account: "Every root, OU, and account must have at least one SCP attached. If
you want to replace the default FullAWSAccess policy with an SCP that limits the permissions
that can be delegated, you must attach the replacement SCP before you can remove the default
SCP" (Organizations API Reference, DetachPolicy). moto let the last one go, so a level could
be left with none, which AWS never shows. Here, as AWS:
- detaching the last SCP of a target while SCPs are enabled is ConstraintViolationException
  with Reason MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED;
- detaching a policy that is not attached to the target is PolicyNotAttachedException (moto
  did nothing and answered success).
"""

from __future__ import annotations

from typing import Any

SCP = "SERVICE_CONTROL_POLICY"


def _attached(backend: Any, target_id: str) -> list | None:
    for ou in backend.ou:
        if ou.id == target_id:
            return ou.attached_policies
    for account in backend.accounts:
        if account.id == target_id:
            return account.attached_policies
    return None  # moto's own lookup answers a missing target


def check_detach(backend: Any, policy_id: str, target_id: str) -> None:
    from moto.organizations.exceptions import OrganizationsClientError

    policy = backend.get_policy_by_id(policy_id)
    attached = _attached(backend, target_id)
    if attached is None:
        return
    if policy not in attached:
        raise OrganizationsClientError("PolicyNotAttachedException", "The policy isn't attached to the specified target in the specified root.")
    if policy.type == SCP and sum(1 for p in attached if p.type == SCP) == 1:
        error = OrganizationsClientError(
            "ConstraintViolationException",
            "You attempted to detach a policy from an entity that would cause the entity to have fewer than the minimum number of policies of a certain type required.",
        )
        error.Reason = "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"  # type: ignore[attr-defined]
        raise error


def install() -> None:
    from moto.organizations.models import OrganizationsBackend

    original = OrganizationsBackend.detach_policy
    if getattr(original, "_byoc_checked", False):
        return

    def detach_policy(self: Any, **kwargs: str) -> None:
        check_detach(self, kwargs["PolicyId"], kwargs["TargetId"])
        return original(self, **kwargs)

    detach_policy._byoc_checked = True  # type: ignore[attr-defined]
    OrganizationsBackend.detach_policy = detach_policy  # type: ignore[method-assign]
