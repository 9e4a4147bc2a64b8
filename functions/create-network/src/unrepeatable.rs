//! EC2 calls that carry no idempotency token (CreateVpc, CreateSubnet, CreateInternetGateway,
//! CreateRouteTable, AllocateAddress): if one took effect and its answer was lost (a reset
//! connection, a timeout, a 5xx after the work was done), sending it again makes a second
//! resource, which is what the SDK's own retry would do. So these go out once: a throttled
//! call, which EC2 refused before acting, is sent again here after a pause; any other failure
//! goes back to the step as `Transient`, and the step's next run finds by its tags what the
//! call made and adopts it.

use std::future::Future;
use std::time::Duration;

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

use crate::error::{ec2_error, CreateNetworkError};

/// Sends of one call at most (the first and the throttled ones).
const MAX_SENDS: u32 = 5;
const FIRST_PAUSE: Duration = Duration::from_millis(200);

/// The per-call configuration that turns the SDK's retries off.
pub fn one_attempt() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default()
        .retry_config(RetryConfig::standard().with_max_attempts(1))
}

/// Whether EC2 refused the call without acting on it.
pub fn refused_before_acting<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(byoc_core::aws::retryable::is_throttling)
}

/// Sends the call `send` makes (built with `.customize().config_override(one_attempt())`),
/// again only while EC2 throttles it; failures sorted as `ec2_error` sorts them.
pub async fn send_once<T, E, F, Fut>(action: &'static str, send: F) -> Result<T, CreateNetworkError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    send_pausing(action, FIRST_PAUSE, send).await
}

async fn send_pausing<T, E, F, Fut>(
    action: &'static str,
    first_pause: Duration,
    mut send: F,
) -> Result<T, CreateNetworkError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut pause = first_pause;
    let mut sends = 1;
    loop {
        match send().await {
            Err(err) if sends < MAX_SENDS && refused_before_acting(&err) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
                sends += 1;
            }
            result => return result.map_err(ec2_error(action)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::create_vpc::CreateVpcError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use byoc_domain::error::NamedError;
    use std::cell::Cell;

    fn service_error(code: &str, status: u16) -> SdkError<CreateVpcError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message("m").build();
        let raw = Response::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        SdkError::service_error(CreateVpcError::generic(meta), raw)
    }

    #[tokio::test]
    async fn a_throttled_call_is_sent_again_and_a_lost_answer_is_not() {
        let sends = Cell::new(0);
        let out = send_pausing("CreateVpc", Duration::from_millis(1), || {
            sends.set(sends.get() + 1);
            let n = sends.get();
            async move {
                if n < 3 {
                    Err(service_error("RequestLimitExceeded", 503))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(out.unwrap(), 3);

        let sends = Cell::new(0);
        let out: Result<u32, _> = send_pausing("CreateVpc", Duration::from_millis(1), || {
            sends.set(sends.get() + 1);
            async { Err(service_error("InternalError", 500)) }
        })
        .await;
        assert_eq!(
            sends.get(),
            1,
            "a 5xx may have acted: the step's next run looks first"
        );
        assert_eq!(out.unwrap_err().error_name(), "Transient");
    }

    #[tokio::test]
    async fn throttling_that_lasts_ends_as_transient() {
        let sends = Cell::new(0);
        let out: Result<u32, _> = send_pausing("CreateSubnet", Duration::from_millis(1), || {
            sends.set(sends.get() + 1);
            async { Err(service_error("RequestLimitExceeded", 503)) }
        })
        .await;
        assert_eq!(sends.get(), MAX_SENDS);
        assert_eq!(out.unwrap_err().error_name(), "Transient");
    }
}
