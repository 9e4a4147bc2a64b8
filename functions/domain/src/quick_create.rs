//! The CloudFormation quick-create link a customer opens to create the installer's role.

use crate::external_id::ExternalId;
use crate::ids::{AccountId, Region};

pub struct QuickCreate<'a> {
    pub template_url: &'a str,
    pub stack_name: &'a str,
    pub role_name: &'a str,
    pub vendor_account: &'a AccountId,
    pub region: &'a Region,
}

impl QuickCreate<'_> {
    /// The console link with every parameter filled in. Holds the External ID: hand it only to
    /// the vendor, who passes it to its customer.
    pub fn link(&self, external_id: &ExternalId) -> String {
        let enc = |s: &str| urlencoding::encode(s).into_owned();
        format!(
            "https://{region}.console.aws.amazon.com/cloudformation/home?region={region}#/stacks/quickcreate\
             ?templateURL={template}&stackName={stack}&param_VendorAccountId={vendor}&param_ExternalId={external}&param_RoleName={role}",
            region = self.region,
            template = enc(self.template_url),
            stack = enc(self.stack_name),
            vendor = self.vendor_account,
            external = enc(external_id.reveal()),
            role = enc(self.role_name),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_carries_every_parameter_encoded() {
        let vendor = AccountId::parse("a", "123456789012").unwrap();
        let region = Region::parse("r", "us-east-1").unwrap();
        let external = ExternalId::generate().unwrap();
        let link = QuickCreate {
            template_url: "https://bucket.s3.amazonaws.com/customer-role.yaml?v=1&x=2",
            stack_name: "acme-byoc-access",
            role_name: "byoc-installer",
            vendor_account: &vendor,
            region: &region,
        }
        .link(&external);
        assert!(link.starts_with("https://us-east-1.console.aws.amazon.com/cloudformation/home?region=us-east-1#/stacks/quickcreate?"));
        assert!(link.contains("templateURL=https%3A%2F%2Fbucket.s3.amazonaws.com%2Fcustomer-role.yaml%3Fv%3D1%26x%3D2"));
        assert!(link.contains("&stackName=acme-byoc-access&param_VendorAccountId=123456789012"));
        assert!(link.contains(&format!("&param_ExternalId={}", external.reveal())));
        assert!(link.ends_with("&param_RoleName=byoc-installer"));
    }
}
