//! What the vendor's deployment configures for every cluster, read once at start.

use byoc_core::aws::env;
use byoc_domain::cidr::Ipv4Cidr;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The vendor role that deploys the vendor's software into the cluster; it gets an EKS
    /// access entry with cluster-admin.
    pub vendor_deploy_role_arn: String,
    // No KMS key setting: EKS envelope-encrypts all Kubernetes API data by default (EKS User
    // Guide, "Default envelope encryption for all Kubernetes API Data"), and a customer key
    // would have to live in each customer's account and region, not in the vendor's.
    /// Who may reach the public API endpoint.
    pub public_access_cidrs: Vec<String>,
}

impl Settings {
    /// Reads `VENDOR_DEPLOY_ROLE_ARN` and optional
    /// `CLUSTER_PUBLIC_ACCESS_CIDRS` (comma-separated, default `0.0.0.0/0`).
    pub fn from_env() -> Result<Self, byoc_domain::Error> {
        let optional = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Ok(Self {
            vendor_deploy_role_arn: env("VENDOR_DEPLOY_ROLE_ARN")?,
            public_access_cidrs: parse_cidrs(optional("CLUSTER_PUBLIC_ACCESS_CIDRS").as_deref())?,
        })
    }
}

fn parse_cidrs(value: Option<&str>) -> Result<Vec<String>, byoc_domain::Error> {
    let Some(value) = value else {
        return Ok(vec!["0.0.0.0/0".to_owned()]);
    };
    value
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<Ipv4Cidr>()
                .map(|cidr| cidr.to_string())
                .map_err(|e| {
                    byoc_domain::Error::Config(format!("CLUSTER_PUBLIC_ACCESS_CIDRS: {e}"))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_access_defaults_to_everyone_and_refuses_bad_blocks() {
        assert_eq!(parse_cidrs(None).unwrap(), ["0.0.0.0/0"]);
        assert_eq!(
            parse_cidrs(Some("203.0.113.0/24, 198.51.100.7/32")).unwrap(),
            ["203.0.113.0/24", "198.51.100.7/32"]
        );
        assert!(parse_cidrs(Some("203.0.113.1/24"))
            .unwrap_err()
            .to_string()
            .contains("host bits"));
    }
}
