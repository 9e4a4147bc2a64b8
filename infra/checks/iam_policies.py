"""Reads the IAM policies out of our CloudFormation templates (shared by the checks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from cfnlint.decode import decode

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((REPO / "cfn").glob("*.yaml"))


@dataclass
class Statement:
    template: str
    resource: str
    kind: str  # "trust" or "permissions"
    body: dict[str, Any]

    @property
    def where(self) -> str:
        sid = self.body.get("Sid")
        return f"{self.template} {self.resource} {self.kind}" + (f" ({sid})" if sid else "")

    def actions(self) -> list[str]:
        value = self.body.get("Action", [])
        return [value] if isinstance(value, str) else list(value)


def load(path: Path) -> dict[str, Any]:
    template, problems = decode(str(path))
    if problems:
        raise ValueError(f"{path}: {problems}")
    return template


def branches(value: Any) -> list[Any]:
    """Every value a property can take: both sides of an Fn::If (the customer's switches
    choose between them), none for AWS::NoValue."""
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        _, then, otherwise = value["Fn::If"]
        return branches(then) + branches(otherwise)
    if value == {"Ref": "AWS::NoValue"}:
        return []
    return [value]


def statements(path: Path) -> Iterator[Statement]:
    template = load(path)
    for name, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for st in props.get("AssumeRolePolicyDocument", {}).get("Statement", []):
                yield Statement(path.name, name, "trust", st)
            for policy in (p for value in props.get("Policies", []) for p in branches(value)):
                for st in policy["PolicyDocument"]["Statement"]:
                    for condition in branches(st.get("Condition")) if "Condition" in st else [None]:
                        body = {**st, "Condition": condition} if condition is not None else st
                        yield Statement(path.name, name, "permissions", body)
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for st in props["PolicyDocument"]["Statement"]:
                yield Statement(path.name, name, "permissions", st)
