//! The Service Quotas calls request-quota makes in the customer's account.

use aws_sdk_servicequotas::error::SdkError;
use aws_sdk_servicequotas::types::{RequestStatus, RequestedServiceQuotaChange};
use aws_sdk_servicequotas::Client;
use byoc_domain::quota_plan::Deficit;

use crate::{aws_error, RequestQuotaError};

/// The quota's applied value, or AWS's default where the account has none of its own.
pub async fn applied_value(
    quotas: &Client,
    deficit: &Deficit,
) -> Result<Option<f64>, RequestQuotaError> {
    match quotas
        .get_service_quota()
        .service_code(&deficit.service)
        .quota_code(&deficit.quota_code)
        .send()
        .await
    {
        Ok(out) => return Ok(out.quota().and_then(|q| q.value())),
        Err(SdkError::ServiceError(e)) if e.err().is_no_such_resource_exception() => {}
        Err(err) => return Err(aws_error(err)),
    }
    match quotas
        .get_aws_default_service_quota()
        .service_code(&deficit.service)
        .quota_code(&deficit.quota_code)
        .send()
        .await
    {
        Ok(out) => Ok(out.quota().and_then(|q| q.value())),
        Err(SdkError::ServiceError(e)) if e.err().is_no_such_resource_exception() => Ok(None),
        Err(err) => Err(aws_error(err)),
    }
}

/// A request by id; `None` when AWS no longer knows it.
pub async fn request(
    quotas: &Client,
    id: &str,
) -> Result<Option<RequestedServiceQuotaChange>, RequestQuotaError> {
    match quotas
        .get_requested_service_quota_change()
        .request_id(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.requested_quota),
        Err(SdkError::ServiceError(e)) if e.err().is_no_such_resource_exception() => Ok(None),
        Err(err) => Err(aws_error(err)),
    }
}

/// The newest open (PENDING or CASE_OPENED) request for the deficit's quota: AWS allows one
/// per quota, whoever filed it.
pub async fn open_request(
    quotas: &Client,
    deficit: &Deficit,
) -> Result<Option<RequestedServiceQuotaChange>, RequestQuotaError> {
    let history = quotas
        .list_requested_service_quota_change_history_by_quota()
        .service_code(&deficit.service)
        .quota_code(&deficit.quota_code)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws_error)?;
    Ok(history
        .into_iter()
        .filter(|r| {
            matches!(
                r.status(),
                Some(RequestStatus::Pending | RequestStatus::CaseOpened)
            )
        })
        .max_by_key(|r| r.created().map(|t| (t.secs(), t.subsec_nanos()))))
}

/// Files a request for the deficit's value, or finds the open one that beat us to it.
pub async fn file(
    quotas: &Client,
    deficit: &Deficit,
) -> Result<RequestedServiceQuotaChange, RequestQuotaError> {
    let filed = quotas
        .request_service_quota_increase()
        .service_code(&deficit.service)
        .quota_code(&deficit.quota_code)
        .desired_value(deficit.request_value as f64)
        .send()
        .await;
    match filed {
        Ok(out) => out
            .requested_quota
            .ok_or_else(|| aws_message("RequestServiceQuotaIncrease returned no request")),
        // Filed meanwhile by an earlier attempt of ours, or by the customer.
        Err(SdkError::ServiceError(e)) if e.err().is_resource_already_exists_exception() => {
            open_request(quotas, deficit).await?.ok_or_else(|| {
                aws_message(&format!(
                    "Service Quotas reports an open request for {} but lists none",
                    deficit.quota_code
                ))
            })
        }
        Err(err) => Err(aws_error(err)),
    }
}

fn aws_message(message: &str) -> RequestQuotaError {
    RequestQuotaError::Core(byoc_domain::Error::Aws {
        service: "Service Quotas",
        message: message.to_owned(),
    })
}
