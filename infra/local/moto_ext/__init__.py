"""In-process extensions of moto for the byoc-installer local AWS stack.

Each module patches one gap between moto and what the installer relies on AWS to do:
  sts_trust       AssumeRole checks that the role exists and trusts the caller
  lambda_runtime  Lambda Invoke runs this repo's functions (Lambda Runtime API host)
  api_gateway     REST APIs with Lambda proxy integrations are actually served
  dynamodb_atomic conditional writes and transactions are atomic under concurrency
  dynamodb_streams stream records reach mapped functions asynchronously, in order, retried
  dynamodb_transactions TransactWriteItems costs its items, not a copy of the table
  sqs_esm         SQS messages reach mapped functions through pollers: batches, delays,
                  visibility timeout, partial batch failures, dead-letter redrive
  sfn_callbacks   waitForTaskToken tasks: a token per attempt, SendTaskFailure's cause,
                  States.HeartbeatTimeout, TaskTimedOut for closed tasks' tokens
  eventbridge_ext  rule targets get the whole event (moto leaves out `account`)
  ec2_nat         NAT gateways stay pending for a steerable number of polls
  eks_ext         clusters take time, add-ons and access entries exist (eks_catalogue: the
                  version calendar against a steerable clock, and the add-on versions)
  eks_upgrade     version updates of clusters, node groups and add-ons, tracked as updates
                  (eks_node_update: how a node group's ends; eks_insights: upgrade insights)
  k8s_api         each cluster's Kubernetes API as EKS serves it (k8s_controllers: its AWS side;
                  k8s_lbc: the AWS Load Balancer Controller's part, with its pods' credentials)
  eks_pod_identity pod identity associations (own and add-ons'), controllers' credentials from them
                  (aws_managed_policies: AWS managed policies, CloudFormation ManagedPolicyArns)
  service_quotas  the quotas, usage and increase requests the installer checks
  sweep_support   what discovery and deletion of an install's leftovers need
  eks_made        what EKS and ELB make by themselves: the cluster security group, requester-
                  managed interfaces, node group instances; gone when their owner goes
  cloudformation_ext  the vendor stack's resources: state machine definitions from S3 with
                  substitutions, alarms, request validators
  cloudformation_iam  stack updates change roles (the customer's switches), AWS::NoValue in lists
  organizations_ext  DetachPolicy keeps an SCP on every level, as AWS does
  pricing         the Price List Query API (GetProducts) from AWS product records
  region_opt_in   opt-in regions per account (DescribeRegions, GetRegionOptStatus), and calls
                  into a region the account has not enabled refused as AWS refuses them
  request_log     which actions each assumed role calls (least-privilege evidence)
  iam_enforce     every assumed-role request authorized as IAM does (iam_context builds the
                  request context from AWS's data, iam_eval decides), denials as AWS answers
  control         tests steer the above per account through /moto-api/config
and, here, state machines made by CloudFormation land where executions run.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from . import cloudformation_ext, control, request_log, dynamodb_atomic, dynamodb_streams, eventbridge_ext, ec2_nat, eks_ext, lambda_runtime, service_quotas, sts_trust, sweep_support
from . import sfn_callbacks, sqs_esm
from . import dynamodb_transactions
from . import iam_enforce
from . import eks_made
from . import k8s_api
from . import eks_pod_identity
from . import eks_upgrade
from . import cloudformation_iam
from . import organizations_ext
from . import pricing, region_opt_in

# A client that sends AssumeRole as a GET would put the External ID in the request line
# that werkzeug logs; that secret must never reach a log.
_SECRET_PARAMS = re.compile(r"((?:ExternalId|SecretAccessKey|SessionToken)=)[^&\s\"]*", re.I)


class _RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_PARAMS.sub(r"\1REDACTED", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _cloudformation_state_machines_execute() -> None:
    """With execute_state_machine on, the Step Functions API uses moto's parser
    (executing) backend, but AWS::StepFunctions::StateMachine resources are still created
    in the plain backend, where the API cannot see them. Point the CloudFormation hooks,
    which look the backend up through this module global, at the executing one."""
    import moto.stepfunctions.models as plain
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    plain.stepfunctions_backends = stepfunctions_parser_backends  # type: ignore[assignment]


def install(state_dir: Path, moto_port: int) -> None:
    """Apply every extension; call before moto starts serving."""
    logging.getLogger("werkzeug").addFilter(_RedactSecrets())
    sts_trust.install(state_dir)
    dynamodb_transactions.install()  # before the two below: they wrap its transact_write_items
    dynamodb_streams.install()  # before dynamodb_atomic: its lock wraps our transaction hook
    dynamodb_atomic.install()
    sqs_esm.install()
    sfn_callbacks.install()
    eventbridge_ext.install()
    control.install()
    ec2_nat.install()
    eks_ext.install()
    service_quotas.install()
    pricing.install()
    sweep_support.install()
    eks_made.install()  # after eks_ext and sweep_support: wraps the one, hooks into the other
    k8s_api.install()
    eks_pod_identity.install()  # after eks_ext: wraps its CreateAddon/DeleteAddon
    eks_upgrade.install()  # after the EKS ones above: wraps their Describe* and CreateNodegroup
    lambda_runtime.install(state_dir, moto_port)
    _cloudformation_state_machines_execute()
    cloudformation_ext.install()
    cloudformation_iam.install()
    organizations_ext.install()
    iam_enforce.install(state_dir)
    region_opt_in.install()  # after iam_enforce: AWS authenticates (the Region) before it authorizes
    request_log.install(state_dir)  # wraps iam_enforce: a refused call is still evidence of a call
