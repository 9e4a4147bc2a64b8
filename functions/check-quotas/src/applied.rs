//! The value of a quota that applies to the account (byoc_core::aws::vcpu_quota reads it: the
//! account's own value, else AWS's default); a quota Service Quotas does not know stops the check.

use aws_sdk_servicequotas::Client;
use byoc_domain::quota_plan::Quota;

use crate::CheckQuotasError;

pub async fn applied_value(quotas: &Client, quota: &Quota) -> Result<f64, CheckQuotasError> {
    byoc_core::aws::vcpu_quota::applied_value(quotas, quota)
        .await?
        .ok_or_else(|| {
            CheckQuotasError::QuotaUnavailable(format!(
                "Service Quotas knows no value of quota {} {} ({}) in this region",
                quota.service, quota.code, quota.name
            ))
        })
}
