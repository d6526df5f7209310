//! Risk: what the kept actions could still do and what pruning took away. A security engineer
//! signing off a pruned policy asks the same questions every time: can it escalate privileges,
//! is anything still a wildcard, is it scoped to resources, does it fit IAM's limits, and which
//! needs would CloudTrail never have shown.

use crate::actions::ActionSet;
use crate::catalog::Catalog;
use crate::policy::write::SizeLimit;
use crate::prune::summary::Summary;
use serde::Serialize;

/// One privilege-escalation-capable action.
#[derive(Debug, Clone, Copy)]
pub struct Escalation {
    /// The action, canonical name.
    pub action: &'static str,
    /// The published method(s) it enables.
    pub method: &'static str,
    /// Actions it needs alongside (empty: escalates alone).
    pub with: &'static [&'static str],
}

/// Actions that let a principal escalate its own privileges, sorted by action name.
///
/// Source: Spencer Gietzen, Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and
/// Mitigation" (2018, <https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/>),
/// methods 1–21, and its companion tool Pacu's `iam__privesc_scan` module; `sts:AssumeRole` is
/// the second half of methods 9 and 14 (attach to or re-trust a role, then assume it).
pub const ESCALATIONS: &[Escalation] = &[
    Escalation {
        action: "cloudformation:CreateStack",
        method: "20: create a stack that runs as a passed role",
        with: &["iam:PassRole"],
    },
    Escalation {
        action: "datapipeline:CreatePipeline",
        method: "21: a pipeline that runs commands as a passed role",
        with: &["iam:PassRole", "datapipeline:PutPipelineDefinition"],
    },
    Escalation {
        action: "datapipeline:PutPipelineDefinition",
        method: "21: a pipeline that runs commands as a passed role",
        with: &["iam:PassRole", "datapipeline:CreatePipeline"],
    },
    Escalation {
        action: "ec2:RunInstances",
        method: "3: an instance whose profile holds a passed role",
        with: &["iam:PassRole"],
    },
    Escalation {
        action: "glue:CreateDevEndpoint",
        method: "18: a Glue dev endpoint that runs as a passed role",
        with: &["iam:PassRole"],
    },
    Escalation {
        action: "glue:UpdateDevEndpoint",
        method: "19: replace the SSH key of an existing dev endpoint",
        with: &[],
    },
    Escalation { action: "iam:AddUserToGroup", method: "13: join a more privileged group", with: &[] },
    Escalation { action: "iam:AttachGroupPolicy", method: "8: attach any managed policy to one's group", with: &[] },
    Escalation {
        action: "iam:AttachRolePolicy",
        method: "9: attach any managed policy to an assumable role",
        with: &["sts:AssumeRole"],
    },
    Escalation { action: "iam:AttachUserPolicy", method: "7: attach any managed policy to oneself", with: &[] },
    Escalation { action: "iam:CreateAccessKey", method: "4: create access keys for another user", with: &[] },
    Escalation { action: "iam:CreateLoginProfile", method: "5: set a console password for another user", with: &[] },
    Escalation {
        action: "iam:CreatePolicyVersion",
        method: "1: rewrite a policy one holds (new default version)",
        with: &[],
    },
    Escalation {
        action: "iam:PassRole",
        method: "3, 15, 16, 18, 20, 21: hand a role to compute one controls",
        with: &[
            "ec2:RunInstances",
            "lambda:CreateFunction",
            "glue:CreateDevEndpoint",
            "cloudformation:CreateStack",
            "datapipeline:CreatePipeline",
        ],
    },
    Escalation { action: "iam:PutGroupPolicy", method: "11: write an inline policy on one's group", with: &[] },
    Escalation { action: "iam:PutRolePolicy", method: "12: write an inline policy on an assumable role", with: &[] },
    Escalation { action: "iam:PutUserPolicy", method: "10: write an inline policy on oneself", with: &[] },
    Escalation {
        action: "iam:SetDefaultPolicyVersion",
        method: "2: switch a policy to a more permissive old version",
        with: &[],
    },
    Escalation {
        action: "iam:UpdateAssumeRolePolicy",
        method: "14: trust oneself in a role's trust policy",
        with: &["sts:AssumeRole"],
    },
    Escalation { action: "iam:UpdateLoginProfile", method: "6: change another user's console password", with: &[] },
    Escalation {
        action: "lambda:CreateEventSourceMapping",
        method: "16: trigger a function that runs as a passed role",
        with: &["iam:PassRole", "lambda:CreateFunction"],
    },
    Escalation {
        action: "lambda:CreateFunction",
        method: "15, 16: a function that runs as a passed role",
        with: &["iam:PassRole"],
    },
    Escalation {
        action: "lambda:InvokeFunction",
        method: "15: invoke a function that runs as a passed role",
        with: &["iam:PassRole", "lambda:CreateFunction"],
    },
    Escalation {
        action: "lambda:UpdateFunctionCode",
        method: "17: replace the code of a function with a privileged role",
        with: &[],
    },
    Escalation {
        action: "sts:AssumeRole",
        method: "9, 14: assume a role one has widened or re-trusted",
        with: &["iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy"],
    },
];

/// Whether an escalation-capable action was kept or removed, and on what.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationRow {
    /// The action.
    pub action: String,
    /// Kept in the minimal policy (false: removed by pruning).
    pub kept: bool,
    /// The published method.
    pub method: String,
    /// Actions it needs alongside.
    pub with: Vec<String>,
    /// Resources the minimal policy grants it on (empty when removed; `*` when unscoped).
    pub resources: Vec<String>,
}

/// An action of the minimal set that CloudTrail would not show.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceGap {
    /// The action.
    pub action: String,
    /// Why no event records it.
    pub why: String,
}

/// The policy's size against one IAM limit.
#[derive(Debug, Clone, Serialize)]
pub struct SizeRow {
    /// Which limit.
    pub limit: SizeLimit,
    /// Its human name.
    pub name: String,
    /// Its size in characters (whitespace not counted).
    pub chars: usize,
    /// The policy does not fit.
    pub exceeded: bool,
}

/// How many kept actions are scoped to resource ARNs.
#[derive(Debug, Clone, Serialize)]
pub struct Scoping {
    /// Kept actions granted on specific ARNs only.
    pub scoped: usize,
    /// Kept actions granted on `*`.
    pub unscoped: usize,
    /// Those actions.
    pub unscoped_actions: Vec<String>,
}

/// The risk section of a report.
#[derive(Debug, Clone, Serialize)]
pub struct Risk {
    /// Escalation-capable actions of the start policy, kept or removed.
    pub privilege_escalation: Vec<EscalationRow>,
    /// Action or resource patterns with `*` or `?` left in the minimal policy.
    pub wildcards: Vec<String>,
    /// Resource scoping achieved.
    pub scoping: Scoping,
    /// The minimal policy's size, in characters as IAM counts them.
    pub policy_size: usize,
    /// That size against each IAM limit.
    pub size_limits: Vec<SizeRow>,
    /// Kept actions CloudTrail never logs: recorded activity could not have shown the need.
    pub evidence_gaps: Vec<EvidenceGap>,
}

/// Assesses the risk of a run's result.
pub fn assess(c: &Catalog, universe: &ActionSet, minimal: &ActionSet, summary: &Summary) -> Risk {
    let resources_of = |action: &str| -> Vec<String> {
        summary.resources.get(action).cloned().filter(|r| !r.is_empty()).unwrap_or_else(|| vec!["*".to_string()])
    };
    let privilege_escalation = ESCALATIONS
        .iter()
        .filter_map(|e| {
            let id = c.lookup(e.action)?;
            let kept = minimal.contains(id);
            if !kept && !universe.contains(id) {
                return None;
            }
            Some(EscalationRow {
                action: e.action.to_string(),
                kept,
                method: e.method.to_string(),
                with: e.with.iter().map(|s| s.to_string()).collect(),
                resources: if kept { resources_of(e.action) } else { Vec::new() },
            })
        })
        .collect();
    let mut wildcards = Vec::new();
    for st in summary.policy.get("Statement").and_then(|s| s.as_array()).into_iter().flatten() {
        for key in ["Action", "NotAction", "Resource", "NotResource"] {
            for v in strings(st.get(key)) {
                if v.contains(['*', '?']) && !wildcards.contains(&v) {
                    wildcards.push(v);
                }
            }
        }
    }
    let mut unscoped_actions: Vec<String> =
        summary.minimal.iter().filter(|a| resources_of(a).iter().any(|r| r == "*")).cloned().collect();
    unscoped_actions.sort();
    let scoping = Scoping {
        scoped: summary.minimal.len() - unscoped_actions.len(),
        unscoped: unscoped_actions.len(),
        unscoped_actions,
    };
    let size_limits = SizeLimit::ALL
        .iter()
        .map(|&l| SizeRow {
            limit: l,
            name: l.name().to_string(),
            chars: l.chars(),
            exceeded: summary.policy_size > l.chars(),
        })
        .collect();
    let evidence_gaps = crate::trail::never_logged()
        .iter()
        .filter(|n| c.lookup(n.action).is_some_and(|id| minimal.contains(id)))
        .map(|n| EvidenceGap { action: n.action.to_string(), why: n.why.to_string() })
        .collect();
    Risk { privilege_escalation, wildcards, scoping, policy_size: summary.policy_size, size_limits, evidence_gaps }
}

fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalation_table_is_sorted_and_in_the_catalog() {
        let c = Catalog::embedded();
        for w in ESCALATIONS.windows(2) {
            let [a, b] = w else { continue };
            assert!(a.action < b.action, "ESCALATIONS not sorted: {} before {}", a.action, b.action);
        }
        for e in ESCALATIONS {
            let id = c.lookup(e.action).unwrap_or_else(|| panic!("{} is not in the catalog", e.action));
            assert_eq!(c.name(id), e.action, "not the canonical spelling");
            for w in e.with {
                assert!(c.lookup(w).is_some(), "{w} (with {}) is not in the catalog", e.action);
            }
        }
    }
}
