"""The AWS Price List Query API's GetProducts, which moto does not have, served from AWS's own
price list records (pricing_data.json: where each record comes from, when it was taken, and
which records are reconstructed).

AWS documentation followed:
- AWS Price List API reference, GetProducts
  https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html
  and the Filter type (TERM_MATCH, EQUALS, CONTAINS, ANY_OF, NONE_OF), as botocore's
  pricing-2017-10-15 model ships them: JSON 1.1, X-Amz-Target AWSPriceListService.GetProducts,
  signing name `pricing`; ServiceCode required; Filters (up to 50) of Type/Field/Value;
  FormatVersion "aws_v1"; MaxResults 1..100; NextToken. PriceList is a list of JSON *strings*,
  each one product record {product: {productFamily, attributes, sku}, serviceCode, terms,
  version, publicationDate}, serialized compactly (the reference's and botocore's example).
- Billing User Guide, "Finding services and products using AWS Price List Query API"
  (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-price-list-query-api.html:
  "The AWS Region is the API endpoint for the Price List Query API. The endpoints aren't related
  to product or service attributes.") and botocore's endpoints.json (api.pricing, aws partition:
  us-east-1, eu-central-1, ap-south-1; older SDK documentation, e.g. aws-sdk-pricing 0.24 on
  docs.rs, names only https://api.pricing.us-east-1.amazonaws.com and
  https://api.pricing.ap-south-1.amazonaws.com): each answers with the same global price list.

What AWS does that the stack models, the stricter reading where the documentation says nothing:
- A region without a Price List endpoint has no host to connect to: SDKs fail with "Could not
  connect to the endpoint URL" / getaddrinfo ENOTFOUND (boto/boto3#1917, aws-sdk-js-v3#5001).
  Locally every region reaches the same server, so a GetProducts signed for any other region
  (eu-west-1, us-west-2, ...) gets no HTTP answer at all: the connection is closed as the
  request arrives and the client sees a connection failure, as it would in AWS. (A request that
  did reach a real endpoint signed for another region is refused with InvalidSignatureException
  "Credential should be scoped to a valid region" (aws/aws-sdk-go#1915); the connection failure
  is what a client configured with that region meets first.) The China and ISO partitions'
  endpoints are not modelled: the stack holds no price data of theirs, so they are refused alike.
- ServiceCode: empty -> InvalidParameterException "Input Parameters are invalid. serviceCode
  cannot be null or empty" (aws/aws-sdk-js#3329); characters other than a-z, A-Z, 0-9 ->
  InvalidParameterException "ServiceCode can only contain a-z, A-Z, 0-9" (cloud-barista/
  cb-spider#1055); a well-formed code the price list does not know -> NotFoundException (the
  operation's documented "The requested resource can't be found."; AWS's exact answer is not
  documented, and an error is stricter than an empty list). Service codes the stack holds no
  records for count as unknown: AmazonEC2, AmazonEKS, AmazonVPC and AWSELB are held.
- Filters: Field is "ServiceCode", "productFamily", "termType", "sku" or an attribute name,
  matched case-sensitively (AWS may be more lenient about case; exact is the stricter reading);
  TERM_MATCH and EQUALS compare the whole value, CONTAINS a substring, ANY_OF / NONE_OF a
  comma-separated list of values (how AWS separates them is not documented). A product lacking the field does not match (NONE_OF included).
  An unknown Type, an empty Field or Value, or more than 50 filters -> InvalidParameterException.
- FormatVersion other than aws_v1, MaxResults outside 1..100 -> InvalidParameterException.
  NextToken is opaque and bound to its query: a token that is not one of ours, or is replayed
  with other parameters -> InvalidNextTokenException.

IAM: pricing:GetProducts names no resource type in the Service Authorization Reference, so an
assumed-role caller is authorized on "*" (iam_resolvers' `pricing` entry; iam_enforce denies
with AccessDeniedException as for every JSON API).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import socket
import struct
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

LOG = logging.getLogger("byoc.pricing")
DATA = Path(__file__).with_name("pricing_data.json")

# The aws partition's Price List Query API endpoints (Billing User Guide; botocore endpoints.json).
ENDPOINT_REGIONS = frozenset({"us-east-1", "eu-central-1", "ap-south-1"})
FORMAT_VERSION = "aws_v1"
MAX_RESULTS = 100
MAX_FILTERS = 50
FILTER_TYPES = ("TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF")
_SERVICE_CODE = re.compile(r"^[A-Za-z0-9]+$")
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")


# ---------------------------------------------------------------- the price list


@lru_cache(maxsize=1)
def records() -> tuple[dict[str, Any], ...]:
    """The product records, in the data file's order (GetProducts pages through them so)."""
    return tuple(entry["record"] for entry in json.loads(DATA.read_text())["records"])


def service_codes() -> frozenset[str]:
    return frozenset(r["serviceCode"] for r in records())


def _field_value(record: dict[str, Any], field: str) -> str | list[str] | None:
    product = record["product"]
    if field == "ServiceCode":
        return record["serviceCode"]
    if field == "productFamily":
        return product.get("productFamily")
    if field == "sku":
        return product["sku"]
    if field == "termType":
        return list(record.get("terms", {}))  # a product matches a term type it is offered under
    value = product.get("attributes", {}).get(field)
    return value if isinstance(value, str) else None


def _matches(record: dict[str, Any], flt: dict[str, str]) -> bool:
    value = _field_value(record, flt["Field"])
    if value is None:
        return False
    values = value if isinstance(value, list) else [value]
    wanted = flt["Value"]
    kind = flt["Type"]
    if kind in ("TERM_MATCH", "EQUALS"):
        return wanted in values
    if kind == "CONTAINS":
        return any(wanted in v for v in values)
    listed = {w.strip() for w in wanted.split(",")}
    if kind == "ANY_OF":
        return any(v in listed for v in values)
    return not any(v in listed for v in values)  # NONE_OF


# ---------------------------------------------------------------- errors


def _error(code: str, message: str):
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(code, message)


def _invalid(message: str):
    return _error("InvalidParameterException", message)


def _bad_token():
    return _error("InvalidNextTokenException", "The pagination token is invalid. Try again without a pagination token.")


# ---------------------------------------------------------------- GetProducts


def _validated_filters(raw: Any) -> list[dict[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _invalid("Input Parameters are invalid. Filters must be a list.")
    if len(raw) > MAX_FILTERS:
        raise _invalid(f"Input Parameters are invalid. A request can have at most {MAX_FILTERS} filters.")
    filters = []
    for flt in raw:
        if not isinstance(flt, dict):
            raise _invalid("Input Parameters are invalid. A filter must have Type, Field and Value.")
        kind, field, value = flt.get("Type"), flt.get("Field"), flt.get("Value")
        if kind not in FILTER_TYPES:
            raise _invalid(f"Input Parameters are invalid. Filter Type {kind!r} is not one of {', '.join(FILTER_TYPES)}.")
        if not isinstance(field, str) or not field or not isinstance(value, str) or not value:
            raise _invalid("Input Parameters are invalid. A filter's Field and Value cannot be null or empty.")
        filters.append({"Type": kind, "Field": field, "Value": value})
    return filters


def _query_key(service_code: str, filters: list[dict[str, str]], max_results: int) -> str:
    canonical = json.dumps([service_code, filters, max_results], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def _token(offset: int, key: str) -> str:
    return base64.b64encode(json.dumps({"o": offset, "q": key}).encode()).decode()


def _offset(token: str, key: str) -> int:
    try:
        decoded = json.loads(base64.b64decode(token.encode(), validate=True))
        offset = int(decoded["o"])
    except Exception:
        raise _bad_token() from None
    if decoded.get("q") != key or offset < 0:
        raise _bad_token()
    return offset


def get_products(params: dict[str, Any]) -> dict[str, Any]:
    service_code = params.get("ServiceCode")
    if not isinstance(service_code, str) or not service_code:
        raise _invalid("Input Parameters are invalid. serviceCode cannot be null or empty")
    if not _SERVICE_CODE.match(service_code):
        raise _invalid("ServiceCode can only contain a-z, A-Z, 0-9")
    format_version = params.get("FormatVersion")
    if format_version is not None and format_version != FORMAT_VERSION:
        raise _invalid(f"Input Parameters are invalid. FormatVersion {format_version!r} is not supported; valid values are: {FORMAT_VERSION}")
    max_results = params.get("MaxResults", MAX_RESULTS)
    if not isinstance(max_results, int) or isinstance(max_results, bool) or not 1 <= max_results <= MAX_RESULTS:
        raise _invalid(f"Input Parameters are invalid. MaxResults must be between 1 and {MAX_RESULTS}.")
    filters = _validated_filters(params.get("Filters"))
    key = _query_key(service_code, filters, max_results)
    offset = _offset(params["NextToken"], key) if params.get("NextToken") else 0
    if service_code not in service_codes():
        raise _error("NotFoundException", f"The requested resource can't be found: service code {service_code} is not in the price list.")
    matching = [r for r in records() if r["serviceCode"] == service_code and all(_matches(r, f) for f in filters)]
    page = matching[offset : offset + max_results]
    body: dict[str, Any] = {
        "FormatVersion": FORMAT_VERSION,
        "PriceList": [json.dumps(r, separators=(",", ":")) for r in page],
    }
    if offset + max_results < len(matching):
        body["NextToken"] = _token(offset + max_results, key)
    return body


# ---------------------------------------------------------------- serving


def signed_region(headers: Any) -> str | None:
    """The region of a SigV4 request's credential scope (None when unsigned)."""
    match = _CREDENTIAL_SCOPE.search(headers.get("Authorization", "") or "")
    return match.group(1) if match else None


def _drop_connection(request: Any) -> None:
    """No answer at all: the socket is shut down under the server, whose write then fails and
    is taken as a dropped connection (werkzeug's run_wsgi). SO_LINGER 0 makes the close a reset,
    as a connection to nowhere ends."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _make_response_class():
    from moto.core.responses import BaseResponse

    class PricingResponse(BaseResponse):
        def __init__(self) -> None:
            super().__init__(service_name="pricing")

        def _params(self) -> dict[str, Any]:
            try:
                params = json.loads(self.body or "{}")
            except ValueError:
                raise _error("SerializationException", "The request body is not valid JSON.") from None
            return params if isinstance(params, dict) else {}

        def get_products(self) -> tuple[str, dict]:
            return json.dumps(get_products(self._params())), {"Content-Type": "application/x-amz-json-1.1"}

    return PricingResponse


def _handler(request: Any, full_url: str, headers: Any) -> Any:
    region = signed_region(request.headers)
    if region is not None and region not in ENDPOINT_REGIONS:
        LOG.warning(
            "pricing: AWS has no Price List Query API endpoint in %s (only %s); closing the connection without an answer",
            region,
            ", ".join(sorted(ENDPOINT_REGIONS)),
        )
        _drop_connection(request)
        return 400, {"Content-Type": "text/plain"}, "no Price List endpoint in this region"
    return _response_class.dispatch(request, full_url, headers)


_response_class: Any = None

# moto's URL conventions (moto.<service>.urls): the backend finds these through `_url_module`.
url_bases = [r"https?://(api\.)?pricing\.(.+)\.amazonaws\.com"]
url_paths = {"{0}/$": _handler}


def install() -> None:
    global _response_class
    import moto.backend_index as backend_index
    from moto.core.base_backend import BackendDict, BaseBackend

    if "moto.pricing" in sys.modules:
        return
    _response_class = _make_response_class()

    class PricingBackend(BaseBackend):
        """Holds nothing: the price list is global and read-only."""

        @property
        def _url_module(self) -> Any:  # type: ignore[override]
            return sys.modules[__name__]

    module = type(sys)("moto.pricing")
    module.pricing_backends = BackendDict(PricingBackend, "pricing")  # type: ignore[attr-defined]
    module.__doc__ = "The Price List Query API (byoc moto_ext.pricing)."
    # moto.backends.get_backend("pricing") imports moto.pricing; the server finds the backend
    # for a request signed for `pricing` (host pricing.<region>.amazonaws.com) by this pattern.
    sys.modules["moto.pricing"] = module
    backend_index.backend_url_patterns.append(("pricing", re.compile(url_bases[0])))
