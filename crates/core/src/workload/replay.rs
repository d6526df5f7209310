//! Replaying a scenario under a candidate action set, through the evaluator.
//!
//! The candidate policy is the start policy with each `Allow` statement narrowed to the
//! candidate actions it covers; its resources, conditions and every `Deny` stay as written,
//! so a candidate never grants more than the start policy did.

use super::{DenialStyle, OnDenied, Scenario, Step};
use crate::actions::ActionSet;
use crate::catalog::{ActionId, Catalog};
use crate::eval::{ArnPattern, ContextValue, DecisionKind, EvalError, Evaluator, NamedPolicy, PolicySet, Request};
use crate::oracle::Denial;
use crate::policy::{Effect, Matcher, Policy, Spanned};
use std::collections::{HashMap, HashSet};

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum StepOutcome {
    /// Every call was allowed.
    Succeeded,
    /// Denied, then a fallback step succeeded.
    SucceededViaFallback {
        /// The fallback that worked.
        fallback: String,
    },
    /// Denied; the program tolerated it (or its fallbacks failed without aborting).
    Failed,
    /// Denied; the run aborted here.
    Aborted,
    /// Not run.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// One authorization of a step.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallTrace {
    /// Canonical action.
    pub action: String,
    /// Resource.
    pub resource: String,
    /// Decision.
    pub decision: DecisionKind,
    /// Why (with `explain`): statements that decided.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<String>,
}

/// One step of a trace.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepTrace {
    /// Step id.
    pub id: String,
    /// Operation.
    pub operation: String,
    /// What happened.
    pub outcome: StepOutcome,
    /// The calls evaluated (up to the first denied one).
    pub calls: Vec<CallTrace>,
}

/// A replay of the whole workload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Trace {
    /// Did the workload succeed?
    pub passed: bool,
    /// Steps in execution order.
    pub steps: Vec<StepTrace>,
    /// The denial that aborted the run.
    pub denied: Vec<Denial>,
    /// Denials the workload tolerated.
    pub tolerated: Vec<Denial>,
    /// Allowed (action, resource) pairs, for resource scoping of the result.
    #[serde(skip)]
    pub requests: Vec<(ActionId, String)>,
    /// Allowed passes to a service: (action, its `*:PassedToService` key, the service), for
    /// the result's conditions.
    #[serde(skip)]
    pub passed_to: Vec<(ActionId, String, String)>,
}

/// A scenario prepared for many replays.
pub struct Replay<'s> {
    scenario: &'s Scenario,
    /// Per start policy, per statement: the actions it covers.
    covered: Vec<Vec<ActionSet>>,
    /// Per distinct set of resource policies: the indices into `scenario.resource_policies`.
    groups: Vec<Vec<usize>>,
    /// Per (step index, call index): which group applies.
    call_group: HashMap<(usize, usize), usize>,
}

impl<'s> Replay<'s> {
    /// Prepares a scenario.
    pub fn new(scenario: &'s Scenario) -> Replay<'s> {
        let catalog = Catalog::embedded();
        let covered = scenario
            .start
            .iter()
            .map(|p| p.policy.statements.iter().map(|st| catalog.expand_statement(st)).collect())
            .collect();
        let patterns: Vec<ArnPattern> = scenario.resource_policies.iter().map(|(r, _)| ArnPattern::new(r)).collect();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut call_group = HashMap::new();
        for (si, step) in scenario.steps.iter().enumerate() {
            for (ci, call) in step.calls.iter().enumerate() {
                let applies: Vec<usize> =
                    patterns.iter().enumerate().filter(|(_, p)| p.is_match(&call.resource)).map(|(i, _)| i).collect();
                let g = match groups.iter().position(|g| g == &applies) {
                    Some(g) => g,
                    None => {
                        groups.push(applies);
                        groups.len() - 1
                    }
                };
                call_group.insert((si, ci), g);
            }
        }
        Replay { scenario, covered, groups, call_group }
    }

    /// The start policies narrowed to `candidate`.
    pub fn candidate_policies(&self, candidate: &ActionSet) -> Vec<NamedPolicy> {
        let catalog = Catalog::embedded();
        let mut out = Vec::new();
        for (pi, p) in self.scenario.start.iter().enumerate() {
            let mut statements = Vec::new();
            for (si, st) in p.policy.statements.iter().enumerate() {
                if st.effect == Effect::Deny {
                    statements.push(st.clone());
                    continue;
                }
                let Some(cov) = self.covered.get(pi).and_then(|c| c.get(si)) else { continue };
                let keep = cov.intersection(candidate);
                if keep.is_empty() {
                    continue;
                }
                let mut st = st.clone();
                st.actions = Some(Matcher {
                    negated: false,
                    patterns: keep.iter().map(|a| Spanned::synthetic(catalog.name(a))).collect(),
                });
                statements.push(st);
            }
            out.push(NamedPolicy::new(
                format!("{} (candidate)", p.name),
                Policy { version: p.policy.version.clone(), id: p.policy.id.clone(), statements },
            ));
        }
        out
    }

    fn evaluators(&self, candidate: &ActionSet) -> Result<Vec<Evaluator>, EvalError> {
        let s = self.scenario;
        let mut identity = self.candidate_policies(candidate);
        identity.extend(s.fixed.iter().cloned());
        self.groups
            .iter()
            .map(|g| {
                Evaluator::compile(&PolicySet {
                    identity: identity.clone(),
                    boundary: s.boundary.clone(),
                    session: s.session.clone(),
                    scps: s.scps.clone(),
                    rcps: s.rcps.clone(),
                    resource: g.iter().filter_map(|&i| s.resource_policies.get(i)).map(|(_, p)| p.clone()).collect(),
                })
            })
            .collect()
    }

    /// Replays the workload under `candidate`; with `explain`, records the deciding statements.
    pub fn run(&self, candidate: &ActionSet, explain: bool) -> Result<Trace, EvalError> {
        let evaluators = self.evaluators(candidate)?;
        let mut run = Run {
            replay: self,
            evaluators: &evaluators,
            explain,
            state: self.scenario.initial_state.iter().cloned().collect(),
            results: HashMap::new(),
            trace: Trace {
                passed: true,
                steps: Vec::new(),
                denied: Vec::new(),
                tolerated: Vec::new(),
                requests: Vec::new(),
                passed_to: Vec::new(),
            },
        };
        for (i, step) in self.scenario.steps.iter().enumerate() {
            if step.fallback_only {
                continue;
            }
            if run.step(i, 0) == StepOutcome::Aborted {
                run.trace.passed = false;
                break;
            }
        }
        Ok(run.trace)
    }
}

struct Run<'r, 's> {
    replay: &'r Replay<'s>,
    evaluators: &'r [Evaluator],
    explain: bool,
    state: HashSet<String>,
    results: HashMap<String, bool>,
    trace: Trace,
}

impl Run<'_, '_> {
    fn step(&mut self, index: usize, depth: usize) -> StepOutcome {
        let scenario = self.replay.scenario;
        let Some(step) = scenario.steps.get(index) else { return StepOutcome::Failed };
        if let Some(reason) = self.skip_reason(step) {
            let outcome = StepOutcome::Skipped { reason };
            self.trace.steps.push(StepTrace {
                id: step.id.clone(),
                operation: step.operation.clone(),
                outcome: outcome.clone(),
                calls: Vec::new(),
            });
            return outcome;
        }
        let catalog = Catalog::embedded();
        let mut calls = Vec::new();
        let mut denied_call = None;
        for (ci, call) in step.calls.iter().enumerate() {
            let g = self.replay.call_group.get(&(index, ci)).copied().unwrap_or(0);
            let Some(ev) = self.evaluators.get(g) else { continue };
            let req = Request {
                principal: &scenario.principal,
                action: &call.action,
                resource: &call.resource,
                context: &call.context,
            };
            let (decision, matched) = if self.explain {
                let d = ev.evaluate(&req);
                (d.kind, d.matched.iter().map(|m| format!("{} / {} ({:?})", m.policy, m.statement, m.effect)).collect())
            } else {
                (ev.decide(&req), Vec::new())
            };
            calls.push(CallTrace { action: catalog.name(call.id), resource: call.resource.clone(), decision, matched });
            if decision == DecisionKind::Allow {
                self.trace.requests.push((call.id, call.resource.clone()));
                // Only for actions AWS sends the key with: a scenario or step context may hold
                // it for every call of the step, and a condition on a key a request never has
                // would deny that action on AWS. The key is the catalog's (`iam:PassedToService`);
                // every trial replays, so nothing is allocated for actions without one.
                let key = catalog.info(call.id).and_then(|i| {
                    i.condition_keys.split(',').map(str::trim).find(|k| {
                        k.get(k.len().saturating_sub(16)..).is_some_and(|t| t.eq_ignore_ascii_case(":PassedToService"))
                    })
                });
                if let Some(key) = key {
                    if let Some(ContextValue::Single(service)) = call.context.get(key) {
                        self.trace.passed_to.push((call.id, key.to_string(), service.clone()));
                    }
                }
            } else {
                denied_call = Some(call);
                break;
            }
        }
        let Some(call) = denied_call else {
            for f in &step.sets {
                self.state.insert(f.clone());
            }
            self.results.insert(step.id.clone(), true);
            self.trace.steps.push(StepTrace {
                id: step.id.clone(),
                operation: step.operation.clone(),
                outcome: StepOutcome::Succeeded,
                calls,
            });
            return StepOutcome::Succeeded;
        };
        let denial = denial_of(step, &catalog.name(call.id), &call.resource, &scenario.principal);
        let trace_index = self.trace.steps.len();
        self.trace.steps.push(StepTrace {
            id: step.id.clone(),
            operation: step.operation.clone(),
            outcome: StepOutcome::Failed,
            calls,
        });
        let outcome = match step.on_denied {
            OnDenied::Abort => {
                self.trace.denied.push(denial);
                StepOutcome::Aborted
            }
            OnDenied::Continue => {
                self.trace.tolerated.push(denial);
                StepOutcome::Failed
            }
            OnDenied::Fallback => {
                // The program tries each fallback in turn; the first that works stands in.
                let mut result = StepOutcome::Failed;
                if depth < 8 {
                    for fb in &step.fallback {
                        let Some(fi) = scenario.steps.iter().position(|s| &s.id == fb) else { continue };
                        match self.step(fi, depth + 1) {
                            StepOutcome::Succeeded | StepOutcome::SucceededViaFallback { .. } => {
                                result = StepOutcome::SucceededViaFallback { fallback: fb.clone() };
                                break;
                            }
                            StepOutcome::Aborted => {
                                result = StepOutcome::Aborted;
                                break;
                            }
                            _ => {}
                        }
                    }
                }
                if result == StepOutcome::Failed {
                    self.trace.tolerated.push(denial);
                }
                result
            }
        };
        let succeeded = matches!(outcome, StepOutcome::SucceededViaFallback { .. });
        if succeeded {
            for f in &step.sets {
                self.state.insert(f.clone());
            }
        }
        self.results.insert(step.id.clone(), succeeded);
        if let Some(t) = self.trace.steps.get_mut(trace_index) {
            t.outcome = outcome.clone();
        }
        outcome
    }

    fn skip_reason(&self, step: &Step) -> Option<String> {
        if let Some(flag) = &step.unless {
            if self.state.contains(flag) {
                return Some(format!("state `{flag}` is set"));
            }
        }
        if let Some(s) = &step.if_succeeded {
            if self.results.get(s) != Some(&true) {
                return Some(format!("runs only if `{s}` succeeded"));
            }
        }
        if let Some(s) = &step.if_failed {
            if self.results.get(s) != Some(&false) {
                return Some(format!("runs only if `{s}` failed"));
            }
        }
        None
    }
}

/// The error the program would print, in the style of its SDK.
fn denial_of(step: &Step, action: &str, resource: &str, principal: &str) -> Denial {
    let op = step.operation.rsplit(':').next().unwrap_or(&step.operation).to_string();
    let (action_hint, message) = match step.denial {
        DenialStyle::Named => (
            Some(action.to_string()),
            format!("An error occurred (AccessDenied) when calling the {op} operation: User: {principal} is not authorized to perform: {action} on resource: {resource}"),
        ),
        DenialStyle::Unnamed => (None, format!("An error occurred (AccessDenied) when calling the {op} operation: Access Denied")),
        DenialStyle::Encoded => (
            None,
            // Opaque, as AWS's is: only sts:DecodeAuthorizationMessage reveals the action.
            format!("An error occurred (UnauthorizedOperation) when calling the {op} operation: You are not authorized to perform this operation. Encoded authorization failure message: {}", opaque(action, resource)),
        ),
    };
    Denial {
        action: action_hint,
        resource: Some(resource.to_string()),
        operation: Some(step.operation.clone()),
        message,
    }
}

/// A stand-in for AWS's encrypted failure message: stable, and not readable as an action.
fn opaque(action: &str, resource: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (action, resource).hash(&mut h);
    format!("{:016x}{:016x}", h.finish(), h.finish().rotate_left(17))
}
