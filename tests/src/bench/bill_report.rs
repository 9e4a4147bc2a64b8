//! The tables of a priced window (bill.rs): its lines, state transitions, functions,
//! DynamoDB and AWS calls, as BENCHMARKS.md shows them for the install and for the upgrade.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::bill::Bill;
use super::prices;

/// Dollars, with enough places for sub-cent figures.
pub fn usd(value: f64) -> String {
    if value >= 0.01 {
        format!("${value:.4}")
    } else {
        format!("${value:.6}")
    }
}

/// Everything of `b` but its introduction, which says what was modelled.
pub fn tables<M>(md: &mut String, b: &Bill<M>) {
    let _ = writeln!(
        md,
        "| item | quantity | unit price | cost |\n|---|---|---|---|"
    );
    for line in &b.lines {
        let quantity = if line.quantity.fract() == 0.0 {
            format!("{}", line.quantity)
        } else {
            format!("{:.4}", line.quantity)
        };
        let _ = writeln!(
            md,
            "| {} | {quantity} {} | {} | {} |",
            line.price.what,
            line.price.unit,
            line.price.quoted,
            usd(line.usd())
        );
    }
    let _ = writeln!(md, "| **total** | | | **{}** |", usd(b.total_usd()));
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &b.history.states {
        *states.entry(s.name.as_str()).or_default() += 1;
    }
    let states: Vec<String> = states.iter().map(|(n, c)| format!("{n} {c}")).collect();
    let _ = writeln!(
        md,
        "\nState transitions: {} ({} retries) — {}.",
        b.history.transitions(),
        b.history.retries(),
        states.join(", ")
    );
    let _ = writeln!(
        md,
        "\n| function | invocations | GB-s | median ms |\n|---|---|---|---|"
    );
    for (f, (n, gbs, ms)) in b.by_function() {
        let _ = writeln!(md, "| {f} | {n} | {gbs:.5} | {ms:.1} |");
    }
    let pessimistic: f64 = b
        .invocations
        .iter()
        .map(|i| i.memory_mb / 1024.0)
        .sum::<f64>()
        * prices::LAMBDA_ARM_GB_SECOND.usd;
    let _ = writeln!(
        md,
        "\nDurations are the local stack's (host release builds against the emulator); on AWS every call crosses the network. \
         Were every invocation to take a full second, Lambda duration would cost {} instead of {}.",
        usd(pessimistic),
        usd(b.line(&prices::LAMBDA_ARM_GB_SECOND).map_or(0.0, |l| l.usd()))
    );
    let requests: Vec<String> = b
        .dynamodb
        .requests
        .iter()
        .map(|(op, n)| format!("{op} {n}"))
        .collect();
    let _ = writeln!(
        md,
        "\nDynamoDB: {} requests ({}) → {:.1} WRU, {:.1} RRU, counted from the requests the emulator served (moto's recorder) with \
         item sizes tracked from the writes (tests/src/bench/dynamodb_units.rs; Query reads are an upper bound). SNS: {} publishes \
         (each one email). EventBridge: {} events (publish-events, one per timeline entry). Function logs: {} bytes.",
        b.dynamodb.request_count(),
        requests.join(", "),
        b.dynamodb.write_units,
        b.dynamodb.read_units,
        b.sns_publishes,
        b.events,
        b.log_bytes
    );
    let customer: usize = b.customer_calls.values().sum();
    let top: Vec<String> = {
        let mut calls: Vec<(&String, &usize)> = b.customer_calls.iter().collect();
        calls.sort_by(|a, b| b.1.cmp(a.1));
        calls
            .iter()
            .take(8)
            .map(|(k, n)| format!("{k} {n}"))
            .collect()
    };
    let _ = writeln!(
        md,
        "\nAWS calls in the customer's account: {customer} (most: {}).",
        top.join(", ")
    );
}
