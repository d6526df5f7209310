//! `iam-prune denied`: what CloudTrail says was denied, grouped by principal and action, or
//! the smallest policy patch that grants it.

use super::{print_json, CmdResult, Exit, Global};
use iam_prune::actions::ActionSet;
use iam_prune::aws::Connection;
use iam_prune::catalog::{ActionId, Catalog};
use iam_prune::policy::write::to_canonical_json;
use iam_prune::synth::policy_for_actions;
use iam_prune::trail::{self, DenialKind, Denied, ScanOptions, ScanReport};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// CloudTrail log files or directories (`.json`, `.json.gz`, JSON Lines, LookupEvents output).
    #[arg(required_unless_present_any = ["lookup", "lake"])]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    source: Source,
    #[command(flatten)]
    filter: Filter,
    /// Decode EC2 encoded authorization messages (needs `sts:DecodeAuthorizationMessage`) to name the action and resource.
    #[arg(long)]
    decode: bool,
    /// Print the smallest policy that grants exactly the denied actions on the denied resources.
    #[arg(long)]
    policy: bool,
}

/// Live sources and how to reach AWS; `denied` and `record` share them.
#[derive(Debug, clap::Args)]
pub struct Source {
    /// Read the last 90 days of management events through LookupEvents instead of files.
    #[arg(long, conflicts_with_all = ["paths", "lake"])]
    pub lookup: bool,
    /// Query a CloudTrail Lake event data store (its ARN or id) instead of reading files.
    #[arg(long, value_name = "EVENT_DATA_STORE", conflicts_with = "paths")]
    pub lake: Option<String>,
    /// Regions for `--lookup` (repeatable or comma-separated; default: the profile's), or the event data store's region.
    #[arg(long, value_name = "REGION", value_delimiter = ',')]
    pub region: Vec<String>,
    /// AWS profile.
    #[arg(long)]
    pub profile: Option<String>,
    /// Endpoint override for AWS calls; AWS_ENDPOINT_URL works too.
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

impl Source {
    /// The AWS connection (the first `--region`, else the profile's region).
    pub async fn connection(&self) -> Connection {
        Connection::load(self.profile.as_deref(), self.region.first().map(String::as_str), self.endpoint_url.as_deref())
            .await
    }

    /// Reads events from the chosen source: files, LookupEvents or Lake.
    pub async fn scan(&self, paths: &[PathBuf], opts: &ScanOptions) -> Result<ScanReport, trail::TrailError> {
        let catalog = Catalog::embedded();
        if self.lookup {
            return Ok(trail::cloud::lookup(&self.connection().await, catalog, &self.region, opts).await);
        }
        if let Some(store) = &self.lake {
            if trail::live::lake_store_id(store).is_none() {
                return Err(trail::TrailError::EventDataStore(store.clone()));
            }
            return trail::cloud::lake(&self.connection().await, catalog, store, opts).await;
        }
        Ok(trail::scan_paths(catalog, paths, opts))
    }
}

/// Options `denied` and `record` share.
#[derive(Debug, clap::Args)]
pub struct Filter {
    /// Only this principal: user, role (matches its sessions) or session ARN, access key id or user name.
    #[arg(long)]
    pub principal: Option<String>,
    /// Only events at or after this time (RFC 3339, a date, or an age such as `7d`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only events with this eventName (e.g. `RunInstances`).
    #[arg(long, value_name = "NAME")]
    pub event_name: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

impl Filter {
    /// Resolves the flags into scan options.
    pub fn options(&self) -> Result<ScanOptions, trail::TrailError> {
        let now = time::OffsetDateTime::now_utc();
        Ok(ScanOptions {
            principal: self.principal.as_deref().map(trail::PrincipalFilter::new),
            since: self.since.as_deref().map(|s| trail::parse_bound(s, now)).transpose()?,
            until: self.until.as_deref().map(|s| trail::parse_bound(s, now)).transpose()?,
            event_name: self.event_name.clone(),
            threads: self.threads,
            ..ScanOptions::default()
        })
    }
}

/// Prints per-file errors to stderr (the JSON output carries them too).
pub fn report_errors(r: &ScanReport, g: &Global) {
    if !g.is_json() {
        for e in &r.errors {
            eprintln!("error: {}", e.message);
        }
    }
}

pub async fn run(args: Args, g: &Global) -> CmdResult {
    let catalog = Catalog::embedded();
    let opts = ScanOptions { denied: true, ..args.filter.options()? };
    let mut report = args.source.scan(&args.paths, &opts).await?;
    if args.decode && report.denied.iter().any(|d| d.encoded_message.is_some()) {
        let conn = args.source.connection().await;
        let errors = trail::cloud::decode(&conn, catalog, &mut report.denied).await;
        report.errors.extend(errors);
    }
    report_errors(&report, g);
    let code = if report.errors.is_empty() { Exit::Ok } else { Exit::Error };
    if args.policy {
        // A patch is for one principal: merging every caller's denials (an attack simulation's
        // among them) into one Allow would grant each what any other was refused.
        let mut principals: Vec<&str> =
            report.denied.iter().map(|d| d.principal.as_deref().unwrap_or("(unknown principal)")).collect();
        principals.sort_unstable();
        principals.dedup();
        if principals.len() > 1 {
            let shown: Vec<&str> = principals.iter().take(5).copied().collect();
            return Err(Box::new(super::UsageError::new(
                format!(
                    "the logs hold denials of {} principals ({}{}), and a policy patch is for one",
                    principals.len(),
                    shown.join(", "),
                    if principals.len() > shown.len() { ", ..." } else { "" }
                ),
                "give --principal ARN (a user, role or session ARN, an access key id or a user name) to patch that principal's denials",
            )));
        }
        print_policy(catalog, &report.denied, principals.first().copied(), g);
        return Ok(code);
    }
    if g.is_json() {
        print_json(&serde_json::json!({
            "files": report.files,
            "events": report.events,
            "bytes": report.bytes,
            "denied": report.denied,
            "errors": report.errors,
        }));
        return Ok(code);
    }
    print_table(&report);
    Ok(code)
}

fn print_table(r: &ScanReport) {
    // principal -> action -> denials
    let mut groups: BTreeMap<String, BTreeMap<String, Vec<&Denied>>> = BTreeMap::new();
    for d in &r.denied {
        let action = d.action.clone().unwrap_or_else(|| format!("(no action) {}:{}", d.event_source, d.event_name));
        groups
            .entry(d.principal.clone().unwrap_or_else(|| "(unknown principal)".into()))
            .or_default()
            .entry(action)
            .or_default()
            .push(d);
    }
    for (principal, actions) in &groups {
        println!("{principal}");
        for (action, ds) in actions {
            let mut resources: Vec<&str> = ds.iter().filter_map(|d| d.resource.as_deref()).collect();
            resources.sort_unstable();
            resources.dedup();
            let by = ds.iter().find_map(|d| d.denied_by).map_or("a policy the message does not name", |b| b.as_str());
            let explicit = if ds.iter().any(|d| d.kind == DenialKind::ExplicitDeny) { " explicit deny" } else { "" };
            let last = ds.iter().filter_map(|d| d.time.as_deref()).max().unwrap_or("-");
            println!(
                "  {action:<44} {:>5}x  {:<28} by {by}{explicit}  last {last}",
                ds.len(),
                ds.first().map_or("", |d| d.error_code.as_str())
            );
            for res in resources.iter().take(5) {
                println!("      on {res}");
            }
            if resources.len() > 5 {
                println!("      ... and {} more resources", resources.len() - 5);
            }
        }
    }
    println!(
        "{}, {}, {} denied, {} with errors",
        super::count(r.files as u64, "file"),
        super::count(r.events, "event"),
        r.denied.len(),
        super::count(r.errors.len() as u64, "file")
    );
}

fn print_policy(catalog: &Catalog, denied: &[Denied], principal: Option<&str>, g: &Global) {
    let mut set = ActionSet::new();
    let mut resources: BTreeMap<ActionId, Vec<String>> = BTreeMap::new();
    let mut skipped: Vec<String> = Vec::new();
    for d in denied {
        if d.kind == DenialKind::ExplicitDeny {
            // An allow cannot override an explicit deny: the fix is elsewhere.
            skipped.push(format!(
                "{} (explicit deny{})",
                d.action.as_deref().unwrap_or(&d.event_name),
                d.denied_by.map(|b| format!(" in {}", b.as_str())).unwrap_or_default()
            ));
            continue;
        }
        let Some(id) = d.action.as_deref().and_then(|a| catalog.lookup(a)) else {
            skipped.push(format!("{}:{} (no catalog action)", d.event_source, d.event_name));
            continue;
        };
        set.insert(id);
        resources.entry(id).or_default().push(d.resource.clone().unwrap_or_else(|| "*".into()));
    }
    let policy = policy_for_actions(catalog, &set, &resources, false);
    skipped.sort();
    skipped.dedup();
    if g.is_json() {
        let doc: serde_json::Value = serde_json::from_str(&to_canonical_json(&policy)).unwrap_or_default();
        print_json(&serde_json::json!({ "principal": principal, "policy": doc, "not_granted": skipped }));
        return;
    }
    if let Some(p) = principal {
        eprintln!("the patch for {p}:");
    }
    println!("{}", to_canonical_json(&policy));
    for s in skipped {
        eprintln!("warning: not granted: {s}");
    }
}
