//! `byoc`: start, watch and inspect byoc-installer installs from a terminal. Talks to the
//! vendor's HTTP API with SigV4-signed requests, using the usual AWS credential chain.

mod args;
mod render;
mod timeline;
mod watch;

use std::process::ExitCode;

use aws_config::BehaviorVersion;
use byoc_client::{Api, ApiResponse};
use clap::Parser;
use serde_json::json;

use crate::args::Output;
use crate::args::{Cli, Command, InstallsCommand, TenantsCommand};
use crate::watch::Scope;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("byoc: {message}");
            ExitCode::from(1)
        }
    }
}

async fn client(cli: &Cli) -> Result<Api, String> {
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let credentials = config
        .credentials_provider()
        .ok_or("no AWS credentials found: set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or sign in with `aws sso login`")?;
    let region = cli
        .region
        .clone()
        .or_else(|| config.region().map(|r| r.to_string()))
        .ok_or("no region: pass --region or set AWS_REGION (the region of the API)")?;
    let endpoint = cli.endpoint.as_deref().ok_or(
        "no API endpoint: pass --endpoint or set BYOC_API_URL (the deploy prints it as api_url)",
    )?;
    Ok(Api::new(endpoint, &region, credentials))
}

/// Prints what the API answered; an error response is printed as the API gave it.
fn answer(
    output: Output,
    response: ApiResponse,
    text: impl FnOnce(&serde_json::Value) -> String,
) -> ExitCode {
    if response.is_success() {
        match output {
            Output::Json => println!(
                "{}",
                serde_json::to_string_pretty(&response.json).unwrap_or(response.text)
            ),
            Output::Text => println!("{}", text(&response.json)),
        }
        ExitCode::SUCCESS
    } else {
        eprintln!("HTTP {}: {}", response.status, response.text);
        ExitCode::from(1)
    }
}

/// `--options` as JSON (none: no options).
fn options_json(options: Option<&str>) -> Result<serde_json::Value, String> {
    match options {
        Some(text) => {
            serde_json::from_str(text).map_err(|err| format!("--options is not JSON: {err}"))
        }
        None => Ok(json!({})),
    }
}

/// A POST, with the caller's `Idempotency-Key` when one is given.
async fn post(
    api: &Api,
    path: &str,
    body: &serde_json::Value,
    key: Option<&str>,
) -> Result<ApiResponse, byoc_client::ClientError> {
    match key {
        Some(key) => {
            api.send_with_headers(
                "POST",
                path,
                Some(body.to_string()),
                &[("Idempotency-Key", key)],
                true,
            )
            .await
        }
        None => api.post(path, body).await,
    }
}

/// After a command that started an operation on an install (a retry, a removal, an upgrade):
/// with `--watch`, follows only that operation's part of the timeline
/// (what came before it is another operation's), or all of it with `--all`.
async fn follow(
    api: &Api,
    install_id: &str,
    output: Output,
    accepted: ExitCode,
    watch: bool,
    all: bool,
) -> Result<ExitCode, String> {
    if !watch || accepted != ExitCode::SUCCESS {
        return Ok(accepted);
    }
    watch::run(
        api,
        install_id,
        output,
        if all {
            Scope::All
        } else {
            Scope::LatestOperation
        },
    )
    .await
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let api = client(&cli).await?;
    let output = cli.output;
    let e = |err: byoc_client::ClientError| err.to_string();
    Ok(match cli.command {
        Command::Tenants { command } => match command {
            TenantsCommand::Create {
                tenant_id,
                name,
                email,
                idempotency_key,
            } => {
                let body = json!({"tenant_id": tenant_id, "name": name, "email": email});
                answer(
                    output,
                    post(&api, "/tenants", &body, idempotency_key.as_deref())
                        .await
                        .map_err(e)?,
                    render::tenant,
                )
            }
            TenantsCommand::Show { tenant_id } => answer(
                output,
                api.get(&format!("/tenants/{tenant_id}")).await.map_err(e)?,
                render::tenant,
            ),
        },
        Command::Installs { command } => match command {
            InstallsCommand::Create {
                tenant_id,
                account_id,
                region,
                options,
                idempotency_key,
                watch,
            } => {
                let options = options_json(options.as_deref())?;
                let body = json!({"tenant_id": tenant_id, "account_id": account_id, "region": region, "options": options});
                let response = post(&api, "/installs", &body, idempotency_key.as_deref())
                    .await
                    .map_err(e)?;
                let install_id = response.json["install_id"].as_str().map(str::to_owned);
                let code = answer(output, response, render::accepted);
                match (watch, install_id) {
                    (true, Some(id)) if code == ExitCode::SUCCESS => {
                        watch::run(&api, &id, output, Scope::All).await?
                    }
                    _ => code,
                }
            }
            InstallsCommand::Preflight {
                tenant_id,
                account_id,
                region,
                options,
            } => {
                let options = options_json(options.as_deref())?;
                let body = json!({"tenant_id": tenant_id, "account_id": account_id, "region": region, "options": options});
                let response = post(&api, "/installs/preflight", &body, None)
                    .await
                    .map_err(e)?;
                let passed = response.json["ok"] == true;
                match answer(output, response, render::preflight) {
                    code if code == ExitCode::SUCCESS && !passed => ExitCode::from(1),
                    code => code,
                }
            }
            InstallsCommand::Retry {
                install_id,
                watch,
                all,
            } => {
                let response = api
                    .send("POST", &format!("/installs/{install_id}/retry"), None, true)
                    .await
                    .map_err(e)?;
                follow(
                    &api,
                    &install_id,
                    output,
                    answer(output, response, render::accepted),
                    watch,
                    all,
                )
                .await?
            }
            InstallsCommand::Upgrade {
                install_id,
                to,
                force,
                watch,
                all,
            } => {
                let mut body = json!({"force": force});
                if let Some(version) = to {
                    body["kubernetes_version"] = json!(version);
                }
                let response = api
                    .post(&format!("/installs/{install_id}/upgrade"), &body)
                    .await
                    .map_err(e)?;
                follow(
                    &api,
                    &install_id,
                    output,
                    answer(output, response, render::accepted),
                    watch,
                    all,
                )
                .await?
            }
            InstallsCommand::Show { install_id } => answer(
                output,
                api.get(&format!("/installs/{install_id}"))
                    .await
                    .map_err(e)?,
                render::install,
            ),
            InstallsCommand::List {
                tenant_id,
                limit,
                cursor,
            } => {
                let mut path = format!("/tenants/{tenant_id}/installs?limit={limit}");
                if let Some(cursor) = cursor {
                    path.push_str(&format!("&cursor={cursor}"));
                }
                answer(
                    output,
                    api.get(&path).await.map_err(e)?,
                    render::install_list,
                )
            }
            InstallsCommand::Watch { install_id } => {
                watch::run(&api, &install_id, output, Scope::All).await?
            }
            InstallsCommand::Remove {
                install_id,
                watch,
                all,
            } => {
                let response = api
                    .send("DELETE", &format!("/installs/{install_id}"), None, true)
                    .await
                    .map_err(e)?;
                follow(
                    &api,
                    &install_id,
                    output,
                    answer(output, response, render::accepted),
                    watch,
                    all,
                )
                .await?
            }
        },
    })
}
