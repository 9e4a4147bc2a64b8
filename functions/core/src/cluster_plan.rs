//! Cluster planning: Kubernetes version, AMI type and add-on versions (filled in by issue 5).
