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
    /// A Terraform `aws_iam_policy_document` with an `aws_iam_policy` using it.
    pub terraform: String,
}

/// Builds the commands for a run named `name` and its minimal policy.
pub fn apply_commands(name: &str, policy: &serde_json::Value) -> Apply {
    let policy_name = format!("iam-prune-{}", slug(name, '-'));
    let account_id = account_of(policy).unwrap_or_else(|| "ACCOUNT_ID".to_string());
    let aws_cli = format!(
        "# Create the minimal policy as a customer managed policy (run in the run directory).\n\
         aws iam create-policy --policy-name {policy_name} --policy-document file://policy.json \\\n  \
         --description \"Minimal policy found by iam-prune for {name}\"\n\
         # Attach it to the workload's role (replace ROLE_NAME).\n\
         aws iam attach-role-policy --role-name ROLE_NAME \\\n  \
         --policy-arn arn:aws:iam::{account_id}:policy/{policy_name}\n\
         # Then, after the workload ran once under both, detach the broad policy it replaces.\n\
         aws iam detach-role-policy --role-name ROLE_NAME --policy-arn BROAD_POLICY_ARN\n"
    );
    Apply { terraform: terraform(name, &policy_name, policy), policy_name, account_id, aws_cli }
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

fn terraform(name: &str, policy_name: &str, policy: &serde_json::Value) -> String {
    let id = slug(name, '_');
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
        let a = apply_commands("flintrock-launch", &policy);
        assert_eq!(a.account_id, "690534650866");
        assert!(a.aws_cli.contains("--policy-arn arn:aws:iam::690534650866:policy/iam-prune-flintrock-launch"));
        assert_eq!(a.terraform.matches("statement {").count(), 2);
        assert!(a.terraform.contains("data \"aws_iam_policy_document\" \"flintrock_launch\""));
        assert!(a.terraform.contains("variable = \"iam:PassedToService\""));
        assert!(a.terraform.contains("resources = [\"*\"]"));
    }
}
