//! `autopilot-aws`: the commands that read a live account (docs/plan.md).
//! `import` writes the configuration and capacity snapshots of the
//! account's ECS scaling; `history` exports what `autopilot replay` and
//! `autopilot plan` need for a time range. Credentials and Region come the
//! AWS way: the SDK's default chain, `--profile`, `--region`.
//!
//! Exit codes: 0 success, 1 an AWS call or a write failed, 2 bad input.

use autopilot_lambdas::history::{self, HistoryRequest};
use autopilot_lambdas::import::{self, Clients, Selection};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "autopilot-aws", version, about = "Read a live AWS account for ecs-autopilot")]
struct Cli {
    /// Named profile of the shared AWS config and credentials files.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// AWS Region (default: the SDK's chain, e.g. AWS_REGION).
    #[arg(long, global = true)]
    region: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the account's Application Auto Scaling setup for ECS services
    /// (config.json) and each cluster's capacity snapshot
    /// (capacity-CLUSTER.json) into --out, and print what was found and
    /// what could not be carried over.
    Import {
        /// Directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Only these clusters (repeatable; default: every cluster).
        #[arg(long = "cluster")]
        clusters: Vec<String>,
        /// Only these services: names or service/CLUSTER/SERVICE (repeatable).
        #[arg(long = "service")]
        services: Vec<String>,
    },
    /// Export a time range for `autopilot replay --events` / `autopilot plan`:
    /// metrics.json and metric-map.yaml (every metric the configuration
    /// reads), events.jsonl (from the stack's event log group), initial.json.
    History {
        /// Configuration files (merged), e.g. import's config.json.
        #[arg(long = "config", required = true)]
        configs: Vec<String>,
        /// Start of the range (RFC 3339).
        #[arg(long)]
        from: String,
        /// End of the range (RFC 3339).
        #[arg(long)]
        to: String,
        /// The log group the stack records its events in (the stack's
        /// `EventLogGroupName` output, /aws/events/STACK); none: metrics only.
        #[arg(long)]
        log_group: Option<String>,
        /// Directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

struct Failure {
    code: u8,
    message: String,
}

fn input(message: impl Into<String>) -> Failure {
    Failure { code: 2, message: message.into() }
}

fn runtime(message: impl Into<String>) -> Failure {
    Failure { code: 1, message: message.into() }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(autopilot_lambdas::edge::http_client());
    if let Some(p) = &cli.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &cli.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    let sdk = loader.load().await;
    let result = match cli.command {
        Command::Import { out, clusters, services } => run_import(&sdk, &out, Selection { clusters, services }).await,
        Command::History { configs, from, to, log_group, out } => {
            run_history(&sdk, &configs, &from, &to, log_group.as_deref(), &out).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("autopilot-aws: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

async fn run_import(sdk: &aws_config::SdkConfig, out: &Path, selection: Selection) -> Result<(), Failure> {
    let clients = Clients {
        application_autoscaling: aws_sdk_applicationautoscaling::Client::new(sdk),
        cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
        ecs: aws_sdk_ecs::Client::new(sdk),
        autoscaling: aws_sdk_autoscaling::Client::new(sdk),
    };
    let imported = import::import(&clients, &selection).await.map_err(|e| runtime(e.to_string()))?;
    let files = import::files(&imported).map_err(|e| runtime(e.to_string()))?;
    write_all(out, &files)?;
    for line in &imported.found {
        println!("found: {line}");
    }
    for line in &imported.not_carried {
        println!("not carried: {line}");
    }
    for (name, _) in &files {
        println!("wrote {}", out.join(name).display());
    }
    Ok(())
}

async fn run_history(
    sdk: &aws_config::SdkConfig,
    configs: &[String],
    from: &str,
    to: &str,
    log_group: Option<&str>,
    out: &Path,
) -> Result<(), Failure> {
    let mut docs = Vec::new();
    for f in configs {
        docs.push((f.as_str(), std::fs::read_to_string(f).map_err(|e| input(format!("cannot read {f}: {e}")))?));
    }
    let named: Vec<(&str, &str)> = docs.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let config = ecs_autopilot::config::load_documents(&named).map_err(|e| input(e.to_string()))?;
    let instant = |flag: &str, text: &str| {
        text.parse::<jiff::Timestamp>().map_err(|e| input(format!("--{flag} {text:?}: not an RFC 3339 instant: {e}")))
    };
    let (from, to) = (instant("from", from)?, instant("to", to)?);
    let request = HistoryRequest { config: &config, from, to, log_group };
    let clients = history::Clients {
        cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
        logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
    };
    let exported = history::export(&clients, &request).await.map_err(|e| match e {
        history::HistoryError::Range(m) => input(m),
        other => runtime(other.to_string()),
    })?;
    let files = history::files(&exported).map_err(|e| runtime(e.to_string()))?;
    write_all(out, &files)?;
    for line in &exported.notes {
        println!("note: {line}");
    }
    for (name, _) in &files {
        println!("wrote {}", out.join(name).display());
    }
    Ok(())
}

/// Writes every file or none: each goes to a temporary name first and is
/// renamed once all are written.
fn write_all(out: &Path, files: &[(String, String)]) -> Result<(), Failure> {
    std::fs::create_dir_all(out).map_err(|e| runtime(format!("cannot create {}: {e}", out.display())))?;
    let mut staged = Vec::new();
    for (name, text) in files {
        let tmp = out.join(format!(".{name}.partial"));
        if let Err(e) = std::fs::write(&tmp, text) {
            for t in &staged {
                let _ = std::fs::remove_file(t);
            }
            let _ = std::fs::remove_file(&tmp);
            return Err(runtime(format!("cannot write {}: {e}", tmp.display())));
        }
        staged.push(tmp);
    }
    for ((name, _), tmp) in files.iter().zip(&staged) {
        std::fs::rename(tmp, out.join(name)).map_err(|e| runtime(format!("cannot write {name}: {e}")))?;
    }
    Ok(())
}
