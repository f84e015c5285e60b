//! `infra`: synthesize, diff, deploy and destroy the CloudFormation of an environment.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use s3exports_cli::{AwsArgs, s3_client};
use s3exports_config::{EnvSelector, ObjectLock, names};
use s3exports_infra::artifacts::{self, CodeZip};
use s3exports_infra::deploy::{Deployer, Plan, bucket_replacements, first_compliance, published_object_lock};
use s3exports_infra::stacks::{self, Stack, StackKind};
use s3exports_infra::synth;

// std's `println!`/`eprintln!` panic on a closed stdout or stderr (`infra plan | head`, exit status
// 101 "failed printing to stdout: Broken pipe"): these (s3exports_cli::output) exit quietly when
// stdout's reader went away and drop a warning stderr cannot take. Defined first, so that
// they are the ones every module below uses.
macro_rules! println {
    ($($arg:tt)*) => { ::s3exports_cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}
macro_rules! eprintln {
    ($($arg:tt)*) => { ::s3exports_cli::output::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}
macro_rules! eprint {
    ($($arg:tt)*) => { ::s3exports_cli::output::write_stderr(format_args!($($arg)*)) };
}

#[derive(Debug, Parser)]
#[command(name = "infra", version, about = "CloudFormation for rds-snapshot-s3exports, from config/<env>.toml")]
struct Cli {
    /// Environment: dev, prod, or auto (from the git branch).
    #[arg(long, global = true, default_value = "auto")]
    env: EnvSelector,
    /// A config file to use instead of the one compiled in.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write one <stack>.template.json per stack and print a summary.
    Synth {
        /// Output directory (default infra/out/<env>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Create the artifacts bucket deployments upload code to.
    Bootstrap {
        #[arg(long)]
        yes: bool,
    },
    /// Show what a deploy would change, per resource.
    Diff {
        /// Only these stacks (repeatable).
        #[arg(long)]
        stack: Vec<String>,
        /// The exporter's Lambda zip.
        #[arg(long)]
        code: Option<PathBuf>,
    },
    /// Deploy through change sets, streaming progress.
    Deploy {
        #[arg(long)]
        stack: Vec<String>,
        #[arg(long)]
        code: Option<PathBuf>,
        /// Do not ask before executing the change sets.
        #[arg(long)]
        yes: bool,
    },
    /// Delete the environment's stacks (export buckets are retained).
    Destroy {
        #[arg(long)]
        stack: Vec<String>,
        #[arg(long)]
        yes: bool,
    },
}

#[tokio::main]
async fn main() -> Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        // Its report of a log line it could not write would panic on the same closed stderr.
        .log_internal_errors(false)
        .init();
    let cli = Cli::parse();
    let config = s3exports_cli::load_config(&cli.env, cli.config.as_deref())?;
    let env = config.environment.clone();
    if let Command::Synth { out } = &cli.command {
        let dir = out.clone().unwrap_or_else(|| PathBuf::from(format!("infra/out/{env}")));
        let written = synth::write(&stacks::all(&config), &dir)?;
        synth::write_names(&config, &dir)?;
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED).set_header(["stack", "resources", "parameters", "bytes"]);
        for s in &written {
            table.add_row([s.stack.clone(), s.resources.to_string(), s.parameters.to_string(), s.bytes.to_string()]);
        }
        println!("{table}");
        eprintln!("wrote {} templates and {} to {}", written.len(), synth::NAMES_FILE, dir.display());
        return Ok(ExitCode::SUCCESS);
    }

    let sdk = cli.aws.sdk_config().await;
    let s3 = s3_client(&sdk);
    sdk.region().context("no AWS region: pass --region or set AWS_REGION")?;
    let mut deployer = Deployer {
        cfn: aws_sdk_cloudformation::Client::new(&sdk),
        s3,
        template_bucket: None,
        environment: env.clone(),
        sdk: sdk.clone(),
    };
    let all = stacks::all(&config);
    let mut stderr = std::io::stderr();

    match cli.command {
        Command::Synth { .. } => unreachable!("handled above"),
        Command::Bootstrap { yes } => {
            let bootstrap: Vec<&Stack> = all.iter().filter(|s| s.kind == StackKind::Bootstrap).collect();
            deploy(&deployer, &bootstrap, &[], yes).await
        }
        Command::Diff { stack, code } => {
            let chosen = choose(&all, &stack, false)?;
            deployer.template_bucket = artifacts_bucket(&deployer, &env).await.ok();
            let code = code_key(code.as_deref(), false)?;
            let plans =
                plan_all(&deployer, &chosen, &code_parameters(deployer.template_bucket.as_deref(), code.as_ref()))
                    .await?;
            print_plans(&plans);
            for plan in &plans {
                deployer.discard(plan).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Deploy { stack, code, yes } => {
            let chosen = choose(&all, &stack, false)?;
            let bucket = artifacts_bucket(&deployer, &env).await?;
            deployer.template_bucket = Some(bucket.clone());
            let mut parameters = Vec::new();
            if chosen.iter().any(|s| s.kind == StackKind::Core) {
                let zip = code_key(code.as_deref(), true)?.context("no Lambda zip")?;
                let uploaded = artifacts::upload(&deployer.s3, &bucket, &zip).await.map_err(anyhow::Error::msg)?;
                let _ = writeln!(
                    stderr,
                    "{} {} ({:.1} MB) -> s3://{bucket}/{}",
                    if uploaded { "uploaded" } else { "unchanged" },
                    zip.path.display(),
                    zip.bytes.len() as f64 / 1e6,
                    zip.key
                );
                parameters = code_parameters(Some(&bucket), Some(&zip));
            }
            let ssm = aws_sdk_ssm::Client::new(&sdk);
            let mut published = std::collections::HashMap::new();
            for d in config.databases.iter().filter(|d| d.object_lock == ObjectLock::Compliance) {
                published.insert(d.db_name.clone(), published_object_lock(&ssm, &env, &d.db_name).await);
            }
            let first = first_compliance(&config, |db| published.get(db).copied().flatten());
            if !first.is_empty() && !yes {
                bail!(
                    "this deploy turns on Object Lock in COMPLIANCE mode for {}: every export sealed from now on can \
                     be deleted or overwritten by no one, the account's root user included, until its date, and the \
                     date can never be shortened. Run again with --yes if that is what you want (\"governance\" \
                     is the reversible mode)",
                    first.join(", ")
                );
            }
            deploy(&deployer, &chosen, &parameters, yes).await
        }
        Command::Destroy { stack, yes } => {
            let mut chosen = choose(&all, &stack, true)?;
            chosen.reverse();
            let names: Vec<&str> = chosen.iter().map(|s| s.name.as_str()).collect();
            confirm(&format!("Delete {} (export and results buckets are retained)?", names.join(", ")), yes)?;
            for s in chosen {
                let _ = writeln!(stderr, "deleting {}", s.name);
                if !deployer.destroy(&s.name, &mut stderr).await? {
                    let _ = writeln!(stderr, "  {} does not exist", s.name);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The named stacks, or every stack but the bootstrap one.
fn choose<'a>(all: &'a [Stack], names: &[String], allow_bootstrap: bool) -> Result<Vec<&'a Stack>> {
    if names.is_empty() {
        return Ok(all.iter().filter(|s| s.kind != StackKind::Bootstrap).collect());
    }
    names
        .iter()
        .map(|n| {
            all.iter().find(|s| &s.name == n && (allow_bootstrap || s.kind != StackKind::Bootstrap)).with_context(
                || {
                    let known: Vec<&str> =
                        all.iter().filter(|s| s.kind != StackKind::Bootstrap).map(|s| s.name.as_str()).collect();
                    format!("no stack `{n}` in this environment; its stacks are {}", known.join(", "))
                },
            )
        })
        .collect()
}

async fn artifacts_bucket(deployer: &Deployer, env: &str) -> Result<String> {
    let stack = names::bootstrap_stack(env);
    deployer.physical_id(&stack, "ArtifactsBucket").await?.with_context(|| {
        format!("no artifacts bucket ({stack} is not deployed): run `infra --env {env} bootstrap` first")
    })
}

fn code_key(path: Option<&Path>, required: bool) -> Result<Option<CodeZip>> {
    let path = path.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(artifacts::DEFAULT_ZIP));
    match artifacts::read_zip(&path) {
        Ok(zip) => Ok(Some(zip)),
        Err(e) if required => bail!(
            "cannot read the exporter's Lambda zip {} ({e}); build it with `./scripts/package` or pass --code FILE",
            path.display()
        ),
        Err(_) => Ok(None),
    }
}

fn code_parameters(bucket: Option<&str>, zip: Option<&CodeZip>) -> Vec<(String, String)> {
    vec![
        ("CodeS3Bucket".into(), bucket.unwrap_or("not-bootstrapped").into()),
        ("CodeS3Key".into(), zip.map_or_else(|| "exporter/not-built.zip".into(), |z| z.key.clone())),
    ]
}

async fn plan_all(deployer: &Deployer, chosen: &[&Stack], code: &[(String, String)]) -> Result<Vec<Plan>> {
    let mut plans = Vec::new();
    // A template CloudFormation would refuse is refused before any change set is made.
    for stack in chosen {
        synth::check(stack)?;
    }
    for stack in chosen {
        let params: &[(String, String)] = if stack.template.parameters.is_empty() { &[] } else { code };
        eprintln!("planning {}", stack.name);
        plans.push(deployer.plan(stack, params).await?);
    }
    Ok(plans)
}

fn print_plans(plans: &[Plan]) {
    for plan in plans {
        if plan.changes.is_empty() {
            println!("{}: no changes", plan.stack);
            continue;
        }
        println!("{} ({}):", plan.stack, if plan.create { "new stack" } else { "update" });
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED).set_header(["action", "resource", "type", "replacement"]);
        for c in &plan.changes {
            table.add_row([c.action.as_str(), c.logical_id.as_str(), c.resource_type.as_str(), c.replacement.as_str()]);
        }
        println!("{table}");
    }
}

async fn deploy(deployer: &Deployer, chosen: &[&Stack], code: &[(String, String)], yes: bool) -> Result<ExitCode> {
    let plans = plan_all(deployer, chosen, code).await?;
    print_plans(&plans);
    let replaced = bucket_replacements(&plans);
    if !replaced.is_empty() {
        for plan in &plans {
            deployer.discard(plan).await?;
        }
        bail!(
            "refusing to deploy: the change sets would replace {}; a bucket holding exports must never be replaced. \
             Change the template so the bucket updates in place (find the property whose change \
             requires replacement in the plan above), then deploy again",
            replaced.join(", ")
        );
    }
    let pending: Vec<&Plan> = plans.iter().filter(|p| p.change_set.is_some()).collect();
    if pending.is_empty() {
        println!("No changes: {} stack(s) up to date.", plans.len());
        return Ok(ExitCode::SUCCESS);
    }
    if let Err(e) = confirm(&format!("Execute {} change set(s)?", pending.len()), yes) {
        for plan in &plans {
            deployer.discard(plan).await?;
        }
        return Err(e);
    }
    let mut stderr = std::io::stderr();
    let mut outputs = Table::new();
    outputs.load_style(UTF8_FULL_CONDENSED).set_header(["stack", "output", "value"]);
    for plan in pending {
        let _ = writeln!(stderr, "deploying {}", plan.stack);
        deployer.execute(plan, &mut stderr).await?;
        for (k, v) in deployer.outputs(&plan.stack).await? {
            outputs.add_row([plan.stack.clone(), k, v]);
        }
    }
    if outputs.row_count() > 0 {
        println!("{outputs}");
    }
    Ok(ExitCode::SUCCESS)
}

fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("{question} needs an answer: pass --yes to proceed without a prompt");
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") { Ok(()) } else { bail!("aborted: nothing was changed") }
}
