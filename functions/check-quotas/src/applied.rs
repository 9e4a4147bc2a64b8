//! The value of a quota that applies to the account: the account's own value where Service
//! Quotas has one, else the AWS default (GetServiceQuota answers NoSuchResourceException for
//! quotas that were never changed and have no applied value yet).

use aws_sdk_servicequotas::error::SdkError;
use aws_sdk_servicequotas::Client;
use byoc_core::quota_plan::Quota;

use crate::CheckQuotasError;

pub async fn applied_value(quotas: &Client, quota: &Quota) -> Result<f64, CheckQuotasError> {
    let applied = quotas
        .get_service_quota()
        .service_code(quota.service)
        .quota_code(quota.code)
        .send()
        .await;
    match applied {
        Ok(out) => return value_of(out.quota(), quota),
        Err(SdkError::ServiceError(e)) if e.err().is_no_such_resource_exception() => {}
        Err(err) => return Err(crate::aws_error("Service Quotas", err)),
    }
    let default = quotas
        .get_aws_default_service_quota()
        .service_code(quota.service)
        .quota_code(quota.code)
        .send()
        .await;
    match default {
        Ok(out) => value_of(out.quota(), quota),
        Err(SdkError::ServiceError(e)) if e.err().is_no_such_resource_exception() => {
            Err(CheckQuotasError::QuotaUnavailable(format!(
                "Service Quotas knows no quota {} {} ({}) in this region",
                quota.service, quota.code, quota.name
            )))
        }
        Err(err) => Err(crate::aws_error("Service Quotas", err)),
    }
}

fn value_of(
    found: Option<&aws_sdk_servicequotas::types::ServiceQuota>,
    quota: &Quota,
) -> Result<f64, CheckQuotasError> {
    found.and_then(|q| q.value()).ok_or_else(|| {
        CheckQuotasError::QuotaUnavailable(format!(
            "Service Quotas returned no value for {} {} ({})",
            quota.service, quota.code, quota.name
        ))
    })
}
