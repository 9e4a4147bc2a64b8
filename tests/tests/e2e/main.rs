//! The end-to-end tests, one binary: each module drives the local AWS stack as a vendor and its
//! customer would. One binary, not one per file: each links every SDK client (about 80 MB in a
//! debug build), so two dozen of them cost CI gigabytes of disk and minutes of linking.

mod api;
mod api_concurrency;
mod api_hostile;
mod cli;
mod cluster;
mod crash;
mod customer_switch;
mod events;
mod fleet;
mod install_checks;
mod install_flow;
mod install_quotas;
mod install_store;
mod leftovers;
mod network;
mod preflight;
mod quotas;
mod retry;
mod sweep;
mod sweep_scheduled;
mod trust_failures;
mod uninstall;
mod upgrade;
mod upgrade_crash;
mod version_check;
mod watch_install;
mod webhook_destinations;
