//! The order sweep-dangling deletes an install's resources in (filled in by issue 6).
