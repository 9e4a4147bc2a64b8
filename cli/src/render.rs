//! How the API's answers read in a terminal.

use serde_json::Value;

fn s(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}

pub fn tenant(t: &Value) -> String {
    format!(
        "tenant       {}\nname         {}\nemail        {}\nexternal id  {}\n\nSend your customer this link to create the access stack in their account:\n{}",
        s(&t["tenant_id"]),
        s(&t["name"]),
        s(&t["email"]),
        s(&t["external_id"]),
        s(&t["customer_setup"]["quick_create_url"])
    )
}

pub fn accepted(a: &Value) -> String {
    format!(
        "install {} {}\nexecution {}",
        s(&a["install_id"]),
        s(&a["status"]),
        s(&a["execution_arn"])
    )
}

pub fn install(i: &Value) -> String {
    let mut out = format!(
        "install  {}\ntenant   {}\naccount  {}\nregion   {}\nstatus   {}\nstep     {}\n",
        s(&i["install_id"]),
        s(&i["tenant_id"]),
        s(&i["account_id"]),
        s(&i["region"]),
        s(&i["status"]),
        s(&i["current_step"])
    );
    if let Some(error) = i["last_error"].as_object() {
        out.push_str(&format!(
            "error    {} at {}: {}\n",
            s(&error["code"]),
            s(&error["step"]),
            s(&error["message"])
        ));
    }
    if let Some(resources) = i["resources"].as_object().filter(|r| !r.is_empty()) {
        out.push_str("\nresources\n");
        for (name, value) in resources {
            out.push_str(&format!("  {name:<20} {}\n", s(value)));
        }
    }
    out.push_str("\ntimeline\n");
    for line in crate::timeline::lines(i) {
        out.push_str(&format!("  {line}\n"));
    }
    out.trim_end().to_owned()
}

pub fn install_list(list: &Value) -> String {
    let mut out = format!(
        "{:<32} {:<13} {:<10} {:<15} {}\n",
        "INSTALL", "ACCOUNT", "STATUS", "REGION", "CREATED"
    );
    for i in list["installs"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<32} {:<13} {:<10} {:<15} {}\n",
            s(&i["install_id"]),
            s(&i["account_id"]),
            s(&i["status"]),
            s(&i["region"]),
            s(&i["created_at"])
        ));
    }
    if let Some(next) = list["next_cursor"].as_str() {
        out.push_str(&format!("more: --cursor {next}\n"));
    }
    out.trim_end().to_owned()
}

/// One line per check (its status, name and finding) with what to do under it, then what the
/// install would use.
pub fn preflight(report: &Value) -> String {
    let mut out = String::new();
    for check in report["checks"].as_array().into_iter().flatten() {
        let mark = match s(&check["status"]) {
            "passed" => "ok  ",
            "warning" => "warn",
            "failed" => "FAIL",
            _ => "skip",
        };
        out.push_str(&format!(
            "{mark}  {:<19} {}\n",
            s(&check["check"]),
            s(&check["message"])
        ));
        if let Some(advice) = check["advice"].as_str() {
            out.push_str(&format!("      {:<19} -> {advice}\n", ""));
        }
    }
    let zones: Vec<&str> = report["zones"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let estimate = &report["estimate"];
    if estimate.is_object() {
        out.push_str("\nmonthly cost (AWS Price List, 730 hours a month)\n");
        for line in estimate["lines"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  {:<62} {:>10.2} USD  ({} {} at {} USD)\n",
                s(&line["item"]),
                line["monthly_usd"].as_f64().unwrap_or_default(),
                line["quantity"],
                s(&line["unit"]),
                line["unit_price_usd"]
            ));
        }
        out.push_str(&format!(
            "  {:<62} {:>10.2} USD\n",
            "total",
            estimate["monthly_total_usd"].as_f64().unwrap_or_default()
        ));
        for usage in estimate["plus_usage"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  plus {}: {} USD per {}\n",
                s(&usage["item"]),
                usage["unit_price_usd"],
                s(&usage["unit"])
            ));
        }
        for missing in estimate["missing"].as_array().into_iter().flatten() {
            out.push_str(&format!("  no price for {}\n", s(missing)));
        }
    }
    out.push_str(&format!(
        "\nzones {}  vpc {}  kubernetes {}\n{}",
        if zones.is_empty() {
            "-".to_owned()
        } else {
            zones.join(", ")
        },
        s(&report["vpc_cidr"]),
        s(&report["kubernetes_version"]),
        if report["ok"] == true {
            "ready to install"
        } else {
            "not ready: see FAIL and skip above"
        }
    ));
    out
}
