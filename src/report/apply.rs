//! How to apply the result: the `aws iam` commands and the Terraform that install the minimal
//! policy. A report that ends in "now do it yourself" gets applied wrong; these are ready to
//! paste, with placeholders only for what the run cannot know (the role to attach it to).

use serde::Serialize;
use std::fmt::Write;

/// Ready-to-paste ways to install the minimal policy.
#[derive(Debug, Clone, Serialize)]
pub struct Apply {
    /// The managed policy name the commands create.
    pub policy_name: String,
    /// The account id taken from the policy's resource ARNs (`ACCOUNT_ID` when none names one).
    pub account_id: String,
    /// Shell commands (AWS CLI v2), run from the run directory (they read `policy.json`).
    pub aws_cli: String,
    /// A Terraform `aws_iam_policy_document` with an `aws_iam_policy` using it (one pair per
    /// part when the policy is split).
    pub terraform: String,
    /// Managed policies the commands create: 1, or the number of `policy-part-N.json` files
    /// when the policy is over the managed-policy limit.
    pub parts: usize,
}

/// What the workload runs as, for the attach and detach commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalType {
    /// An IAM role (`attach-role-policy --role-name`).
    Role,
    /// An IAM user (`attach-user-policy --user-name`): a workload pruned with `--principal user`.
    User,
}

impl PrincipalType {
    /// (CLI noun, name flag, placeholder).
    fn words(self) -> (&'static str, &'static str, &'static str) {
        match self {
            PrincipalType::Role => ("role", "--role-name", "ROLE_NAME"),
            PrincipalType::User => ("user", "--user-name", "USER_NAME"),
        }
    }
}

/// Builds the commands for a run named `name` and its minimal policy, to be created as the
/// managed policy `iam-prune-<policy_name>`; with `parts` (the policy split to fit managed
/// policies, `policy-part-N.json`), one managed policy per part.
pub fn apply_commands(
    name: &str,
    policy_name: &str,
    principal: PrincipalType,
    policy: &serde_json::Value,
    parts: &[serde_json::Value],
) -> Apply {
    let policy_name = format!("iam-prune-{}", slug(policy_name, '-'));
    let account_id = account_of(policy).unwrap_or_else(|| "ACCOUNT_ID".to_string());
    if !parts.is_empty() {
        return split_commands(name, &policy_name, principal, account_id, parts);
    }
    let (noun, flag, who) = principal.words();
    let aws_cli = format!(
        "# Create the minimal policy as a customer managed policy (run in the run directory).\n\
         aws iam create-policy --policy-name {policy_name} --policy-document file://policy.json \\\n  \
         --description \"Minimal policy found by iam-prune for {name}\"\n\
         # Attach it to the workload's {noun} (replace {who}).\n\
         aws iam attach-{noun}-policy {flag} {who} \\\n  \
         --policy-arn arn:aws:iam::{account_id}:policy/{policy_name}\n\
         # Then, after the workload ran once under both, detach the broad policy it replaces.\n\
         aws iam detach-{noun}-policy {flag} {who} --policy-arn BROAD_POLICY_ARN\n"
    );
    let terraform = terraform(&slug(policy_name.trim_start_matches("iam-prune-"), '_'), &policy_name, policy);
    Apply { terraform, policy_name, account_id, aws_cli, parts: 1 }
}

/// The commands for a policy split into parts: `<policy name>-1`, `-2`, ... from
/// `policy-part-1.json`, ..., all attached to the role.
fn split_commands(
    name: &str,
    policy_name: &str,
    principal: PrincipalType,
    account_id: String,
    parts: &[serde_json::Value],
) -> Apply {
    let (noun, flag, who) = principal.words();
    let tf_id = slug(policy_name.trim_start_matches("iam-prune-"), '_');
    let n = parts.len();
    let mut aws_cli = format!(
        "# The minimal policy is over the 6,144-character managed-policy limit: {n} managed policies,\n\
         # one per policy-part-N.json (run in the run directory).\n"
    );
    let mut tf = String::new();
    for (i, part) in parts.iter().enumerate() {
        let k = i + 1;
        let _ = write!(
            aws_cli,
            "aws iam create-policy --policy-name {policy_name}-{k} --policy-document file://policy-part-{k}.json \\\n  \
             --description \"Minimal policy found by iam-prune for {name}, part {k} of {n}\"\n"
        );
        tf.push_str(&terraform(&format!("{tf_id}_{k}"), &format!("{policy_name}-{k}"), part));
        tf.push('\n');
    }
    let _ = writeln!(aws_cli, "# Attach them to the workload's {noun} (replace {who}).");
    for k in 1..=n {
        let _ = writeln!(
            aws_cli,
            "aws iam attach-{noun}-policy {flag} {who} --policy-arn arn:aws:iam::{account_id}:policy/{policy_name}-{k}"
        );
    }
    let _ = writeln!(
        aws_cli,
        "# Then, after the workload ran once under them, detach the broad policy they replace.\n\
         aws iam detach-{noun}-policy {flag} {who} --policy-arn BROAD_POLICY_ARN"
    );
    Apply { terraform: tf, policy_name: policy_name.to_string(), account_id, aws_cli, parts: n }
}

fn slug(name: &str, sep: char) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { sep }).collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("p{sep}{s}")
    } else {
        s
    }
}

/// The first 12-digit account id among the policy's resource ARNs.
fn account_of(policy: &serde_json::Value) -> Option<String> {
    let statements = policy.get("Statement")?.as_array()?;
    statements.iter().flat_map(|st| strings(st.get("Resource"))).find_map(|arn| {
        let account = arn.split(':').nth(4)?;
        (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.to_string())
    })
}

fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

fn hcl_list(items: &[String]) -> String {
    let quoted: Vec<String> =
        items.iter().map(|s| serde_json::Value::String(s.replace("${", "$${")).to_string()).collect();
    format!("[{}]", quoted.join(", "))
}

fn terraform(id: &str, policy_name: &str, policy: &serde_json::Value) -> String {
    let mut out = format!("data \"aws_iam_policy_document\" \"{id}\" {{\n");
    for st in policy.get("Statement").and_then(|s| s.as_array()).into_iter().flatten() {
        out.push_str("  statement {\n");
        if let Some(sid) = st.get("Sid").and_then(|s| s.as_str()) {
            let _ = writeln!(out, "    sid       = {}", serde_json::Value::String(sid.into()));
        }
        let effect = st.get("Effect").and_then(|s| s.as_str()).unwrap_or("Allow");
        let _ = writeln!(out, "    effect    = \"{effect}\"");
        for (key, attr) in [
            ("Action", "actions"),
            ("NotAction", "not_actions"),
            ("Resource", "resources"),
            ("NotResource", "not_resources"),
        ] {
            let v = strings(st.get(key));
            if !v.is_empty() {
                let _ = writeln!(out, "    {attr:<9} = {}", hcl_list(&v));
            }
        }
        for (op, keys) in st.get("Condition").and_then(|c| c.as_object()).into_iter().flatten() {
            for (key, values) in keys.as_object().into_iter().flatten() {
                let vals: Vec<String> = match values {
                    serde_json::Value::Array(a) => {
                        a.iter().map(|v| v.as_str().map(String::from).unwrap_or_else(|| v.to_string())).collect()
                    }
                    v => vec![v.as_str().map(String::from).unwrap_or_else(|| v.to_string())],
                };
                let _ = write!(
                    out,
                    "    condition {{\n      test     = \"{op}\"\n      variable = \"{key}\"\n      values   = {}\n    }}\n",
                    hcl_list(&vals)
                );
            }
        }
        out.push_str("  }\n");
    }
    let _ = write!(
        out,
        "}}\n\nresource \"aws_iam_policy\" \"{id}\" {{\n  name   = \"{policy_name}\"\n  policy = data.aws_iam_policy_document.{id}.json\n}}\n"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_name_the_account_and_terraform_lists_each_statement() {
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Iam", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": ["arn:aws:iam::690534650866:role/R"],
             "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}},
            {"Sid": "S3", "Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": ["*"]}]});
        let a = apply_commands("flintrock-launch", "flintrock-launch", PrincipalType::Role, &policy, &[]);
        assert_eq!(a.account_id, "690534650866");
        assert!(a.aws_cli.contains("--policy-arn arn:aws:iam::690534650866:policy/iam-prune-flintrock-launch"));
        assert_eq!(a.terraform.matches("statement {").count(), 2);
        assert!(a.terraform.contains("data \"aws_iam_policy_document\" \"flintrock_launch\""));
        assert!(a.terraform.contains("variable = \"iam:PassedToService\""));
        assert!(a.terraform.contains("resources = [\"*\"]"));
    }

    #[test]
    fn a_split_policy_gets_one_managed_policy_per_part() {
        let part = |sid: &str| {
            serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Sid": sid, "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}]})
        };
        let whole = serde_json::json!({"Version": "2012-10-17", "Statement": []});
        let a = apply_commands("iomete", "iomete", PrincipalType::Role, &whole, &[part("A"), part("B")]);
        assert!(a.aws_cli.contains("--policy-name iam-prune-iomete-1 --policy-document file://policy-part-1.json"));
        assert!(a.aws_cli.contains("--policy-name iam-prune-iomete-2 --policy-document file://policy-part-2.json"));
        assert!(a.aws_cli.contains("--policy-arn arn:aws:iam::ACCOUNT_ID:policy/iam-prune-iomete-2"));
        assert_eq!(a.terraform.matches("resource \"aws_iam_policy\"").count(), 2);
        assert!(a.terraform.contains("data \"aws_iam_policy_document\" \"iomete_2\""));
        assert!(a.terraform.contains("name   = \"iam-prune-iomete-1\""));
    }

    #[test]
    fn a_workload_run_as_a_user_gets_user_commands() {
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": []});
        let a = apply_commands("IAMFullAccess", "etl-nightly", PrincipalType::User, &policy, &[]);
        assert!(a.aws_cli.contains("aws iam attach-user-policy --user-name USER_NAME"), "{}", a.aws_cli);
        assert!(a.aws_cli.contains("detach-user-policy --user-name USER_NAME"), "{}", a.aws_cli);
        assert!(!a.aws_cli.contains("role"), "{}", a.aws_cli);
        assert_eq!(a.policy_name, "iam-prune-etl-nightly");
    }
}
