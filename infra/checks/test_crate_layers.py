"""The crates' layering (docs/architecture.md): byoc-domain holds the pure rules and must not
depend on an AWS SDK crate, the Lambda runtime, tokio or the crates above it; byoc-lambda is the
Lambda plumbing and must not depend on an AWS SDK crate or byoc-core. Read from `cargo metadata`
(every dependency kind but dev: what the crate builds with), so a dependency added to either
crate's Cargo.toml fails here, not in a review."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "byoc-domain": ("aws-", "aws_", "lambda_runtime", "lambda_http", "tokio", "byoc-core", "byoc-lambda", "reqwest", "hyper"),
    "byoc-lambda": ("aws-", "aws_", "byoc-core", "reqwest"),
}


@pytest.fixture(scope="module")
def metadata() -> dict:
    host = next(
        line.split(": ", 1)[1]
        for line in subprocess.run(["rustc", "-vV"], check=True, capture_output=True, text=True).stdout.splitlines()
        if line.startswith("host: ")
    )
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--filter-platform", host],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def closure(metadata: dict, name: str) -> set[str]:
    """Every package `name` builds with (normal and build dependencies, transitively)."""
    ids = {p["id"]: p["name"] for p in metadata["packages"]}
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    root = next(i for i, n in ids.items() if n == name)
    seen, todo = set(), [root]
    while todo:
        node = nodes[todo.pop()]
        for dep in node["deps"]:
            if all(k["kind"] == "dev" for k in dep["dep_kinds"]):
                continue
            if dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                todo.append(dep["pkg"])
    return {ids[i] for i in seen}


@pytest.mark.parametrize("crate", sorted(FORBIDDEN))
def test_crate_layers_hold(metadata, crate):
    found = sorted(d for d in closure(metadata, crate) if d.startswith(FORBIDDEN[crate]))
    assert not found, f"{crate} must not build with {found} (docs/architecture.md)"
