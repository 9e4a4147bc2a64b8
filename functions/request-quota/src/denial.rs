//! What a customer can do when AWS refuses a quota increase.

use crate::QuotaRequest;

/// The install option that needs less of a quota, where there is one.
fn smaller_option(quota_code: &str) -> &'static str {
    match quota_code {
        "L-0263D0A3" | "L-FE5A380F" => "nat_mode \"single\" or a smaller az_count",
        "L-F678F1CE" | "L-A4707A72" => {
            "delete an unused VPC (and its internet gateway) in the region"
        }
        "L-69A177A2" => "load_balancer false, or delete an unused network load balancer",
        "L-1194D53C" | "L-6D54EA21" => "delete an unused EKS cluster in the region",
        _ => "a smaller node_max_size or node_instance_type",
    }
}

/// The QuotaDenied message: each denied quota, how to ask again, and what to change instead.
pub fn message(denied: &[&QuotaRequest]) -> String {
    let lines: Vec<String> = denied
        .iter()
        .map(|r| {
            format!(
                "{} ({} {}): AWS answered {} to a request for {} — request it in the Service Quotas console at {} (explain the use), or choose {}",
                r.quota_name,
                r.service,
                r.quota_code,
                r.aws_status.as_deref().unwrap_or("no"),
                r.desired_value,
                r.console_url,
                smaller_option(&r.quota_code)
            )
        })
        .collect();
    format!(
        "AWS did not approve {} quota increase(s): {}; then retry the install",
        denied.len(),
        lines.join("; ")
    )
}
