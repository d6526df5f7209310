//! The AWS backend's command-line flags. They are parsed here and resolved once into an
//! [`AwsSpec`], which is what the rest of the code and the journal use: renaming a flag never
//! changes the on-disk format.

use super::apply::ApplyMode;
use super::sandbox::PrincipalKind;
use super::setup::AwsSpec;
use clap::builder::{PossibleValuesParser, TypedValueParser};

/// Flags of the AWS backend, flattened into `iam-prune prune` (and `sandbox run`, and a
/// scheduled command job's `aws_args`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// The workload: a shell command run once per trial with the trial's AWS credentials.
    #[arg(long = "run", value_name = "COMMAND")]
    pub run: Option<String>,
    /// The start policy: an AWS managed policy name or ARN, a file, or a live policy ARN.
    #[arg(long, value_name = "POLICY")]
    pub start: Option<String>,
    /// Policies the sandbox always holds and that are never pruned (repeatable).
    #[arg(long, value_name = "POLICY")]
    pub fixed: Vec<String>,
    /// AWS profile.
    #[arg(long)]
    pub profile: Option<String>,
    /// AWS region for STS and the workload.
    #[arg(long)]
    pub region: Option<String>,
    /// Endpoint override for every AWS call (moto, LocalStack); AWS_ENDPOINT_URL works too.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// A trial passes only if the workload's output matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub pass_if: Option<String>,
    /// A trial fails if the workload's output matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub fail_if: Option<String>,
    /// Only authorization errors count as failure.
    #[arg(long)]
    pub fail_on_denied_only: bool,
    /// Seconds before a workload run is killed (and the trial fails) [default: 600].
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Print the IAM calls that would be made, make none.
    #[arg(long)]
    pub dry_run: bool,
    /// How candidates are applied [default: auto]: auto (session policies where the endpoint
    /// is proven to enforce them, else policy versions), session, version.
    #[arg(long, value_parser = PossibleValuesParser::new(ApplyMode::NAMES).try_map(|s| s.parse::<ApplyMode>()))]
    pub apply: Option<ApplyMode>,
    /// What the workload runs as: a sandbox role (temporary credentials), or a sandbox user
    /// with an access key for workloads that need long-lived keys (policy versions only)
    /// [default: role].
    #[arg(long, value_parser = PossibleValuesParser::new(PrincipalKind::NAMES).try_map(|s| s.parse::<PrincipalKind>()))]
    pub principal: Option<PrincipalKind>,
}

impl AwsArgs {
    /// The run these flags describe, as its journal records it.
    pub fn spec(&self) -> AwsSpec {
        AwsSpec {
            run: self.run.clone(),
            start: self.start.clone(),
            fixed: self.fixed.clone(),
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            pass_if: self.pass_if.clone(),
            fail_if: self.fail_if.clone(),
            fail_on_denied_only: self.fail_on_denied_only,
            timeout: self.timeout,
            apply: self.apply,
            principal: self.principal,
        }
    }

    /// The flags on this command line that describe the workload or how trials run, which a
    /// resumed run takes from its journal instead (`--profile`, `--region` and
    /// `--endpoint-url` are not among them: they say how to reach AWS now).
    pub fn given_run_flags(&self) -> Vec<&'static str> {
        [
            ("--run", self.run.is_some()),
            ("--start", self.start.is_some()),
            ("--fixed", !self.fixed.is_empty()),
            ("--pass-if", self.pass_if.is_some()),
            ("--fail-if", self.fail_if.is_some()),
            ("--fail-on-denied-only", self.fail_on_denied_only),
            ("--timeout", self.timeout.is_some()),
            ("--apply", self.apply.is_some()),
            ("--principal", self.principal.is_some()),
            ("--dry-run", self.dry_run),
        ]
        .into_iter()
        .filter_map(|(flag, on)| on.then_some(flag))
        .collect()
    }
}
