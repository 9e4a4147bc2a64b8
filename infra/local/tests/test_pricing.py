"""The Price List Query API on the local stack (moto_ext/pricing.py): GetProducts over AWS's
own price list records, its filters and pages, only at AWS's Price List endpoints, and
authorized as IAM does."""

from __future__ import annotations

import json
import uuid

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from conftest import CUSTOMER_ACCOUNT, VENDOR_ACCOUNT, refused


def pricing(stack, region: str = "us-east-1", **credentials):
    return boto3.client(
        "pricing",
        endpoint_url=stack.endpoint,
        region_name=region,
        aws_access_key_id=credentials.get("aws_access_key_id", "test"),
        aws_secret_access_key=credentials.get("aws_secret_access_key", "test"),
        aws_session_token=credentials.get("aws_session_token"),
        config=Config(retries={"max_attempts": 1}, read_timeout=30),
    )


def term(field: str, value: str, kind: str = "TERM_MATCH") -> dict:
    return {"Type": kind, "Field": field, "Value": value}


def products(client, service: str, *filters: dict, **kwargs) -> list[dict]:
    answer = client.get_products(ServiceCode=service, Filters=list(filters), FormatVersion="aws_v1", **kwargs)
    assert answer["FormatVersion"] == "aws_v1"
    assert all(isinstance(item, str) for item in answer["PriceList"])  # JSON strings, as AWS sends them
    return [json.loads(item) for item in answer["PriceList"]]


def on_demand(record: dict) -> tuple[str, str]:
    """(USD price, unit) of a record's only On-Demand price dimension."""
    (term_,) = record["terms"]["OnDemand"].values()
    (dimension,) = term_["priceDimensions"].values()
    return dimension["pricePerUnit"]["USD"], dimension["unit"]


def test_pricing_eks_standard_and_extended_support_are_separate_products(stack):
    client = pricing(stack)
    region = term("regionCode", "us-east-1")
    (standard,) = products(client, "AmazonEKS", region, term("usagetype", "USE1-AmazonEKS-Hours:perCluster"))
    (extended,) = products(client, "AmazonEKS", region, term("operation", "ExtendedSupport"))
    assert standard["product"]["sku"] != extended["product"]["sku"]
    assert on_demand(standard)[0] == "0.1000000000"
    assert on_demand(extended)[0] == "0.5000000000"
    assert extended["product"]["attributes"]["usagetype"] == "USE1-AmazonEKS-Hours:extendedSupport"
    assert {"product", "serviceCode", "terms", "version", "publicationDate"} <= set(standard)
    assert standard["serviceCode"] == "AmazonEKS" and standard["product"]["productFamily"] == "Compute"


def test_pricing_nat_gateway_hours_and_processed_bytes(stack):
    client = pricing(stack)
    family = term("productFamily", "NAT Gateway")
    everything = products(client, "AmazonEC2", family, term("regionCode", "us-east-1"))
    assert len(everything) == 3  # hours, bytes, and the Regional NAT gateway's hours
    (hours,) = products(client, "AmazonEC2", family, term("usagetype", "NatGateway-Hours"))
    (processed,) = products(client, "AmazonEC2", family, term("usagetype", "NatGateway-Bytes"))
    assert on_demand(hours) == ("0.0450000000", "Hrs")
    assert on_demand(processed) == ("0.0450000000", "GB")
    assert hours["product"]["sku"] == "M2YSHUBETB3JX4M4"
    # CONTAINS and NONE_OF, the newer filter types
    assert len(products(client, "AmazonEC2", family, term("usagetype", "NatGateway-Hours", "CONTAINS"))) == 2
    (only_bytes,) = products(client, "AmazonEC2", family, term("regionCode", "us-east-1"), term("usagetype", "NatGateway-Hours,RegionalNatGateway-Hours", "NONE_OF"))
    assert only_bytes["product"]["sku"] == processed["product"]["sku"]


def test_pricing_m6i_large_linux_shared_in_us_east_1(stack):
    client = pricing(stack)
    (instance,) = products(
        client,
        "AmazonEC2",
        term("regionCode", "us-east-1"),
        term("instanceType", "m6i.large"),
        term("operatingSystem", "Linux"),
        term("tenancy", "Shared"),
        term("preInstalledSw", "NA"),
        term("capacitystatus", "Used"),
        term("termType", "OnDemand"),
    )
    assert instance["product"]["attributes"]["usagetype"] == "BoxUsage:m6i.large"
    assert on_demand(instance) == ("0.0960000000", "Hrs")
    assert products(client, "AmazonEC2", term("instanceType", "m6i.large"), term("regionCode", "eu-west-1")) == []
    # public IPv4 lives in AmazonVPC, load balancers in AWSELB (and in AmazonEC2's own offer)
    (ipv4,) = products(client, "AmazonVPC", term("usagetype", "USE1-PublicIPv4:InUseAddress"))
    assert on_demand(ipv4) == ("0.0050000000", "Hrs")
    alb = products(client, "AWSELB", term("productFamily", "Load Balancer-Application"), term("regionCode", "us-east-1"))
    assert sorted(on_demand(r) for r in alb) == [("0.0080000000", "LCU-Hrs"), ("0.0225000000", "Hrs")]
    nlb = products(client, "AWSELB", term("productFamily", "Load Balancer-Network"), term("regionCode", "us-east-1"), term("usagetype", "LCUUsage,LoadBalancerUsage", "ANY_OF"))
    assert len(nlb) == 2
    (gp3,) = products(client, "AmazonEC2", term("volumeApiName", "gp3"), term("regionCode", "us-east-2"))
    assert on_demand(gp3) == ("0.0800000000", "GB-Mo")


def test_pricing_pages_with_an_opaque_token_bound_to_its_query(stack):
    client = pricing(stack)
    first = client.get_products(ServiceCode="AmazonEC2", MaxResults=2)
    assert len(first["PriceList"]) == 2 and first["NextToken"]
    seen = [json.loads(p)["product"]["sku"] for p in first["PriceList"]]
    token = first["NextToken"]
    while token:
        page = client.get_products(ServiceCode="AmazonEC2", MaxResults=2, NextToken=token)
        seen += [json.loads(p)["product"]["sku"] for p in page["PriceList"]]
        token = page.get("NextToken")
    everything = [json.loads(p)["product"]["sku"] for p in client.get_products(ServiceCode="AmazonEC2")["PriceList"]]
    assert seen == everything and len(set(seen)) == len(seen) > 2
    paged = [json.loads(p)["product"]["sku"] for page in client.get_paginator("get_products").paginate(ServiceCode="AmazonEC2", PaginationConfig={"PageSize": 3}) for p in page["PriceList"]]
    assert paged == everything
    refused(lambda: client.get_products(ServiceCode="AmazonEKS", MaxResults=2, NextToken=first["NextToken"]), "InvalidNextTokenException")
    refused(lambda: client.get_products(ServiceCode="AmazonEC2", MaxResults=2, NextToken="not-a-token"), "InvalidNextTokenException")
    refused(lambda: client.get_products(ServiceCode="AmazonEC2", MaxResults=101), "InvalidParameterException")


def test_pricing_unknown_service_and_bad_parameters_are_refused_as_aws_does(stack):
    client = pricing(stack)
    refused(lambda: client.get_products(ServiceCode="AmazonNoSuchService"), "NotFoundException")
    message = refused(lambda: client.get_products(ServiceCode="Amazon EC2"), "InvalidParameterException")
    assert message == "ServiceCode can only contain a-z, A-Z, 0-9"
    refused(lambda: client.get_products(ServiceCode="AmazonEC2", FormatVersion="aws_v2"), "InvalidParameterException")
    refused(lambda: client.get_products(ServiceCode="AmazonEC2", Filters=[term("usagetype", "x", "REGEX")]), "InvalidParameterException")


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "ap-south-1"])
def test_pricing_is_served_at_each_aws_price_list_endpoint(stack, region):
    (record,) = products(pricing(stack, region), "AmazonEKS", term("usagetype", "USE1-AmazonEKS-Hours:perCluster"))
    assert record["product"]["attributes"]["regionCode"] == "us-east-1"  # the same global list everywhere


@pytest.mark.parametrize("region", ["us-west-2", "eu-west-1", "us-east-2"])
def test_pricing_in_a_region_without_an_endpoint_gets_no_answer(stack, region):
    """AWS has no api.pricing.<region> host there: the client cannot get an answer at all."""
    with pytest.raises((botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionError)):
        pricing(stack, region).get_products(ServiceCode="AmazonEKS")
    assert f"no Price List Query API endpoint in {region}" in stack.log()


def _role(stack, *statements) -> dict:
    iam = stack.client("iam", account=CUSTOMER_ACCOUNT)
    name = f"pricing-{uuid.uuid4().hex[:8]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{VENDOR_ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    creds = stack.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName=name)["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"], "aws_session_token": creds["SessionToken"]}


def test_pricing_get_products_is_authorized_as_iam_does(stack):
    without = _role(stack, {"Effect": "Allow", "Action": "ec2:DescribeRegions", "Resource": "*"})
    message = refused(lambda: pricing(stack, **without).get_products(ServiceCode="AmazonEKS"), "AccessDeniedException")
    assert "is not authorized to perform: pricing:GetProducts on resource: *" in message
    allowed = _role(stack, {"Effect": "Allow", "Action": "pricing:GetProducts", "Resource": "*"})
    assert pricing(stack, **allowed).get_products(ServiceCode="AmazonEKS")["PriceList"]
