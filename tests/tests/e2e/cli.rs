//! The `byoc` command line against the local stack, as an operator runs it: each subcommand,
//! JSON output that parses, a watched install to its end, and the exit codes scripts rely on.

use std::path::PathBuf;
use std::process::Output;

use byoc_e2e::{random_account_id, random_tenant_id, LocalStack};
use serde_json::Value;

fn byoc_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("debug").join("byoc");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --workspace --bins`",
        path.display()
    );
    path
}

async fn byoc(stack: &LocalStack, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(byoc_binary());
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("BYOC_API_URL", &stack.outputs.api_url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", &stack.outputs.region);
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

#[tokio::test]
async fn an_operator_creates_a_tenant_and_watches_an_install_to_ready() {
    let stack = LocalStack::connect().await.unwrap();
    let tenant_id = random_tenant_id("cli");
    let account = random_account_id();

    let created = byoc(
        &stack,
        &[
            "tenants",
            "create",
            "--tenant-id",
            &tenant_id,
            "--name",
            "CLI Co",
            "--email",
            "ops@cli.example",
            "--output",
            "json",
        ],
    )
    .await;
    assert!(created.status.success(), "{created:?}");
    let external_id = json(&created)["external_id"].as_str().unwrap().to_owned();
    let shown = byoc(&stack, &["tenants", "show", &tenant_id]).await;
    assert!(stdout(&shown).contains("quickcreate"), "{}", stdout(&shown));

    stack
        .customer(&account)
        .create_access_stack(&stack.outputs.vendor_account_id, &external_id)
        .await
        .unwrap();
    let watched = byoc(
        &stack,
        &[
            "installs",
            "create",
            "--tenant-id",
            &tenant_id,
            "--account-id",
            &account,
            "--region",
            "us-east-1",
            "--watch",
        ],
    )
    .await;
    let text = stdout(&watched);
    assert!(
        watched.status.success(),
        "exit {:?}: {text}\n{}",
        watched.status,
        String::from_utf8_lossy(&watched.stderr)
    );
    assert!(text.contains("validate-trust  succeeded"), "{text}");
    assert!(
        text.contains("time per step") && text.contains("is ready"),
        "{text}"
    );

    let listed = byoc(
        &stack,
        &[
            "installs",
            "list",
            "--tenant-id",
            &tenant_id,
            "--output",
            "json",
        ],
    )
    .await;
    let installs = json(&listed)["installs"].as_array().cloned().unwrap();
    assert_eq!(installs.len(), 1);
    let install_id = installs[0]["install_id"].as_str().unwrap();
    let show = byoc(
        &stack,
        &["installs", "show", install_id, "--output", "json"],
    )
    .await;
    assert_eq!(json(&show)["status"], "ready");
    let again = byoc(
        &stack,
        &["installs", "watch", install_id, "--output", "json"],
    )
    .await;
    assert!(again.status.success());
    let last_line: Value = serde_json::from_str(stdout(&again).lines().last().unwrap()).unwrap();
    assert_eq!(last_line["status"], "ready");
    assert!(
        last_line["step_seconds"]["validate-trust"].is_number(),
        "{last_line}"
    );

    let removed = byoc(&stack, &["installs", "remove", install_id, "--watch"]).await;
    assert!(
        removed.status.success(),
        "{}\n{}",
        stdout(&removed),
        String::from_utf8_lossy(&removed.stderr)
    );
    assert!(
        stdout(&removed).contains(&format!("install {install_id} is removed")),
        "{}",
        stdout(&removed)
    );
    // Only the removal is followed and timed: not the install before it, nor the time it sat ready.
    let text = stdout(&removed);
    assert!(
        text.contains("removal requested") && !text.lines().any(|l| l.starts_with("#1 ")),
        "{text}"
    );
    assert!(!text.contains("validate-trust"), "{text}");
}

#[tokio::test]
async fn a_failed_install_and_an_api_error_exit_non_zero() {
    let stack = LocalStack::connect().await.unwrap();
    let tenant_id = random_tenant_id("clifail");
    let created = byoc(
        &stack,
        &[
            "tenants",
            "create",
            "--tenant-id",
            &tenant_id,
            "--name",
            "No Stack",
            "--email",
            "ops@nostack.example",
        ],
    )
    .await;
    assert!(created.status.success());

    // No customer stack: the preflight says so before anything starts, and exits 1.
    let checked = byoc(
        &stack,
        &[
            "installs",
            "preflight",
            "--tenant-id",
            &tenant_id,
            "--account-id",
            &random_account_id(),
            "--region",
            "us-east-1",
        ],
    )
    .await;
    assert_eq!(checked.status.code(), Some(1), "{}", stdout(&checked));
    let text = stdout(&checked);
    assert!(text.starts_with("FAIL  access "), "{text}");
    assert!(text.contains("skip  quotas "), "{text}");
    assert!(
        text.trim_end()
            .ends_with("not ready: see FAIL and skip above"),
        "{text}"
    );

    // No customer stack: the install fails at validate-trust.
    let watched = byoc(
        &stack,
        &[
            "installs",
            "create",
            "--tenant-id",
            &tenant_id,
            "--account-id",
            &random_account_id(),
            "--region",
            "us-east-1",
            "--watch",
        ],
    )
    .await;
    assert_eq!(watched.status.code(), Some(1), "{}", stdout(&watched));
    assert!(
        stdout(&watched).contains("FAILED at validate-trust: TrustNotReady"),
        "{}",
        stdout(&watched)
    );

    // An API error is printed as the API gave it.
    let bad = byoc(
        &stack,
        &[
            "installs",
            "create",
            "--tenant-id",
            &tenant_id,
            "--account-id",
            "123",
            "--region",
            "us-east-1",
        ],
    )
    .await;
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.starts_with("HTTP 400: {\"error\":") && stderr.contains("\"field\":\"account_id\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_operator_retries_a_failed_install_once_the_customer_has_fixed_access() {
    let stack = LocalStack::connect().await.unwrap();
    let tenant_id = random_tenant_id("cliretry");
    let account = random_account_id();
    let created = byoc(
        &stack,
        &[
            "tenants",
            "create",
            "--tenant-id",
            &tenant_id,
            "--name",
            "Retry Co",
            "--email",
            "ops@retry.example",
            "--output",
            "json",
        ],
    )
    .await;
    assert!(created.status.success(), "{created:?}");
    let external_id = json(&created)["external_id"].as_str().unwrap().to_owned();

    // The customer has not created the access stack yet: the install fails at validate-trust.
    let failed = byoc(
        &stack,
        &[
            "installs",
            "create",
            "--tenant-id",
            &tenant_id,
            "--account-id",
            &account,
            "--region",
            "us-east-1",
            "--options",
            r#"{"node_desired_size":2,"node_max_size":2}"#,
            "--watch",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(failed.status.code(), Some(1), "{}", stdout(&failed));
    let last: Value = serde_json::from_str(stdout(&failed).lines().last().unwrap()).unwrap();
    let install_id = last["install_id"].as_str().unwrap().to_owned();

    stack
        .customer(&account)
        .create_access_stack(&stack.outputs.vendor_account_id, &external_id)
        .await
        .unwrap();
    let retried = byoc(&stack, &["installs", "retry", &install_id, "--watch"]).await;
    let text = stdout(&retried);
    assert!(
        retried.status.success(),
        "exit {:?}: {text}\n{}",
        retried.status,
        String::from_utf8_lossy(&retried.stderr)
    );
    assert!(
        text.contains(&format!("install {install_id} pending")) && text.contains("-retry-"),
        "the accepted retry and its execution: {text}"
    );
    assert!(
        text.contains("retry requested (it failed at validate-trust)"),
        "{text}"
    );
    assert!(
        !text.contains("could not assume role") && !text.lines().any(|l| l.starts_with("#1 ")),
        "only the retry's part of the timeline is shown: {text}"
    );
    assert!(
        text.contains("time per step") && text.contains(&format!("install {install_id} is ready")),
        "{text}"
    );

    // Nothing to retry on a ready install: the API's error, as it gave it, and exit 1.
    let refused = byoc(
        &stack,
        &["installs", "retry", &install_id, "--output", "json"],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.starts_with("HTTP 409: {\"error\":") && stderr.contains("is ready"),
        "{stderr}"
    );
}
