//! Network planning: the VPC CIDR and subnets an install gets (filled in by issue 4).
