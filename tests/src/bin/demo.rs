//! The customer's side of the demo (`infra/demo` runs the vendor's side with the `byoc` CLI):
//!
//!   demo customer-stack <account-id> <external-id>   create the access stack, as the quick-create link would
//!   demo inbox-subscribe <tenant-id>                  an inbox receiving what the tenant's email receives
//!   demo inbox-read <tenant-id>                       print the emails received so far

use std::time::Duration;

use byoc_e2e::{Inbox, LocalStack};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(err) = run(&args).await {
        eprintln!("demo: {err}");
        std::process::exit(1);
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let stack = LocalStack::connect().await?;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["customer-stack", account, external_id] => {
            stack.customer(account).create_access_stack(&stack.outputs.vendor_account_id, external_id).await?;
            println!("    stack \"{}\" CREATE_COMPLETE in account {account}", stack.outputs.customer_stack_name);
            Ok(())
        }
        ["inbox-subscribe", tenant] => Inbox::for_tenant(&stack, tenant).await.map(|_| ()),
        ["inbox-read", tenant] => {
            let emails = Inbox::for_tenant(&stack, tenant).await?.wait_for(1, Duration::from_secs(20)).await?;
            if emails.is_empty() {
                return Err("no email arrived".into());
            }
            for email in emails {
                println!("    Subject: {}\n", email.subject);
                for line in email.body.lines() {
                    println!("    | {line}");
                }
                println!();
            }
            Ok(())
        }
        _ => Err("usage: demo customer-stack <account-id> <external-id> | inbox-subscribe <tenant-id> | inbox-read <tenant-id>".into()),
    }
}
