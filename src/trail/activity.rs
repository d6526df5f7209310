//! What a principal actually did: actions used, on which resources, how often and when;
//! and the likely-actions file that hands this to `prune --likely`.

use super::err::TrailError;
use super::event::EventRef;
use super::map::{action_for_event, Mapped};
use crate::catalog::Catalog;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use time::OffsetDateTime;

/// Resources kept per action: enough to write resource-scoped statements, bounded so a
/// principal that touches millions of objects does not grow memory.
pub const MAX_RESOURCES_PER_ACTION: usize = 100;

/// How one action was used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActionUse {
    /// The catalog action name.
    pub action: String,
    /// Successful calls seen.
    pub count: u64,
    /// Earliest call (RFC 3339, UTC).
    pub first_seen: Option<String>,
    /// Latest call (RFC 3339, UTC).
    pub last_seen: Option<String>,
    /// Resource ARNs from the events' `resources` (at most [`MAX_RESOURCES_PER_ACTION`]).
    pub resources: BTreeSet<String>,
}

/// A principal's recorded activity (successful calls only; denials are listed apart).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// Events of the principal (successful or not) in the window.
    pub events: u64,
    /// Per catalog action, sorted by name.
    pub actions: BTreeMap<String, ActionUse>,
    /// Events whose action the catalog does not know (`source:EventName` -> count).
    pub unmapped: BTreeMap<String, u64>,
    /// Actions the principal was denied (action -> count).
    pub denied: BTreeMap<String, u64>,
}

/// RFC 3339 in UTC with second precision: one fixed format, so strings sort by time.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).unwrap_or_default()
}

fn widen(first: &mut Option<String>, last: &mut Option<String>, t: &str) {
    if first.as_deref().is_none_or(|f| t < f) {
        *first = Some(t.to_string());
    }
    if last.as_deref().is_none_or(|l| t > l) {
        *last = Some(t.to_string());
    }
}

impl Activity {
    /// Adds one event of the principal.
    pub fn add(&mut self, catalog: &Catalog, ev: &EventRef<'_>, denied_action: Option<&str>) {
        self.events += 1;
        if let Some(a) = denied_action {
            *self.denied.entry(a.to_string()).or_default() += 1;
            return;
        }
        if ev.error_code().is_some() {
            return;
        }
        let source = ev.event_source();
        let name = ev.event_name();
        let id = match action_for_event(catalog, &source, &name) {
            Mapped::Action(id) => id,
            Mapped::Unknown(_) => {
                *self.unmapped.entry(format!("{source}:{name}")).or_default() += 1;
                return;
            }
        };
        let action = catalog.name(id);
        let entry = self.actions.entry(action.clone()).or_insert_with(|| ActionUse { action, ..ActionUse::default() });
        entry.count += 1;
        if let Some(t) = ev.time() {
            widen(&mut entry.first_seen, &mut entry.last_seen, &format_time(t));
        }
        for arn in ev.resource_arns() {
            if entry.resources.len() >= MAX_RESOURCES_PER_ACTION {
                break;
            }
            entry.resources.insert(arn);
        }
    }

    /// Merges another part (from another file or thread).
    pub fn merge(&mut self, other: Activity) {
        self.events += other.events;
        for (k, u) in other.actions {
            let e =
                self.actions.entry(k).or_insert_with(|| ActionUse { action: u.action.clone(), ..ActionUse::default() });
            e.count += u.count;
            for t in u.first_seen.iter().chain(u.last_seen.iter()) {
                widen(&mut e.first_seen, &mut e.last_seen, t);
            }
            for r in u.resources {
                if e.resources.len() >= MAX_RESOURCES_PER_ACTION {
                    break;
                }
                e.resources.insert(r);
            }
        }
        for (k, n) in other.unmapped {
            *self.unmapped.entry(k).or_default() += n;
        }
        for (k, n) in other.denied {
            *self.denied.entry(k).or_default() += n;
        }
    }

    /// The likely-needed actions: used successfully or attempted and denied, sorted.
    pub fn likely_actions(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.actions.keys().chain(self.denied.keys()).collect();
        set.into_iter().cloned().collect()
    }
}

/// The text of a likely-actions file: `{"actions": [...]}`.
pub fn likely_json(actions: &[String]) -> String {
    let v = serde_json::json!({ "actions": actions });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// Reads a likely-actions file: the JSON `record --likely-out` writes (`{"actions": [...]}`,
/// or a bare array), or plain text with one action per line (`#` starts a comment).
pub fn read_likely(path: &Path) -> Result<Vec<String>, TrailError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TrailError::Io { path: shown.clone(), source })?;
    parse_likely(&text).map_err(|message| TrailError::Likely { path: shown, message })
}

/// Parses the text of a likely-actions file (see [`read_likely`]).
pub fn parse_likely(text: &str) -> Result<Vec<String>, String> {
    let trimmed = text.trim_start();
    let actions: Vec<String> = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        let list = match &v {
            serde_json::Value::Array(a) => a,
            serde_json::Value::Object(o) => match o.get("actions") {
                Some(serde_json::Value::Array(a)) => a,
                _ => return Err("no `actions` array".into()),
            },
            _ => return Err("expected an object or an array".into()),
        };
        list.iter()
            .map(|a| a.as_str().map(str::to_string).ok_or_else(|| format!("`{a}` is not a string")))
            .collect::<Result<_, _>>()?
    } else {
        text.lines()
            .map(|l| l.split('#').next().unwrap_or_default().trim())
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    if let Some(bad) = actions.iter().find(|a| !a.contains(':')) {
        return Err(format!("`{bad}` is not an action (expected `service:Action`)"));
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likely_files_in_both_forms() {
        assert_eq!(
            parse_likely(r#"{"actions": ["s3:GetObject", "iam:PassRole"]}"#).unwrap(),
            ["s3:GetObject", "iam:PassRole"]
        );
        assert_eq!(
            parse_likely("# seen last week\ns3:GetObject\n\n  kms:Decrypt # via S3\n").unwrap(),
            ["s3:GetObject", "kms:Decrypt"]
        );
        assert!(parse_likely("GetObject").is_err());
        assert!(parse_likely(r#"{"x": 1}"#).is_err());
        let round = parse_likely(&likely_json(&["a:B".to_string()])).unwrap();
        assert_eq!(round, ["a:B"]);
    }
}
