//! `iam-prune eval`: decide one request (or a file of them) against a set of policies and
//! say why. A deny is an answer: exit code 3, not an error.

use super::{print_json, CmdError, CmdResult, Exit, Global};
use iam_prune::catalog::Catalog;
use iam_prune::eval::batch::{decision_json, default_principal, write_decision_line, RequestLine};
use iam_prune::eval::{Context, ContextValue, DecisionKind, Evaluator, NamedPolicy, PolicySet, Request};
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Identity-based policy: an AWS managed policy name (`IAMFullAccess`) or a file. Repeatable.
    #[arg(long = "policy", value_name = "FILE|NAME")]
    policies: Vec<String>,
    /// Permissions boundary (file or managed policy name).
    #[arg(long, value_name = "FILE|NAME")]
    boundary: Option<String>,
    /// Service control policy; each one is a level of the organization and must allow. Repeatable.
    #[arg(long = "scp", value_name = "FILE")]
    scps: Vec<String>,
    /// Resource control policy; each one must allow. Repeatable.
    #[arg(long = "rcp", value_name = "FILE")]
    rcps: Vec<String>,
    /// Resource-based policy of the target (bucket policy, key policy, role trust policy). Repeatable.
    #[arg(long = "resource-policy", value_name = "FILE")]
    resource_policies: Vec<String>,
    /// Session policy.
    #[arg(long = "session-policy", value_name = "FILE")]
    session_policy: Option<String>,
    /// The action, e.g. `iam:PassRole`.
    #[arg(long, required_unless_present = "requests")]
    action: Option<String>,
    /// The resource ARN (`*` for actions without a resource).
    #[arg(long, default_value = "*")]
    resource: String,
    /// The caller ARN (default: a role in the resource's account); `anonymous` for an
    /// unsigned request.
    #[arg(long)]
    principal: Option<String>,
    /// A condition key: `KEY=VALUE`; repeat a key for a multivalued key.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Decide every request in a JSON-lines file, printing one JSON decision per line.
    #[arg(long, value_name = "FILE.jsonl", conflicts_with = "action")]
    requests: Option<String>,
}

fn load(catalog: &Catalog, name: &str) -> Result<NamedPolicy, Box<dyn std::error::Error + Send + Sync>> {
    let (n, p) = catalog.load_policy(name)?;
    Ok(NamedPolicy::new(n, p))
}

fn policy_set(a: &Args) -> Result<PolicySet, Box<dyn std::error::Error + Send + Sync>> {
    let c = Catalog::embedded();
    let many = |v: &[String]| v.iter().map(|n| load(c, n)).collect::<Result<Vec<_>, _>>();
    Ok(PolicySet {
        identity: many(&a.policies)?,
        boundary: a.boundary.as_deref().map(|n| load(c, n)).transpose()?,
        session: a.session_policy.as_deref().map(|n| load(c, n)).transpose()?,
        scps: many(&a.scps)?,
        rcps: many(&a.rcps)?,
        resource: many(&a.resource_policies)?,
    })
}

fn context(pairs: &[String]) -> Result<Context, CmdError> {
    let mut ctx = Context::new();
    for pair in pairs {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(CmdError::Context { pair: pair.clone() });
        };
        let value = match ctx.get(k) {
            None => ContextValue::Single(v.to_string()),
            Some(ContextValue::Single(prev)) => ContextValue::Multi(vec![prev.clone(), v.to_string()]),
            Some(ContextValue::Multi(prev)) => {
                ContextValue::Multi(prev.iter().cloned().chain([v.to_string()]).collect())
            }
        };
        ctx.insert(k, value);
    }
    Ok(ctx)
}

pub fn run(args: Args, g: &Global) -> CmdResult {
    let set = policy_set(&args)?;
    let ev = Evaluator::compile(&set)?;
    if !g.quiet {
        for p in set.scps.iter().chain(&set.rcps) {
            if p.policy.statements.iter().all(|s| s.effect == iam_prune::policy::Effect::Deny) {
                eprintln!("warning: `{}` has no Allow statement, so it denies every request; AWS attaches FullAWSAccess next to deny-list policies, add its `Allow * on *` statement to model that", p.name);
            }
        }
    }
    if let Some(path) = &args.requests {
        return batch(&ev, path);
    }
    let ctx = context(&args.context)?;
    if let Some(a) = args.action.as_deref() {
        let c = iam_prune::catalog::Catalog::embedded();
        // A typo would be decided (an implicit deny, exit 3) as if it were a real action.
        if !a.contains(['*', '?']) && c.lookup(a).is_none() {
            let s = c.suggest(a);
            return Err(Box::new(super::UsageError::new(
                format!(
                    "`{a}` is not an action in the catalog{}",
                    if s.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (did you mean {}?)",
                            s.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ")
                        )
                    }
                ),
                format!(
                    "check the spelling, or look it up with `iam-prune catalog search {}`",
                    a.rsplit(':').next().unwrap_or(a)
                ),
            )));
        }
    }
    let principal = args.principal.clone().unwrap_or_else(|| default_principal(&args.resource));
    let req = Request {
        principal: &principal,
        action: args.action.as_deref().unwrap_or_default(),
        resource: &args.resource,
        context: &ctx,
    };
    let d = ev.evaluate(&req);
    if g.is_json() {
        print_json(&decision_json(&d));
    } else {
        println!("{}: {} {} by {}", d.kind.as_str(), req.action, req.resource, req.principal);
        println!("  because {}", d.reason);
        for m in &d.matched {
            let effect = if m.effect == iam_prune::policy::Effect::Allow { "Allow" } else { "Deny" };
            println!("  {effect} statement {} in {} ({})", m.statement, m.policy, m.policy_type.as_str());
        }
        if d.matched.is_empty() && g.verbose {
            let keys = ev.condition_keys();
            if !keys.is_empty() {
                println!("  the policies read these condition keys: {}", keys.join(", "));
            }
        }
    }
    Ok(if d.is_allowed() { Exit::Ok } else { Exit::Deny })
}

/// One JSON decision per line, in order. Exit 0 when every request was allowed, 3 when
/// some was denied; a malformed line stops with an error naming the file and line.
fn batch(ev: &Evaluator, path: &str) -> CmdResult {
    let text =
        std::fs::read_to_string(path).map_err(|source| CmdError::ReadRequests { path: path.to_string(), source })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut any_denied = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r = RequestLine::parse(line).map_err(|source| CmdError::Request {
            path: path.to_string(),
            line: i + 1,
            source,
        })?;
        let principal = match &r.principal {
            Some(_) => String::new(),
            None => default_principal(&r.resource),
        };
        let d = ev.evaluate(&r.request(&principal));
        any_denied |= d.kind != DecisionKind::Allow;
        write_decision_line(&mut out, &d)?;
    }
    out.flush()?;
    Ok(if any_denied { Exit::Deny } else { Exit::Ok })
}
