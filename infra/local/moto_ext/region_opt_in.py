"""Opt-in Regions per account: which Regions each account can use, as EC2 DescribeRegions and
Account Management report it, and the refusal of calls an account makes in an opt-in Region it
has not enabled.

AWS documentation followed:
- AWS Account Management Reference Guide, "Specify which AWS Regions your account can use"
  (https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html): "Regions
  launched before March 20, 2019 are enabled by default ... Default Regions cannot be enabled or
  disabled. Opt-in Regions – Regions launched after March 20, 2019 are disabled by default ...
  you cannot use these Regions to create workloads until they are enabled."
  In the aws partition the default Regions are DEFAULT_REGIONS below; every other Region of the
  partition (botocore's endpoints data: af-south-1, ap-east-1, ap-east-2, ap-south-2,
  ap-southeast-3..7, ca-west-1, eu-central-2, eu-south-1, eu-south-2, il-central-1,
  me-central-1, me-south-1, mx-central-1 today) is opt-in, and so is any Region botocore learns
  of later, or does not know at all (a made-up name is refused rather than served). The aws-cn
  and aws-us-gov partitions have no opt-in Regions.
- EC2 API reference, DescribeRegions (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/
  API_DescribeRegions.html): without AllRegions only "the Regions that are enabled for your
  account"; AllRegions "display all Regions, including Regions that are disabled for your
  account"; RegionNames "You can specify any Regions, whether they are enabled and disabled for
  your account"; filters endpoint, opt-in-status (opt-in-not-required | opted-in |
  not-opted-in), region-name. moto answers "opt-in-not-required" for several opt-in Regions and
  ignores AllRegions and Filters; here each account gets its own statuses. Only the caller's
  partition is listed ("You can't describe or access the Regions of one type of account from
  another", Regions and Availability Zones guide). A Region name EC2 does not know is refused
  with InvalidParameterValue (stricter than moto's empty answer).
- Account Management API reference, GetRegionOptStatus and ListRegions
  (https://docs.aws.amazon.com/accounts/latest/reference/API_GetRegionOptStatus.html,
  API_ListRegions.html, API_Region.html): RegionOptStatus ENABLED | ENABLING | DISABLING |
  DISABLED | ENABLED_BY_DEFAULT; ListRegions pages (MaxResults 1..50) and filters by
  RegionOptStatusContains. AccountId names a member account and is allowed only to the
  organization's management account with trusted access for account.amazonaws.com (the
  management account "can't specify its own AccountId"; delegated administrators are not
  modelled: refused). IAM-evaluated like every call (iam_resolvers' `account` entry:
  the `account` / `accountInOrganization` resource, account:TargetRegion).

Each account's state is steered by tests (moto_ext/control.py), default: no opt-in Region:
    {"byoc": {"regions": {"<account>": {"opted_in": ["af-south-1"],
                                        "enabling": ["me-south-1"], "disabling": ["eu-south-1"],
                                        "refuse_calls": true}}}}
"opted_in" Regions are ENABLED; "enabling" / "disabling" ones report ENABLING / DISABLING and,
the stricter reading ("You cannot use the Region until this process is complete"), cannot be
used yet / any more: DescribeRegions shows them not-opted-in and calls there are refused.

The refusal (steerable: "refuse_calls": false turns it off for an account; on by default):
- STS: a call signed for such a Region, by an account that has not enabled it or for a role
  whose account has not, is answered `RegionDisabledException` (HTTP 403) "STS is not activated
  in this region for account:<id>. Your account administrator can activate STS in this region
  using the IAM Console." (STS API reference, AssumeRole: "STS is not activated in the requested
  region for the account that is being asked to generate credentials"; the wording is AWS's as
  quoted in public error reports). A GetCallerIdentity in a Region the account had not enabled
  has also been reported answered InvalidClientTokenId (segmentio/aws-okta#225, with a global
  endpoint's session token); the documented exception is the one modelled, for every STS call.
- Every other call signed for the Region with that account's credentials: AWS documents no error
  for it; what AWS answers, as reported (steampipe-plugin-aws#75, fog-aws#585, chalice#1445,
  epsagon/clear-lambda-storage#9, segmentio/aws-okta#225), is the protocol's authentication
  failure, modelled so: EC2 `AuthFailure` (HTTP 401) "AWS was not able to validate the provided
  access credentials"; JSON APIs `UnrecognizedClientException` "The security token included in
  the request is invalid." (HTTP 400 for JSON 1.x, 403 for REST-JSON); query and REST-XML APIs
  `InvalidClientTokenId` (HTTP 403) with the same message.
The check runs before IAM authorization (AWS authenticates before it authorizes), on every call
moto dispatches through its action handler (S3's own request router is not covered). Global
services are never refused: botocore's endpoints data marks them `"isRegionalized": false` with
one partition endpoint (IAM, Organizations, Route 53, CloudFront, Account, ...;
`global_services()`), which every SDK reaches and signs for us-east-1 whatever Region its client
is set to (AWS General Reference, "AWS Identity and Access Management endpoints and quotas",
https://docs.aws.amazon.com/general/latest/gr/iam-service.html: one endpoint, iam.amazonaws.com,
in us-east-1, for the aws partition). Locally the endpoint is overridden (AWS_ENDPOINT_URL), so the SDK signs such a call
with the client's Region; it is treated as AWS would treat it, not refused. Not modelled: session tokens from the
global STS endpoint (v1 tokens), which AWS rejects in every opt-in Region even when enabled.
"""

from __future__ import annotations

import fnmatch
import json
import secrets
from functools import lru_cache
from typing import Any

from . import control

_SECTION = "regions"

# The aws partition's Regions launched before 20 March 2019: enabled by default, never opt-in.
DEFAULT_REGIONS = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2",
        "ca-central-1",
        "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1",
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
        "ap-southeast-1", "ap-southeast-2",
        "sa-east-1",
    }
)

ENABLED_BY_DEFAULT, ENABLED, ENABLING, DISABLING, DISABLED = "ENABLED_BY_DEFAULT", "ENABLED", "ENABLING", "DISABLING", "DISABLED"
OPT_STATUSES = (ENABLED, ENABLING, DISABLING, DISABLED, ENABLED_BY_DEFAULT)
# EC2's words for the same (DescribeRegions OptInStatus).
EC2_STATUS = {ENABLED_BY_DEFAULT: "opt-in-not-required", ENABLED: "opted-in"}
NOT_OPTED_IN = "not-opted-in"

STS_ISSUING = ("AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity")


# ---------------------------------------------------------------- the Regions


@lru_cache(maxsize=None)
def partition_regions(partition: str) -> tuple[str, ...]:
    from boto3 import Session

    return tuple(Session().get_available_regions("ec2", partition_name=partition))


@lru_cache(maxsize=None)
def global_services() -> frozenset[str]:
    """The aws partition's services with one global endpoint (botocore endpoints data)."""
    import botocore.loaders

    data = botocore.loaders.Loader().load_data("endpoints")
    aws = next(p for p in data["partitions"] if p["partition"] == "aws")
    return frozenset(name for name, service in aws["services"].items() if service.get("isRegionalized") is False)


def partition_of(region: str) -> str:
    for partition in ("aws", "aws-cn", "aws-us-gov"):
        if region in partition_regions(partition):
            return partition
    return "aws"


def is_opt_in(region: str) -> bool:
    return partition_of(region) == "aws" and region not in DEFAULT_REGIONS and region.count("-") == 2


def _listed(account: str, key: str) -> set[str]:
    value = control.setting(_SECTION, account, key, []) or []
    return {str(v) for v in value} if isinstance(value, (list, tuple)) else set()


def status(account: str, region: str) -> str:
    """The Account Management RegionOptStatus of `region` for `account`."""
    if not is_opt_in(region):
        return ENABLED_BY_DEFAULT
    if region in _listed(account, "disabling"):
        return DISABLING
    if region in _listed(account, "enabling"):
        return ENABLING
    if region in _listed(account, "opted_in"):
        return ENABLED
    return DISABLED


def usable(account: str, region: str) -> bool:
    return status(account, region) in (ENABLED_BY_DEFAULT, ENABLED)


def ec2_status(account: str, region: str) -> str:
    return EC2_STATUS.get(status(account, region), NOT_OPTED_IN)


# ---------------------------------------------------------------- EC2 DescribeRegions


def _endpoint(region: str) -> str:
    return f"ec2.{region}.amazonaws.com" + (".cn" if region.startswith("cn-") else "")


_REGION_FILTERS = ("endpoint", "opt-in-status", "region-name")


def describe_regions(account: str, partition: str, names: list[str], all_regions: bool, filters: dict[str, list[str]]) -> list[dict[str, str]]:
    from moto.ec2.exceptions import InvalidParameterValue

    known = partition_regions(partition)
    for name in filters:
        if name not in _REGION_FILTERS:
            raise InvalidParameterValue(f"The filter '{name}' is invalid")
    if names:
        for name in names:
            if name not in known:
                raise InvalidParameterValue(f"Invalid region: {name}")
        chosen = [r for r in known if r in names]
    else:
        chosen = [r for r in known if all_regions or usable(account, r)]
    regions = [{"RegionName": r, "Endpoint": _endpoint(r), "OptInStatus": ec2_status(account, r)} for r in chosen]
    fields = {"endpoint": "Endpoint", "opt-in-status": "OptInStatus", "region-name": "RegionName"}
    for name, values in filters.items():
        regions = [r for r in regions if any(fnmatch.fnmatchcase(r[fields[name]], v) for v in values)]
    return regions


def _respond_describe_regions(self: Any) -> Any:
    from moto.core.responses import ActionResult

    self.error_on_dryrun()
    names = self._get_param("RegionNames", []) or []
    all_regions = str(self._get_param("AllRegions", False)).lower() == "true"
    regions = describe_regions(self.current_account, self.partition, list(names), all_regions, self._filters_from_querystring())
    return ActionResult({"Regions": regions})


# ---------------------------------------------------------------- Account Management


def _account_error(code: str, message: str):
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(code, message)


def _target_account(self: Any) -> str:
    """The account the call acts on: the caller's, or a member of the organization it manages."""
    from moto.organizations.models import organizations_backends

    caller = self.current_account
    named = self._get_param("AccountId")
    if not named:
        return caller
    if named == caller:
        raise _account_error(
            "ValidationException",
            "The AccountId parameter names the caller's own account: call the operation without AccountId to act on your own account.",
        )
    for by_partition in list(organizations_backends.values()):
        for backend in list(by_partition.values()):
            org = getattr(backend, "org", None)
            if org is None or org.master_account_id != caller or not any(a.id == named for a in backend.accounts):
                continue
            if not any(s.get("ServicePrincipal") == "account.amazonaws.com" for s in backend.services):
                raise _account_error(
                    "AccessDeniedException",
                    "Trusted access for AWS Account Management (account.amazonaws.com) is not enabled in the organization.",
                )
            return named
    raise _account_error("AccessDeniedException", f"The caller is not authorized to access account {named}.")


def _region_name(self: Any) -> str:
    region = self._get_param("RegionName")
    if not isinstance(region, str) or not region:
        raise _account_error("ValidationException", "RegionName must be specified.")
    if region not in partition_regions(self.partition):
        raise _account_error("ValidationException", f"Invalid Region name: {region}.")
    return region


_JSON = {"Content-Type": "application/json"}


def _respond_get_region_opt_status(self: Any) -> tuple[str, dict]:
    account = _target_account(self)
    region = _region_name(self)
    return json.dumps({"RegionName": region, "RegionOptStatus": status(account, region)}), dict(_JSON)


def _respond_list_regions(self: Any) -> tuple[str, dict]:
    account = _target_account(self)
    wanted = self._get_param("RegionOptStatusContains") or []
    for value in wanted:
        if value not in OPT_STATUSES:
            raise _account_error("ValidationException", f"Invalid RegionOptStatus: {value}.")
    max_results = self._get_param("MaxResults")
    if max_results is not None and not (isinstance(max_results, int) and 1 <= max_results <= 50):
        raise _account_error("ValidationException", "MaxResults must be between 1 and 50.")
    regions = [{"RegionName": r, "RegionOptStatus": status(account, r)} for r in partition_regions(self.partition)]
    regions = [r for r in regions if not wanted or r["RegionOptStatus"] in wanted]
    start = 0
    token = self._get_param("NextToken")
    if token:
        try:
            start = int(token)
        except ValueError:
            raise _account_error("ValidationException", "The NextToken is invalid.") from None
    size = max_results or 50
    body: dict[str, Any] = {"Regions": regions[start : start + size]}
    if start + size < len(regions):
        body["NextToken"] = str(start + size)
    return json.dumps(body), dict(_JSON)


# ---------------------------------------------------------------- refusing calls


def _protocol(response: Any) -> str:
    from moto.core.utils import get_service_model

    try:
        return str(get_service_model(response.boto3_service_name).protocol)
    except Exception:
        return "json"


def _answer(response: Any, protocol: str, code: str, message: str, status_code: int, namespace: str = "") -> tuple[int, dict, str]:
    request_id = secrets.token_hex(16)
    headers = dict(response.response_headers)
    if protocol == "ec2":
        headers["Content-Type"] = "text/xml"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        return status_code, headers, body
    if protocol in ("query", "rest-xml"):
        headers["Content-Type"] = "text/xml"
        xmlns = f' xmlns="{namespace}"' if namespace else ""
        body = (
            f"<ErrorResponse{xmlns}><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return status_code, headers, body
    headers["Content-Type"] = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
    headers["x-amzn-ErrorType"] = code
    headers["x-amzn-RequestId"] = request_id
    return status_code, headers, json.dumps({"__type": code, "message": message})


def _refuses(account: str, region: str) -> bool:
    if usable(account, region):
        return False
    return control.setting(_SECTION, account, "refuse_calls", True) is not False


def _role_account(response: Any) -> str | None:
    arn = response._get_param("RoleArn") or ""
    parts = str(arn).split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def refusal(response: Any) -> tuple[int, dict, str] | None:
    """None when the call may go on; otherwise AWS's answer to a call in a Region the account
    has not enabled."""
    try:
        region = response.region
        if not region or not is_opt_in(region):
            return None
        if not response.headers.get("Authorization"):
            return None  # unsigned: nothing was presented for this Region
        if response.service_name in global_services():
            return None  # reached at the global endpoint on AWS, whatever the client's Region
        account = response.current_account
    except Exception:
        return None
    if response.service_name == "sts":
        accounts = [account]
        try:
            action = response._get_action()
        except Exception:
            action = None
        if action in STS_ISSUING:
            role_account = _role_account(response)
            if role_account:
                accounts.append(role_account)
        for asked in accounts:
            if _refuses(asked, region):
                return _answer(
                    response, "query", "RegionDisabledException",
                    f"STS is not activated in this region for account:{asked}. Your account administrator can activate STS in this region using the IAM Console.",
                    403, "https://sts.amazonaws.com/doc/2011-06-15/",
                )
        return None
    if not _refuses(account, region):
        return None
    protocol = _protocol(response)
    if protocol == "ec2":
        return _answer(response, protocol, "AuthFailure", "AWS was not able to validate the provided access credentials", 401)
    message = "The security token included in the request is invalid."
    if protocol == "json":
        return _answer(response, protocol, "UnrecognizedClientException", message, 400)
    if protocol == "rest-json":
        return _answer(response, protocol, "UnrecognizedClientException", message, 403)
    return _answer(response, protocol, "InvalidClientTokenId", message, 403)


# ---------------------------------------------------------------- install


def install() -> None:
    from moto.account import urls as account_urls
    from moto.account.responses import AccountResponse
    from moto.core.responses import BaseResponse
    from moto.ec2.responses import EC2Response

    if getattr(BaseResponse, "_byoc_region_opt_in", False):
        return
    EC2Response.describe_regions = _respond_describe_regions  # type: ignore[method-assign]
    AccountResponse.get_region_opt_status = _respond_get_region_opt_status  # type: ignore[attr-defined]
    AccountResponse.list_regions = _respond_list_regions  # type: ignore[attr-defined]
    for route in ("{0}/getRegionOptStatus$", "{0}/listRegions$"):
        account_urls.url_paths.setdefault(route, AccountResponse.dispatch)

    original = BaseResponse.call_action

    def call_action(self: Any) -> Any:
        answer = refusal(self)
        if answer is not None:
            return answer
        return original(self)

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
    BaseResponse._byoc_region_opt_in = True  # type: ignore[attr-defined]
