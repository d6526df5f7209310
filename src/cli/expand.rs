//! `iam-prune expand`: the concrete actions a policy allows, by service and access level.

use super::{print_json, CmdResult, Exit, Global};
use iam_prune::catalog::{AccessLevel, Catalog};
use std::collections::BTreeMap;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An AWS managed policy name (`IAMFullAccess`) or ARN, or a policy file.
    policy: String,
}

pub fn run(args: Args, g: &Global) -> CmdResult {
    let catalog = Catalog::embedded();
    let (name, policy) = catalog.load_policy(&args.policy)?;
    let ex = catalog.expand_policy(&policy);
    let mut by_service: BTreeMap<String, BTreeMap<AccessLevel, Vec<String>>> = BTreeMap::new();
    for id in ex.allowed.iter() {
        let level = catalog.level(id);
        let entry = by_service.entry(catalog.prefix_of(id)).or_default();
        entry.entry(level.unwrap_or(AccessLevel::Write)).or_default().push(catalog.name(id));
    }
    if g.is_json() {
        let services: serde_json::Map<String, serde_json::Value> = by_service
            .iter()
            .map(|(svc, levels)| {
                let l: serde_json::Map<String, serde_json::Value> =
                    levels.iter().map(|(lv, a)| (lv.as_str().to_string(), serde_json::json!(a.len()))).collect();
                (svc.clone(), serde_json::Value::Object(l))
            })
            .collect();
        print_json(&serde_json::json!({
            "policy": name,
            "catalog_date": catalog.date(),
            "count": ex.allowed.len(),
            "actions": ex.allowed.names(catalog),
            "services": services,
            "unknown": ex.unknown,
            "empty_patterns": ex.empty_patterns,
        }));
        return Ok(Exit::Ok);
    }
    println!("{name}: {} actions in {} services (catalog {})", ex.allowed.len(), by_service.len(), catalog.date());
    for (svc, levels) in &by_service {
        let total: usize = levels.values().map(Vec::len).sum();
        println!("\n{svc} ({total})");
        for (level, actions) in levels {
            println!("  {level} ({}):", actions.len());
            for a in actions {
                println!("    {a}");
            }
        }
    }
    for u in &ex.unknown {
        println!("\nwarning: `{u}` is not in the catalog; kept as written");
    }
    Ok(Exit::Ok)
}
