//! `scenario check`: is the scenario consistent, and do its expectations hold?

use super::{OnDenied, Replay, Scenario};
use crate::catalog::Catalog;
use crate::policy::lint::Severity;
use crate::policy::Pos;
use std::collections::HashSet;

/// One problem found in a scenario.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    /// Error (the scenario is wrong) or warning.
    pub severity: Severity,
    /// Where (1:1 when it concerns the whole file).
    pub line: u32,
    /// Column.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

fn finding(severity: Severity, pos: Pos, message: String) -> Finding {
    Finding { severity, line: pos.line.max(1), column: pos.column.max(1), message }
}

/// Checks structure (references, reachability), policy lints, and the expectations by replay.
pub fn check(s: &Scenario) -> Vec<Finding> {
    let c = Catalog::embedded();
    let mut out = Vec::new();
    let top = Pos { line: 1, column: 1 };
    for (file, l) in &s.policy_lints {
        out.push(finding(
            Severity::Warning,
            top,
            format!("policy {file}:{}:{}: [{}] {}", l.line, l.column, l.code, l.message),
        ));
    }
    let ids: HashSet<&str> = s.steps.iter().map(|st| st.id.as_str()).collect();
    if ids.len() != s.steps.len() {
        out.push(finding(Severity::Error, top, "step ids are not unique".into()));
    }
    let mut referenced: HashSet<&str> = HashSet::new();
    let settable: HashSet<&str> = s
        .steps
        .iter()
        .flat_map(|st| st.sets.iter().map(String::as_str))
        .chain(s.initial_state.iter().map(String::as_str))
        .collect();
    for (i, st) in s.steps.iter().enumerate() {
        for fb in &st.fallback {
            referenced.insert(fb.as_str());
            if !ids.contains(fb.as_str()) {
                out.push(finding(
                    Severity::Error,
                    st.pos,
                    format!("step `{}` falls back to unknown step `{fb}`", st.id),
                ));
            }
        }
        if st.on_denied == OnDenied::Fallback && st.fallback.is_empty() {
            out.push(finding(
                Severity::Error,
                st.pos,
                format!("step `{}` has on_denied = \"fallback\" but no `fallback` steps", st.id),
            ));
        }
        for dep in st.if_succeeded.iter().chain(&st.if_failed) {
            match s.steps.iter().position(|x| &x.id == dep) {
                None => out.push(finding(
                    Severity::Error,
                    st.pos,
                    format!("step `{}` depends on unknown step `{dep}`", st.id),
                )),
                Some(j) if j >= i && !st.fallback_only => out.push(finding(
                    Severity::Error,
                    st.pos,
                    format!("step `{}` depends on `{dep}`, which runs later: the step is unreachable", st.id),
                )),
                _ => {}
            }
        }
        if let Some(flag) = &st.unless {
            if s.initial_state.contains(flag) && !s.steps.iter().any(|x| x.sets.contains(flag)) {
                out.push(finding(
                    Severity::Warning,
                    st.pos,
                    format!("step `{}` never runs: state `{flag}` is set initially", st.id),
                ));
            } else if !settable.contains(flag.as_str()) {
                out.push(finding(
                    Severity::Warning,
                    st.pos,
                    format!("step `{}` is skipped unless `{flag}`, which nothing sets", st.id),
                ));
            }
        }
        for call in &st.calls {
            if !s.universe.contains(call.id)
                && !s.fixed.iter().any(|p| c.expand_policy(&p.policy).allowed.contains(call.id))
            {
                out.push(finding(
                    Severity::Warning,
                    call.pos,
                    format!(
                        "`{}` is allowed by neither the start nor the fixed policies: the step is always denied",
                        call.action
                    ),
                ));
            }
        }
    }
    for st in &s.steps {
        if st.fallback_only && !referenced.contains(st.id.as_str()) {
            out.push(finding(
                Severity::Error,
                st.pos,
                format!("step `{}` is fallback-only but no step falls back to it: unreachable", st.id),
            ));
        }
    }
    for a in s.expect.minimal.iter().chain(s.expect.alternatives.iter().flatten()) {
        match c.lookup(a) {
            None => out.push(finding(Severity::Error, top, format!("expected action `{a}` is not in the catalog"))),
            Some(id) if !s.uses(id) => {
                out.push(finding(Severity::Error, top, format!("expected action `{a}` is used by no step")))
            }
            Some(id) if !s.universe.contains(id) => out.push(finding(
                Severity::Error,
                top,
                format!("expected action `{a}` is not in the start policy: it cannot be pruned to"),
            )),
            _ => {}
        }
    }
    for a in &s.expect.tolerated {
        let tolerant = c.lookup(a).is_some_and(|id| {
            s.steps.iter().any(|st| st.on_denied != OnDenied::Abort && st.calls.iter().any(|x| x.id == id))
        });
        if !tolerant {
            out.push(finding(
                Severity::Error,
                top,
                format!("`{a}` is expected tolerated, but no step that uses it continues or falls back when denied"),
            ));
        }
    }
    // The expectations, by replay.
    let replay = Replay::new(s);
    match replay.run(&s.universe, false) {
        Err(e) => out.push(finding(
            Severity::Error,
            top,
            crate::with_help(format!("the scenario's policies do not compile: {e}"), e.help()),
        )),
        Ok(t) if !t.passed => out.push(finding(
            Severity::Error,
            top,
            format!(
                "the workload fails even under the whole start policy: {}",
                t.denied.first().map(|d| d.message.as_str()).unwrap_or("a step aborted without a denial")
            ),
        )),
        Ok(_) => {
            for (n, set) in s.acceptable_minimal_sets().iter().enumerate() {
                let label = if n == 0 { "the expected minimal set".to_string() } else { format!("alternative #{n}") };
                match replay.run(set, false) {
                    Ok(t) if !t.passed => out.push(finding(
                        Severity::Error,
                        top,
                        format!(
                            "{label} does not pass: {}",
                            t.denied.first().map(|d| d.message.clone()).unwrap_or_default()
                        ),
                    )),
                    Ok(_) => {
                        for a in set.iter() {
                            let mut less = set.clone();
                            less.remove(a);
                            if let Ok(t) = replay.run(&less, false) {
                                if t.passed {
                                    out.push(finding(
                                        Severity::Error,
                                        top,
                                        format!("{label} is not minimal: it passes without `{}`", c.name(a)),
                                    ));
                                }
                            }
                        }
                    }
                    Err(e) => {
                        out.push(finding(Severity::Error, top, crate::with_help(format!("{label}: {e}"), e.help())))
                    }
                }
            }
        }
    }
    out
}
