//! The bearer token an EKS cluster's Kubernetes API accepts for an IAM principal, made as
//! `aws eks get-token` and aws-iam-authenticator make it: a SigV4-presigned STS
//! GetCallerIdentity URL (query signature, 60 s, the cluster's name in the signed
//! `x-k8s-aws-id` header), base64url without padding, after `k8s-aws-v1.`. The API server
//! asks STS who signed it, then finds that principal's access entry
//! (https://docs.aws.amazon.com/eks/latest/userguide/cluster-auth.html,
//! https://github.com/kubernetes-sigs/aws-iam-authenticator#api-authorization-from-outside-a-cluster).
//! Nothing is sent anywhere here; the token is a secret and is never logged.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use byoc_domain::Error;

/// The header that binds a token to one cluster.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
const PREFIX: &str = "k8s-aws-v1.";

/// A token for `cluster` in `region`, signed with `credentials` at `now`.
pub fn token(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    now: SystemTime,
) -> Result<String, Error> {
    let identity: Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| Error::Corrupt(format!("EKS token signing parameters: {e}")))?
        .into();
    let base =
        format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let signable = SignableRequest::new(
        "GET",
        &base,
        [(CLUSTER_ID_HEADER, cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| Error::Corrupt(format!("EKS token request: {e}")))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| Error::Corrupt(format!("EKS token signature: {e}")))?
        .into_parts();
    let (_, query) = instructions.into_parts();
    let mut url =
        url::Url::parse(&base).map_err(|e| Error::Corrupt(format!("EKS token URL: {e}")))?;
    {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &query {
            pairs.append_pair(name, value);
        }
    }
    Ok(format!("{PREFIX}{}", base64url(url.as_str().as_bytes())))
}

/// base64url without padding (RFC 4648 §5), as the token format has it.
fn base64url(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(token: &str) -> String {
        let body = token
            .strip_prefix(PREFIX)
            .unwrap()
            .replace('-', "+")
            .replace('_', "/");
        let padded = format!("{body}{}", "=".repeat((4 - body.len() % 4) % 4));
        String::from_utf8(aws_smithy_types::base64::decode(padded).unwrap()).unwrap()
    }

    #[test]
    fn a_token_is_a_presigned_get_caller_identity_bound_to_the_cluster() {
        let credentials = Credentials::new(
            "ASIAEXAMPLE",
            "secret",
            Some("session+token/=".into()),
            None,
            "test",
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_765_000_000);
        let token = token(&credentials, "eu-west-1", "byoc-inst-a", now).unwrap();
        assert!(
            token.starts_with("k8s-aws-v1.")
                && !token.contains('=')
                && !token.contains('+')
                && !token.contains('/'),
            "{token}"
        );
        let url = url::Url::parse(&decode(&token)).unwrap();
        assert_eq!(url.host_str(), Some("sts.eu-west-1.amazonaws.com"));
        let query: std::collections::BTreeMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(query["Action"], "GetCallerIdentity");
        assert_eq!(query["Version"], "2011-06-15");
        assert_eq!(query["X-Amz-Expires"], "60");
        assert_eq!(query["X-Amz-SignedHeaders"], "host;x-k8s-aws-id");
        assert_eq!(query["X-Amz-Security-Token"], "session+token/=");
        assert!(
            query["X-Amz-Credential"].starts_with("ASIAEXAMPLE/"),
            "{}",
            query["X-Amz-Credential"]
        );
        assert_eq!(query["X-Amz-Signature"].len(), 64);
        assert!(!token.contains("secret"));
        let other = super::token(&credentials, "eu-west-1", "byoc-inst-b", now).unwrap();
        assert_ne!(token, other, "bound to the cluster");
    }
}
