//! What a call talks to: the vendor account's store and access, built once per process
//! ([`Deps`]), and one install's customer-account clients, built once per pass ([`Clients`]).

use aws_config::SdkConfig;
use byoc_core::customer_access::CustomerAccess;
use byoc_core::store::InstallStore;

use crate::kubernetes::KubeApi;
use crate::settings::ScheduleSettings;

pub struct Deps {
    pub store: InstallStore,
    /// The vendor-account config; the customer config derives from it per call.
    pub base: SdkConfig,
    pub access: CustomerAccess,
    pub schedule: ScheduleSettings,
    /// The sweep's queue: a scheduled run sends the installs owed a sweep there.
    pub sqs: aws_sdk_sqs::Client,
    pub fleet: byoc_core::fleet::FleetSettings,
    /// Clean sweeps in a row that retire a removed install.
    pub retire_after: u32,
}

/// The install's customer-account clients, built once per invocation.
pub struct Clients {
    pub config: SdkConfig,
    /// The install's cluster's Kubernetes API, once discovery has looked (None: not serving).
    pub kube: tokio::sync::OnceCell<Option<KubeApi>>,
    pub ec2: aws_sdk_ec2::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub classic_elb: aws_sdk_elasticloadbalancing::Client,
    pub eks: aws_sdk_eks::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            config: config.clone(),
            kube: tokio::sync::OnceCell::new(),
            ec2: aws_sdk_ec2::Client::new(config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
            classic_elb: aws_sdk_elasticloadbalancing::Client::new(config),
            eks: aws_sdk_eks::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(config),
        }
    }
}
