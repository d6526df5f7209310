//! Scenario files: TOML -> raw structs (with spans) -> a resolved [`Scenario`].

use super::{Call, DenialStyle, Expect, OnDenied, Realism, Scenario, Step, WorkloadError};
use crate::actions::ActionSet;
use crate::catalog::Catalog;
use crate::eval::{Context, ContextValue, NamedPolicy};
use crate::policy::{lint::lint, Pos};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    source: String,
    start: RawPolicies,
    #[serde(default)]
    fixed: RawPolicies,
    boundary: Option<String>,
    session: Option<String>,
    #[serde(default)]
    scps: Vec<String>,
    #[serde(default)]
    rcps: Vec<String>,
    #[serde(default)]
    resource_policies: Vec<RawResourcePolicy>,
    principal: RawPrincipal,
    #[serde(default)]
    context: BTreeMap<String, RawValue>,
    #[serde(default)]
    state: Vec<String>,
    #[serde(default)]
    realism: RawRealism,
    steps: Vec<Spanned<RawStep>>,
    expect: Option<RawExpect>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicies {
    #[serde(default)]
    managed: Vec<String>,
    #[serde(default)]
    files: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResourcePolicy {
    resource: String,
    policy: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrincipal {
    arn: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
enum RawValue {
    Str(String),
    Bool(bool),
    Int(i64),
    Float(f64),
    List(Vec<String>),
}

impl RawValue {
    fn to_context(&self) -> ContextValue {
        match self {
            RawValue::Str(s) => ContextValue::from(s.clone()),
            RawValue::Bool(b) => ContextValue::from(*b),
            RawValue::Int(i) => ContextValue::from(i.to_string()),
            RawValue::Float(f) => ContextValue::from(f.to_string()),
            RawValue::List(l) => ContextValue::from(l.clone()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRealism {
    #[serde(default = "default_trial_seconds")]
    trial_seconds: f64,
    #[serde(default)]
    flaky_failure_rate: f64,
    #[serde(default)]
    propagation_miss_rate: f64,
    #[serde(default)]
    seed: u64,
}

/// `v` as JSON with every object's keys sorted: equal content, equal text.
fn canonical_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .filter_map(|k| {
                    m.get(k).map(|x| format!("{}:{}", serde_json::Value::from(k.as_str()), canonical_json(x)))
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        serde_json::Value::Array(a) => format!("[{}]", a.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

fn default_trial_seconds() -> f64 {
    60.0
}

impl Default for RawRealism {
    fn default() -> Self {
        RawRealism {
            trial_seconds: default_trial_seconds(),
            flaky_failure_rate: 0.0,
            propagation_miss_rate: 0.0,
            seed: 0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: String,
    operation: Option<String>,
    /// Shorthand for a single call.
    action: Option<Spanned<String>>,
    resource: Option<String>,
    #[serde(default)]
    calls: Vec<RawCall>,
    #[serde(default)]
    context: BTreeMap<String, RawValue>,
    #[serde(default = "default_denial")]
    denial: DenialStyle,
    #[serde(default = "default_on_denied")]
    on_denied: OnDenied,
    #[serde(default)]
    fallback: Vec<String>,
    #[serde(default)]
    fallback_only: bool,
    if_succeeded: Option<String>,
    if_failed: Option<String>,
    unless: Option<String>,
    #[serde(default)]
    sets: Vec<String>,
}

fn default_denial() -> DenialStyle {
    DenialStyle::Named
}

fn default_on_denied() -> OnDenied {
    OnDenied::Abort
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    action: Spanned<String>,
    resource: Option<String>,
    #[serde(default)]
    context: BTreeMap<String, RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    minimal: Vec<String>,
    #[serde(default)]
    alternatives: Vec<Vec<String>>,
    #[serde(default)]
    tolerated: Vec<String>,
    #[serde(default)]
    resources: BTreeMap<String, Vec<String>>,
}

/// A call as written: action (with its span), resource, call-level context.
type RawCallRef<'a> = (&'a Spanned<String>, Option<&'a String>, &'a BTreeMap<String, RawValue>);

/// Line and column of a byte offset.
pub(crate) fn pos_of(text: &str, offset: usize) -> Pos {
    let before = text.get(..offset.min(text.len())).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    Pos { line: u32::try_from(line).unwrap_or(u32::MAX), column: u32::try_from(column).unwrap_or(u32::MAX) }
}

/// Every required field, with its meaning: said once, in full, when one is missing (a first
/// scenario should not fail on one field after another).
const REQUIRED_FIELDS: &str = "a scenario needs: [start] (the broad policy to prune from: `managed = [\"NAME\"]` and/or `files = [\"policy.json\"]`); [principal] `arn` (who runs the workload); and one or more [[steps]], each with `id` (a name for what the program does) and [[steps.calls]] with `action` (the IAM action the call needs) and `resource` (the ARN, or \"*\"). Everything else is optional, [expect] included; `iam-prune scenario new NAME --start POLICY` writes a skeleton (docs/scenarios.md)";

pub(super) fn load(path: &Path, catalog: &Catalog) -> Result<Scenario, WorkloadError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| WorkloadError::Io { path: path.to_path_buf(), source })?;
    let invalid = |pos: Pos, message: String, help: &str| WorkloadError::Invalid {
        path: path.to_path_buf(),
        pos,
        message,
        help: help.to_string(),
    };
    let raw: RawScenario = toml::from_str(&text).map_err(|e| {
        let pos = e.span().map(|s| pos_of(&text, s.start)).unwrap_or_default();
        let help = if e.message().starts_with("missing field") {
            REQUIRED_FIELDS
        } else {
            "see docs/scenarios.md for the scenario format"
        };
        invalid(pos, e.message().to_string(), help)
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut policy_lints = Vec::new();
    // The fingerprint covers the scenario and every policy file it reads, wherever found
    // (managed policies come from the embedded catalog; a resume compares the start policies'
    // universe, and a catalog update changes the engine's answers only through it). It hashes
    // their content, not their bytes: a comment, whitespace or key order changes nothing a
    // trial sees, so it must not block a resume. The byte hash of earlier builds is kept for
    // their journals.
    let mut hasher = Sha256::new();
    let mut bytes_hasher = Sha256::new();
    bytes_hasher.update(text.as_bytes());
    match toml::from_str::<toml::Value>(&text).ok().and_then(|v| serde_json::to_value(v).ok()) {
        Some(v) => hasher.update(canonical_json(&v).as_bytes()),
        None => hasher.update(text.as_bytes()),
    }
    let mut load_ref = |name: &str| -> Result<NamedPolicy, WorkloadError> {
        let local: PathBuf = dir.join(name);
        let target = if local.exists() { local.display().to_string() } else { name.to_string() };
        if let Ok(bytes) = std::fs::read(&target) {
            for h in [&mut hasher, &mut bytes_hasher] {
                h.update(name.as_bytes());
                h.update([0u8]);
            }
            bytes_hasher.update(&bytes);
            match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(v) => hasher.update(canonical_json(&v).as_bytes()),
                Err(_) => hasher.update(&bytes),
            }
        }
        let (n, p) = catalog.load_policy(&target).map_err(|e| WorkloadError::Policy {
            path: path.to_path_buf(),
            name: name.to_string(),
            source: Box::new(e),
        })?;
        if local.exists() {
            for l in lint(&p, catalog) {
                policy_lints.push((local.display().to_string(), l));
            }
        }
        Ok(NamedPolicy::new(n, p))
    };
    let mut start = Vec::new();
    for m in raw.start.managed.iter().chain(&raw.start.files) {
        start.push(load_ref(m)?);
    }
    let mut fixed = Vec::new();
    for m in raw.fixed.managed.iter().chain(&raw.fixed.files) {
        fixed.push(load_ref(m)?);
    }
    let boundary = raw.boundary.as_deref().map(&mut load_ref).transpose()?;
    let session = raw.session.as_deref().map(&mut load_ref).transpose()?;
    let scps = raw.scps.iter().map(|s| load_ref(s)).collect::<Result<Vec<_>, _>>()?;
    let rcps = raw.rcps.iter().map(|s| load_ref(s)).collect::<Result<Vec<_>, _>>()?;
    let mut resource_policies = Vec::new();
    for rp in &raw.resource_policies {
        resource_policies.push((rp.resource.clone(), load_ref(&rp.policy)?));
    }
    let mut universe = ActionSet::new();
    for p in &start {
        universe.union_with(&catalog.expand_policy(&p.policy).allowed);
    }

    // The context every call starts from: defaults, then what the principal implies.
    let mut base: Vec<(String, ContextValue)> = raw.context.iter().map(|(k, v)| (k.clone(), v.to_context())).collect();
    for (k, v) in &raw.principal.tags {
        base.push((format!("aws:PrincipalTag/{k}"), ContextValue::from(v.clone())));
    }
    if let Some(user) = raw.principal.arn.split(":user/").nth(1) {
        base.push(("aws:username".into(), ContextValue::from(user.rsplit('/').next().unwrap_or(user).to_string())));
    }

    let mut steps = Vec::new();
    for spanned in &raw.steps {
        let step_pos = pos_of(&text, spanned.span().start);
        let rs = spanned.get_ref();
        let mut raw_calls: Vec<RawCallRef<'_>> =
            rs.calls.iter().map(|c| (&c.action, c.resource.as_ref(), &c.context)).collect();
        let empty = BTreeMap::new();
        if let Some(a) = &rs.action {
            raw_calls.insert(0, (a, rs.resource.as_ref(), &empty));
        }
        if raw_calls.is_empty() {
            return Err(invalid(
                step_pos,
                format!("step `{}` names no action", rs.id),
                "give `action = \"service:Action\"` or a `[[steps.calls]]` list",
            ));
        }
        let mut calls = Vec::new();
        for (action, resource, ctx) in raw_calls {
            let pos = pos_of(&text, action.span().start);
            let name = action.get_ref();
            let id = catalog.lookup(name).ok_or_else(|| {
                let hint = catalog.suggest(name);
                invalid(
                    pos,
                    format!("`{name}` is not an action in the catalog ({})", catalog.date()),
                    &if hint.is_empty() {
                        "check the spelling: `iam-prune catalog search TEXT`".to_string()
                    } else {
                        format!("did you mean {}?", hint.join(", "))
                    },
                )
            })?;
            let resource = resource.cloned().unwrap_or_else(|| "*".to_string());
            if resource != "*" && !resource.starts_with("arn:") {
                return Err(invalid(
                    pos,
                    format!("resource `{resource}` is not an ARN"),
                    "write a full ARN such as arn:aws:iam::111122223333:role/name, or \"*\"",
                ));
            }
            let mut context = Context::new();
            for (k, v) in &base {
                context.insert(k, v.clone());
            }
            for (k, v) in rs.context.iter().chain(ctx.iter()) {
                context.insert(k, v.to_context());
            }
            calls.push(Call { action: name.clone(), id, resource, context, pos });
        }
        steps.push(Step {
            id: rs.id.clone(),
            operation: rs
                .operation
                .clone()
                .unwrap_or_else(|| calls.first().map(|c| c.action.clone()).unwrap_or_default()),
            calls,
            denial: rs.denial,
            on_denied: rs.on_denied,
            fallback: rs.fallback.clone(),
            fallback_only: rs.fallback_only,
            if_succeeded: rs.if_succeeded.clone(),
            if_failed: rs.if_failed.clone(),
            unless: rs.unless.clone(),
            sets: rs.sets.clone(),
            pos: step_pos,
        });
    }
    let name = raw
        .name
        .clone()
        .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    let hex = |h: Sha256| h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>();
    let fingerprint = hex(hasher);
    let byte_fingerprint = hex(bytes_hasher);
    Ok(Scenario {
        name,
        fingerprint,
        byte_fingerprint,
        description: raw.description,
        source: raw.source,
        path: path.to_path_buf(),
        start,
        fixed,
        boundary,
        session,
        scps,
        rcps,
        resource_policies,
        principal: raw.principal.arn,
        steps,
        initial_state: raw.state,
        realism: Realism {
            trial_seconds: raw.realism.trial_seconds,
            flaky_failure_rate: raw.realism.flaky_failure_rate,
            propagation_miss_rate: raw.realism.propagation_miss_rate,
            seed: raw.realism.seed,
        },
        has_expectation: raw.expect.is_some(),
        expect: raw
            .expect
            .map(|e| Expect {
                minimal: e.minimal,
                alternatives: e.alternatives,
                tolerated: e.tolerated,
                resources: e.resources,
            })
            .unwrap_or_default(),
        universe,
        policy_lints,
    })
}
