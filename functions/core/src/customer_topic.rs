//! Emails to a customer go out through the vendor's SNS topic. Each tenant's email address is
//! subscribed with a filter on the `tenant_id` attribute, so a message reaches only the
//! customer it is about; the other attributes let the vendor route or audit them.

use aws_sdk_sns::types::MessageAttributeValue;

use byoc_domain::email::Email;
use byoc_domain::error::{Error, Result};
use byoc_domain::model::Install;

/// Publishes `email` about `install`, marked with `notice` (e.g. `ready`, `trust-lost`); the
/// SNS message id.
pub async fn publish(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    install: &Install,
    email: &Email,
    notice: &str,
) -> Result<String> {
    let attribute = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(|e| Error::Corrupt(e.to_string()))
    };
    let out = sns
        .publish()
        .topic_arn(topic_arn)
        .subject(&email.subject)
        .message(&email.body)
        .message_attributes("tenant_id", attribute(install.tenant_id.as_str())?)
        .message_attributes("install_id", attribute(install.install_id.as_str())?)
        .message_attributes("status", attribute(install.status.as_str())?)
        .message_attributes("notice", attribute(notice)?)
        .send()
        .await
        .map_err(|e| Error::aws("SNS", e))?;
    Ok(out.message_id.unwrap_or_default())
}
