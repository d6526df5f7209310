//! `iam-prune catalog`: what the embedded catalog holds.

use super::{print_json, CmdResult, Exit, Global};
use iam_prune::catalog::{ActionId, Catalog, CatalogError};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// The data's date, sources and counts.
    Info,
    /// One service (`iam`) or action (`iam:PassRole`).
    Show {
        /// Service prefix or `service:Action`.
        name: String,
    },
    /// Actions, services and managed policies whose names contain TEXT.
    Search {
        /// Text to look for (case-insensitive).
        text: String,
    },
}

pub fn run(args: Args, g: &Global) -> CmdResult {
    let c = Catalog::embedded();
    match args.command {
        Sub::Info => {
            let v = json!({
                "date": c.date(),
                "sources": c.sources(),
                "services": c.services().len(),
                "actions": c.len(),
                "managed_policies": c.managed_policies().len(),
            });
            if g.is_json() {
                print_json(&v);
            } else {
                println!("catalog date:      {}", c.date());
                println!("sources:           {}", c.sources().join(", "));
                println!("services:          {}", c.services().len());
                println!("actions:           {}", c.len());
                println!("managed policies:  {}", c.managed_policies().len());
            }
        }
        Sub::Show { name } => {
            if let Some(id) = c.lookup(&name) {
                show_action(c, id, g);
            } else if let Some(s) = c.service(&name) {
                let actions: Vec<serde_json::Value> = s
                    .actions
                    .clone()
                    .map(ActionId::from_index)
                    .map(|id| json!({"action": c.name(id), "access_level": c.level(id).map(|l| l.as_str())}))
                    .collect();
                if g.is_json() {
                    print_json(&json!({"prefix": s.prefix, "name": s.name, "actions": actions,
                        "resource_types": s.resource_types.iter().map(|r| json!({"name": r.0, "arn": r.1})).collect::<Vec<_>>(),
                        "condition_keys": s.condition_keys.iter().map(|k| json!({"key": k.0, "type": k.1})).collect::<Vec<_>>()}));
                } else {
                    println!("{} ({}): {} actions", s.prefix, s.name, actions.len());
                    for a in &actions {
                        println!(
                            "  {:<60} {}",
                            a["action"].as_str().unwrap_or_default(),
                            a["access_level"].as_str().unwrap_or_default()
                        );
                    }
                    println!("resource types:");
                    for r in &s.resource_types {
                        println!("  {:<30} {}", r.0, r.1);
                    }
                    println!("condition keys:");
                    for k in &s.condition_keys {
                        println!("  {:<50} {}", k.0, k.1);
                    }
                }
            } else {
                let suggestions = c.suggest(&name);
                return Err(Box::new(CatalogError::UnknownName { name, suggestions }));
            }
        }
        Sub::Search { text } => {
            let t = text.to_ascii_lowercase();
            let actions: Vec<String> = (0..c.len())
                .map(ActionId::from_index)
                .filter(|&id| c.lower_name(id).contains(&t))
                .map(|id| c.name(id))
                .collect();
            let services: Vec<String> = c
                .services()
                .iter()
                .filter(|s| s.prefix.to_ascii_lowercase().contains(&t) || s.name.to_ascii_lowercase().contains(&t))
                .map(|s| format!("{} ({})", s.prefix, s.name))
                .collect();
            let managed: Vec<&str> = c
                .managed_policies()
                .iter()
                .filter(|p| p.name.to_ascii_lowercase().contains(&t))
                .map(|p| p.name)
                .collect();
            if g.is_json() {
                print_json(&json!({"services": services, "actions": actions, "managed_policies": managed}));
            } else {
                for (title, list) in [("services", &services), ("actions", &actions)] {
                    println!("{title} ({}):", list.len());
                    for x in list.iter() {
                        println!("  {x}");
                    }
                }
                println!("managed policies ({}):", managed.len());
                for m in &managed {
                    println!("  {m}");
                }
            }
        }
    }
    Ok(Exit::Ok)
}

fn show_action(c: &Catalog, id: ActionId, g: &Global) {
    let Some(info) = c.info(id) else { return };
    let resources: Vec<&str> = info.resources.split(',').filter(|s| !s.is_empty()).collect();
    let keys: Vec<&str> = info.condition_keys.split(',').filter(|s| !s.is_empty()).collect();
    if g.is_json() {
        print_json(
            &json!({"action": c.name(id), "access_level": info.level.as_str(), "resource_types": resources, "condition_keys": keys}),
        );
    } else {
        println!("{}", c.name(id));
        println!("  access level:   {}", info.level);
        println!(
            "  resource types: {}",
            if resources.is_empty() { "(none: use \"*\")".to_string() } else { resources.join(", ") }
        );
        println!("  condition keys: {}", keys.join(", "));
    }
}
