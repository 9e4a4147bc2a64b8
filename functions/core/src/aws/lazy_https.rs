//! The SDK's default HTTPS client, built on the first request instead of at client setup.
//!
//! Every `Client::new` (and `aws_config::load`, which makes an STS client for web identity)
//! validates its HTTP client by building a TLS connector, and the first connector loads the
//! system's whole trust store: on a Lambda cold start that was two thirds of the init time
//! (BENCHMARKS.md, cold start). A function needs TLS only once it calls AWS, so the connector
//! is made then, by the same builder the SDK uses by default (rustls with aws-lc, proxy from
//! the environment), once per process for each connector setting.

use std::sync::{Arc, OnceLock};

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{tls, Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// An [`HttpClient`] whose connectors are made when they first send a request.
#[derive(Debug, Clone)]
pub struct LazyHttpsClient {
    inner: SharedHttpClient,
}

impl LazyHttpsClient {
    /// The SDK's default HTTPS client (as `aws-smithy-runtime` builds it for the latest
    /// behavior version), made lazily.
    pub fn sdk_default() -> Self {
        let inner = Builder::new().build_with_connector_fn(|settings, components| {
            let mut builder = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ));
            builder.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                builder.set_sleep_impl(components.sleep_impl());
            }
            builder.set_proxy_config(Some(ProxyConfig::from_env()));
            builder.build()
        });
        Self { inner }
    }
}

impl HttpClient for LazyHttpsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LazyConnector {
            client: self.inner.clone(),
            settings: settings.clone(),
            components: components.clone(),
            connector: Arc::new(OnceLock::new()),
        })
    }

    // The default validation builds a connector (and so loads the trust store) only to see
    // that one can be built; the first request builds it with the same code.
}

#[derive(Debug)]
struct LazyConnector {
    client: SharedHttpClient,
    settings: HttpConnectorSettings,
    components: RuntimeComponents,
    connector: Arc<OnceLock<SharedHttpConnector>>,
}

impl HttpConnector for LazyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.connector
            .get_or_init(|| self.client.http_connector(&self.settings, &self.components))
            .call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sdk_clients_made_with_it_send_requests() {
        // A request to a closed local port must fail with a connect error (the connector was
        // built and used), not a panic or a configuration error.
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(LazyHttpsClient::sdk_default())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(aws_credential_types::Credentials::new(
                "AKIDTEST",
                "not-a-secret",
                None,
                None,
                "test",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        let sts = aws_sdk_sts::Client::new(&config);
        let err = sts
            .get_caller_identity()
            .send()
            .await
            .expect_err("nothing listens on port 9");
        let text = crate::aws::describe_sdk_error(&err);
        assert!(
            text.contains("dispatch failure") || text.contains("onnect"),
            "{text}"
        );
    }
}
