//! `infra/bench`: what an install costs in time, money and cold starts, measured on the local
//! stack. Each module is one measurement or one way of counting; `report` puts the figures
//! next to their targets (tests/src/bin/bench.rs runs them in order).

pub mod bill;
pub mod bill_report;
pub mod cold_start;
pub mod dynamodb_units;
pub mod fleet;
pub mod fleet_report;
pub mod function_logs;
pub mod history;
pub mod lag;
pub mod overhead;
pub mod preflight;
pub mod prices;
pub mod recording;
pub mod report;
pub mod session;
pub mod stats;
pub mod sweep_scale;
pub mod throughput;
pub mod upgrade;
pub mod upgrade_report;
