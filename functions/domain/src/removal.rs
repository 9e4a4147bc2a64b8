//! The uninstall's execution: named and recorded on the install before it is started, so a
//! repeated `DELETE /installs/{id}` (the vendor's retry after a lost answer or a 5xx) starts or
//! joins that one execution and never a second removal beside it.

use crate::ids::InstallId;

/// The install's resource naming its uninstall execution's ARN; present from the moment the
/// removal is requested. A failed install that carries it failed while being removed.
pub const UNINSTALL_EXECUTION_KEY: &str = "uninstall_execution_arn";

/// One execution per removal request, named after the record's version when it was requested
/// (each request changes the version, so names stay unique; a repeat finds the same name).
pub fn execution_name(install_id: &InstallId, requested_at_version: u64) -> String {
    format!("{install_id}-remove-{requested_at_version}")
}

/// The execution's name, the last part of its ARN.
pub fn name_of(execution_arn: &str) -> Option<&str> {
    execution_arn
        .rsplit_once(':')
        .map(|(_, name)| name)
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry_plan::execution_arn;

    #[test]
    fn the_name_is_read_back_from_the_arn_it_was_recorded_as() {
        let id = InstallId::parse("install_id", "inst-01jq7x8p2m4n6r8t0v2w4y6z8a").unwrap();
        let name = execution_name(&id, 7);
        assert_eq!(name, "inst-01jq7x8p2m4n6r8t0v2w4y6z8a-remove-7");
        let arn = execution_arn(
            "arn:aws:states:us-east-1:111122223333:stateMachine:byoc-uninstall",
            &name,
        )
        .unwrap();
        assert_eq!(name_of(&arn), Some(name.as_str()));
        assert_eq!(name_of("arn:aws:states:us-east-1:1:execution:m:"), None);
        assert_eq!(name_of("no-colon"), None);
    }
}
