//! The demo: one install, end to end, on the local AWS stack, shown as it happens.
//! A vendor registers a tenant; the customer creates the access stack from the quick-create
//! template in their account; the vendor starts the install and watches each step; the
//! customer's email is printed at the end. Run through `infra/demo`.

use std::time::{Duration, Instant};

use byoc_e2e::{random_account_id, random_tenant_id, Api, Inbox, LocalStack};
use serde_json::json;

#[tokio::main]
async fn main() {
    if let Err(err) = run().await {
        eprintln!("demo failed: {err}");
        std::process::exit(1);
    }
}

fn say(text: &str) {
    println!("\n==> {text}");
}

async fn run() -> Result<(), String> {
    let stack = LocalStack::connect().await?;
    let api = Api::new(&stack);
    let tenant_id = random_tenant_id("demo");
    let account_id = random_account_id();

    say(&format!("Vendor registers tenant {tenant_id}: POST /tenants"));
    let tenant = api.post("/tenants", &json!({"tenant_id": tenant_id, "name": "Demo Customer Inc.", "email": "platform@demo-customer.example"})).await?;
    if tenant.status != 201 {
        return Err(format!("POST /tenants answered {}: {}", tenant.status, tenant.text));
    }
    let setup = &tenant.json["customer_setup"];
    println!("    quick-create link for the customer: {}", setup["quick_create_url"].as_str().unwrap_or_default().replace(tenant.json["external_id"].as_str().unwrap_or("-"), "<external-id>"));
    let inbox = Inbox::for_tenant(&stack, &tenant_id).await?;

    say(&format!("Customer creates stack \"{}\" in account {account_id} from cfn/customer-role.yaml", stack.outputs.customer_stack_name));
    stack
        .customer(&account_id)
        .create_access_stack(&stack.outputs.vendor_account_id, tenant.json["external_id"].as_str().unwrap_or_default())
        .await?;
    println!("    stack CREATE_COMPLETE");

    say(&format!("Vendor starts the install: POST /installs {{tenant_id: {tenant_id}, account_id: {account_id}, region: us-east-1}}"));
    let accepted = api.post("/installs", &json!({"tenant_id": tenant_id, "account_id": account_id, "region": "us-east-1"})).await?;
    if accepted.status != 202 {
        return Err(format!("POST /installs answered {}: {}", accepted.status, accepted.text));
    }
    let install_id = accepted.json["install_id"].as_str().unwrap_or_default().to_owned();
    println!("    202 {}", accepted.text);

    say(&format!("Watching GET /installs/{install_id}"));
    let start = Instant::now();
    let mut shown = 0;
    let final_status = loop {
        let install = api.get(&format!("/installs/{install_id}")).await?;
        let timeline = install.json["timeline"].as_array().cloned().unwrap_or_default();
        for event in timeline.iter().skip(shown) {
            println!(
                "    [{:>5.1}s] #{:<2} {:<15} {:<9} {}",
                start.elapsed().as_secs_f64(),
                event["seq"],
                event["step"].as_str().unwrap_or_default(),
                event["outcome"].as_str().unwrap_or_default(),
                event["message"].as_str().unwrap_or_default()
            );
        }
        shown = timeline.len();
        let status = install.json["status"].as_str().unwrap_or_default().to_owned();
        let notified = install.json["notified"].as_array().is_some_and(|n| n.iter().any(|x| x == status.as_str()));
        if (status == "ready" || status == "failed") && notified {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            return Err(format!("install still {status} after two minutes"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };

    say(&format!("Install {install_id} is {final_status}. The customer's email:"));
    let emails = inbox.wait_for(1, Duration::from_secs(20)).await?;
    for email in &emails {
        println!("    Subject: {}\n", email.subject);
        for line in email.body.lines() {
            println!("    | {line}");
        }
    }
    if final_status != "ready" || emails.is_empty() {
        return Err("the install did not reach ready with an email".into());
    }
    Ok(())
}
