//! The command line, as clap reads it.

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "byoc",
    version,
    about = "Start, watch and inspect byoc-installer installs"
)]
pub struct Cli {
    /// The API's stage URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/v1
    #[arg(long, env = "BYOC_API_URL", global = true)]
    pub endpoint: Option<String>,
    /// The API's region (default: from the AWS config)
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// text for people, json for scripts
    #[arg(long, value_enum, global = true, default_value = "text")]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The vendor's customers
    Tenants {
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// Installs into customers' AWS accounts
    Installs {
        #[command(subcommand)]
        command: InstallsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Register a customer: prints its External ID and the quick-create link for its stack
    Create {
        #[arg(long)]
        tenant_id: String,
        #[arg(long)]
        name: String,
        /// Where the customer's notifications go
        #[arg(long)]
        email: String,
        /// Makes the request safe to repeat (see `installs create --help`)
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Show a customer and its quick-create link
    Show { tenant_id: String },
}

#[derive(Debug, Subcommand)]
pub enum InstallsCommand {
    /// Start an install (then follow it with --watch)
    Create {
        #[arg(long)]
        tenant_id: String,
        #[arg(long)]
        account_id: String,
        #[arg(long)]
        region: String,
        /// Install options as JSON, e.g. '{"az_count":2,"nat_mode":"single"}'
        #[arg(long)]
        options: Option<String>,
        /// Makes the request safe to repeat: a repeat with the same key gets the first answer
        /// and starts nothing (e.g. a UUID per install your system requests)
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Follow the install until it ends
        #[arg(long)]
        watch: bool,
    },
    /// Check an install before making it: every finding at once, nothing built; exits 1
    /// when a check failed
    Preflight {
        #[arg(long)]
        tenant_id: String,
        #[arg(long)]
        account_id: String,
        #[arg(long)]
        region: String,
        /// Install options as JSON, as for `installs create`
        #[arg(long)]
        options: Option<String>,
    },
    /// Show an install: status, timeline, resources, last error
    Show { install_id: String },
    /// A tenant's installs, newest first
    List {
        #[arg(long)]
        tenant_id: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Follow an install step by step; exits 0 when ready (or removed), 1 when it failed
    Watch { install_id: String },
    /// Run a failed install again from the step that failed (then follow it with --watch)
    Retry {
        install_id: String,
        /// Follow the retried install until it ends (only the retry's part of the timeline)
        #[arg(long)]
        watch: bool,
        /// With --watch: show the whole timeline, not only the retry's part
        #[arg(long, requires = "watch")]
        all: bool,
    },
    /// Upgrade a ready install's Kubernetes version, one minor version at a time (then follow
    /// it with --watch); exits 1 if the upgrade stopped
    Upgrade {
        install_id: String,
        /// The target version (1.NN); default: the newest in standard support
        #[arg(long = "to", value_name = "1.NN")]
        to: Option<String>,
        /// Go ahead past ERROR upgrade insights and evict pods regardless of disruption budgets
        #[arg(long)]
        force: bool,
        /// Follow the upgrade until it ends (only the upgrade's part of the timeline)
        #[arg(long)]
        watch: bool,
        /// With --watch: show the whole timeline, not only the upgrade's part
        #[arg(long, requires = "watch")]
        all: bool,
    },
    /// Remove everything the install made from the customer's account
    Remove {
        install_id: String,
        /// Follow the removal until it ends (only the removal's part of the timeline)
        #[arg(long)]
        watch: bool,
        /// With --watch: show the whole timeline, not only the removal's part
        #[arg(long, requires = "watch")]
        all: bool,
    },
}
