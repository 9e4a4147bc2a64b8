"""CloudFormation stack updates of IAM roles, and `AWS::NoValue` in lists, as AWS does them.

The customer changes the vendor's access by updating the access stack (cfn/customer-role.yaml:
`VendorAccess`, `AllowChanges`), so a stack update must change the role as CloudFormation does.
moto falls short twice:

- `!Ref AWS::NoValue` as a list element (`!If [Cond, {...}, !Ref AWS::NoValue]` in a role's
  `Policies`) stayed in the list as None, and the role's creation failed. CloudFormation removes
  the element: "AWS::NoValue — Removes the corresponding resource property when specified as a
  return value in the Fn::If intrinsic function" (CloudFormation User Guide, "Pseudo
  parameters reference"), and in a list that removes the element.
- AWS::IAM::Role updates changed only the description: a new trust policy, inline policies,
  managed policies and permissions boundary were ignored. CloudFormation applies each of them
  to the role in place ("Update requires: No interruption", CloudFormation User Guide,
  AWS::IAM::Role), and an inline policy no longer in the template is deleted. A changed
  `RoleName` or `Path` replaces the role; the customer template never changes either, and a
  replacement is refused here rather than done half.
- A stack update that changes only parameters updated the resources that `Ref` a changed
  parameter, not those that depend on it through a condition (`!If [VendorAccessPaused, …]`),
  so pausing changed nothing; and a parameter left out of the update (so back to its default)
  did not count as changed, though DescribeStacks showed the default. CloudFormation re-evaluates conditions on update and updates
  every resource whose properties come out different ("Updating stacks using change sets";
  "Conditions" in the template anatomy): here, every resource that names a condition which
  depends, directly or through other conditions, on a changed parameter is updated.
"""

from __future__ import annotations

import json
from typing import Any


def _drop_no_value_elements() -> None:
    from moto.cloudformation import parsing

    original = parsing.clean_json
    if getattr(original, "_byoc_no_value", False):
        return

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        cleaned = original(resource_json, resources_map)
        if isinstance(resource_json, list) and isinstance(cleaned, list):
            return [value for value in cleaned if value is not None]
        return cleaned

    clean_json._byoc_no_value = True  # type: ignore[attr-defined]
    parsing.clean_json = clean_json


def _names(node: Any, found: set[str]) -> set[str]:
    """Parameters (Ref) and conditions (Fn::If, Condition) a template fragment names."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Condition" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::If" and isinstance(value, list) and value and isinstance(value[0], str):
                found.add(value[0])
            _names(value, found)
    elif isinstance(node, list):
        for value in node:
            _names(value, found)
    return found


def touched_by(template: dict[str, Any], changed_parameters: set[str]) -> set[str]:
    """The changed parameters and every condition that depends on one of them."""
    conditions = template.get("Conditions") or {}
    touched = set(changed_parameters)
    grew = True
    while grew:
        grew = False
        for name, definition in conditions.items():
            if name not in touched and _names(definition, set()) & touched:
                touched.add(name)
                grew = True
    return touched


def _update_through_conditions() -> None:
    from moto.cloudformation.parsing import ResourceMap

    original = ResourceMap.build_resource_diff
    if getattr(original, "_byoc_conditions", False):
        return

    def build_resource_diff(self: Any, other_template: dict[str, Any], parameters: dict[str, Any] | None = None) -> dict[str, Any]:
        actions = original(self, other_template, parameters)
        # What each parameter resolves to after the update: a parameter left out takes its
        # default (CloudFormation reuses the previous value only with UsePreviousValue, which
        # moto has already filled in here), compared with what it resolved to before.
        slots = other_template.get("Parameters") or {}
        given = parameters or {}
        after = {name: given.get(name, slot.get("Default")) for name, slot in slots.items()}
        before = self.resolved_parameters
        changed = {name for name, value in after.items() if str(before.get(name)) != str(value)}
        touched = touched_by(other_template, changed)
        old = self._resource_json_map
        for name, resource in other_template["Resources"].items():
            if name in old and name not in actions["Modify"] and _names(resource, set()) & touched:
                actions["Modify"].append(name)
        return actions

    build_resource_diff._byoc_conditions = True  # type: ignore[attr-defined]
    ResourceMap.build_resource_diff = build_resource_diff  # type: ignore[method-assign]


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def update_role(role: Any, properties: dict[str, Any], backend: Any) -> Any:
    """Apply the template's properties to an existing role, as CloudFormation's update does."""
    name = properties.get("RoleName", role.name)
    if name != role.name or properties.get("Path", "/") != role.path:
        raise ValueError(f"changing the RoleName or Path of role {role.name} replaces it; the local stack does not replace roles")
    backend.update_role(name, properties.get("Description", ""), properties.get("MaxSessionDuration", 3600))
    backend.update_assume_role_policy(name, _document(properties["AssumeRolePolicyDocument"]))
    wanted = {p["PolicyName"]: _document(p["PolicyDocument"]) for p in properties.get("Policies", [])}
    for policy_name in list(role.policies):
        if policy_name not in wanted:
            backend.delete_role_policy(name, policy_name)
    for policy_name, document in wanted.items():
        backend.put_role_policy(name, policy_name, document)
    managed = set(properties.get("ManagedPolicyArns", []))
    for arn in list(role.managed_policies):
        if arn not in managed:
            backend.detach_role_policy(arn, name)
    for arn in managed - set(role.managed_policies):
        backend.attach_role_policy(arn, name)
    boundary = properties.get("PermissionsBoundary")
    if boundary:
        backend.put_role_permissions_boundary(name, boundary)
    elif role.permissions_boundary_arn:
        backend.delete_role_permissions_boundary(name)
    return backend.get_role(name)


def _patch_role_updates() -> None:
    from moto.iam.models import Role, iam_backends
    from moto.utilities.utils import get_partition

    if getattr(Role.update_from_cloudformation_json, "_byoc_update", False):
        return

    @classmethod  # type: ignore[misc]
    def update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        backend = iam_backends[account_id][get_partition(region_name)]
        return update_role(original_resource, cloudformation_json["Properties"], backend)

    update.__func__._byoc_update = True  # type: ignore[attr-defined]
    Role.update_from_cloudformation_json = update  # type: ignore[method-assign]


def install() -> None:
    _drop_no_value_elements()
    _patch_role_updates()
    _update_through_conditions()
