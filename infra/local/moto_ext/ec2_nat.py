"""NAT gateways that take time to become available, as on AWS.

moto makes a NAT gateway `available` the moment it is created, so code that never polls would
pass. Here a new gateway stays `pending` for as many DescribeNatGateways calls that return it
as a test set for the customer account, then turns `available` (or `failed`, with a
FailureCode and FailureMessage, when the test asked for that). The state only moves when a poll
sees the gateway, so a caller has to poll for real:

    POST /moto-api/config {"byoc": {"nat": {"111122223333": {"pending_polls": 3}}}}
    POST /moto-api/config {"byoc": {"nat": {"111122223333": {"fail": "Elastic IP is in use"}}}}

Without a setting a gateway is available at once (moto's behaviour). Settings apply to gateways
created after they are posted.

Also fills two gaps the installer relies on: DescribeNatGateways honours `tag:`/`tag-key`
filters (moto ignores them and returns every gateway), and CreateNatGateway honours ClientToken
(a repeated token returns the gateway it made, as EC2 does).
"""

from __future__ import annotations

import threading
from typing import Any

from . import control

_LOCK = threading.Lock()
_DEFAULT_FAILURE_CODE = "InternalError"


def pending_settings(account_id: str) -> tuple[int, str | None, str]:
    """(pending polls, failure message or None, failure code) set for `account_id`."""
    polls = control.setting("nat", account_id, "pending_polls", 0)
    fail = control.setting("nat", account_id, "fail")
    code = control.setting("nat", account_id, "fail_code", _DEFAULT_FAILURE_CODE)
    polls = polls if isinstance(polls, int) and polls > 0 else 0
    message = fail if isinstance(fail, str) and fail else None
    return polls, message, str(code)


def start_pending(gateway: Any, polls: int, failure: str | None, code: str) -> None:
    """Makes a just-created gateway pending; `poll` moves it on."""
    if polls == 0 and failure is None:
        return
    gateway.state = "pending"
    gateway.byoc_polls_left = polls
    gateway.byoc_failure = (code, failure) if failure else None


def poll(gateway: Any) -> None:
    """One DescribeNatGateways sighting: count down, then settle."""
    with _LOCK:
        if gateway.state != "pending" or not hasattr(gateway, "byoc_polls_left"):
            return
        if gateway.byoc_polls_left > 0:
            gateway.byoc_polls_left -= 1
            return
        if gateway.byoc_failure:
            gateway.state = "failed"
            gateway.failure_code, gateway.failure_message = gateway.byoc_failure
        else:
            gateway.state = "available"


def _is_tag_filter(name: str) -> bool:
    return name.startswith("tag:") or name in ("tag-key", "tag-value")


def install() -> None:
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.nat_gateways import NatGatewayBackend
    from moto.ec2.responses.nat_gateways import NatGateways
    from moto.ec2.utils import add_tag_specification, tag_filter_matches

    original_create = NatGatewayBackend.create_nat_gateway
    original_describe = NatGatewayBackend.describe_nat_gateways

    def create_nat_gateway(self: Any, *args: Any, **kwargs: Any) -> Any:
        gateway = original_create(self, *args, **kwargs)
        start_pending(gateway, *pending_settings(self.account_id))
        return gateway

    def describe_nat_gateways(self: Any, filters: Any, nat_gateway_ids: list[str] | None) -> list[Any]:
        filters = dict(filters or {})
        # Applied here, after the poll, so a caller filtering on state sees the state change.
        states = filters.pop("state", None)
        tag_filters = {name: filters.pop(name) for name in list(filters) if _is_tag_filter(name)}
        gateways = original_describe(self, filters, nat_gateway_ids)
        gateways = [g for g in gateways if all(tag_filter_matches(g, n, v) for n, v in tag_filters.items())]
        for gateway in gateways:
            poll(gateway)
        return [g for g in gateways if states is None or g.state in states]

    def create_nat_gateway_response(self: Any) -> Any:
        subnet_id = self._get_param("SubnetId")
        allocation_id = self._get_param("AllocationId")
        token = self._get_param("ClientToken")
        backend = self.ec2_backend
        with _LOCK:
            tokens = backend.__dict__.setdefault("byoc_nat_tokens", {})
            known = backend.nat_gateways.get(tokens.get(token)) if token else None
        if known is not None:
            if known.subnet_id != subnet_id:
                raise EC2ClientError(
                    "IdempotentParameterMismatch",
                    f"Client token {token} was already used for a NAT gateway in another subnet.",
                )
            gateway = known
        else:
            gateway = backend.create_nat_gateway(
                subnet_id=subnet_id,
                allocation_id=allocation_id,
                tags=add_tag_specification(self._get_param("TagSpecifications", [])),
                connectivity_type=self._get_param("ConnectivityType"),
            )
            if token:
                with _LOCK:
                    tokens[token] = gateway.id
        result = {"NatGateway": gateway}
        if token:
            result["ClientToken"] = token
        return ActionResult(result)

    NatGatewayBackend.create_nat_gateway = create_nat_gateway  # type: ignore[method-assign]
    NatGatewayBackend.describe_nat_gateways = describe_nat_gateways  # type: ignore[method-assign]
    NatGateways.create_nat_gateway = create_nat_gateway_response  # type: ignore[method-assign]
