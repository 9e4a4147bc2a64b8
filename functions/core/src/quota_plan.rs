//! Quota planning: what an install needs of each quota (filled in by issue 3).
