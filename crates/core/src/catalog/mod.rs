//! The embedded IAM action catalog and AWS managed policies.
//!
//! Both come from generated files under `data/` (see `data/README.md` and
//! `tools/gen-catalog/`), compiled into the binary so that nothing needs the network.
//! Loading parses the text once, borrowing `&'static str` slices from the embedded bytes,
//! which keeps `iam-prune expand IAMFullAccess` in single-digit milliseconds.

mod err;
mod expand;
pub mod hierarchy;

pub use expand::{Expansion, PolicySourceError};

pub use err::CatalogError;

use crate::policy::{parse_policy, Policy};
use std::fmt;
use std::sync::{OnceLock, RwLock};

static ACTIONS_TSV: &str = include_str!("data/actions.tsv");
static MANAGED_TSV: &str = include_str!("data/managed.tsv");

/// Index of an action: catalog actions first (in catalog order), then unknown actions in the
/// order they were first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ActionId(u32);

impl ActionId {
    /// The raw index.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// An id from a raw index.
    #[inline]
    pub fn from_index(i: usize) -> ActionId {
        ActionId(u32::try_from(i).unwrap_or(u32::MAX))
    }
}

/// AWS's access level of an action, as the Service Authorization Reference gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum AccessLevel {
    /// Read.
    Read,
    /// List.
    List,
    /// Write.
    Write,
    /// Tagging (the source says "Tagging, Write").
    Tagging,
    /// Permissions management (the source says "Permissions management, Write").
    #[serde(rename = "Permissions management")]
    PermissionsManagement,
}

impl AccessLevel {
    /// All levels, from least to most risky.
    pub const ALL: [AccessLevel; 5] = [
        AccessLevel::List,
        AccessLevel::Read,
        AccessLevel::Tagging,
        AccessLevel::Write,
        AccessLevel::PermissionsManagement,
    ];

    fn from_code(c: &str) -> Option<AccessLevel> {
        Some(match c {
            "R" => AccessLevel::Read,
            "L" => AccessLevel::List,
            "W" => AccessLevel::Write,
            "T" => AccessLevel::Tagging,
            "P" => AccessLevel::PermissionsManagement,
            _ => return None,
        })
    }

    /// The name AWS uses.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Read => "Read",
            AccessLevel::List => "List",
            AccessLevel::Write => "Write",
            AccessLevel::Tagging => "Tagging",
            AccessLevel::PermissionsManagement => "Permissions management",
        }
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One service of the catalog.
#[derive(Debug, Clone)]
pub struct Service {
    /// Service prefix, e.g. `iam`.
    pub prefix: &'static str,
    /// Human name.
    pub name: &'static str,
    /// Catalog indices of its actions: `actions.start..actions.end`.
    pub actions: std::ops::Range<usize>,
    /// Resource types: (name, ARN format, condition keys comma-separated).
    pub resource_types: Vec<(&'static str, &'static str, &'static str)>,
    /// Condition keys: (key as written, type).
    pub condition_keys: Vec<(&'static str, &'static str)>,
}

/// One action of the catalog.
#[derive(Debug, Clone)]
pub struct ActionInfo {
    /// Index into [`Catalog::services`].
    pub service: u16,
    /// Canonical action name without the prefix, e.g. `PassRole`.
    pub name: &'static str,
    /// Access level.
    pub level: AccessLevel,
    /// Resource types, comma-separated, `*` suffix when required.
    pub resources: &'static str,
    /// Action-specific condition keys, comma-separated.
    pub condition_keys: &'static str,
}

/// An AWS managed policy's latest version.
#[derive(Debug, Clone)]
pub struct ManagedPolicy {
    /// Policy name, e.g. `IAMFullAccess`.
    pub name: &'static str,
    /// Policy ARN.
    pub arn: &'static str,
    /// Latest version id, e.g. `v2`.
    pub version: &'static str,
    /// Date of that version (YYYY-MM-DD).
    pub date: &'static str,
    /// The document as minified JSON.
    pub document: &'static str,
}

impl ManagedPolicy {
    /// Parses the document.
    pub fn policy(&self) -> Result<Policy, CatalogError> {
        parse_policy(self.document, self.name)
            .map_err(|e| CatalogError::Corrupt(format!("managed policy {}: {e}", self.name)))
    }
}

/// The catalog: services, actions, managed policies, and actions interned at run time.
pub struct Catalog {
    date: &'static str,
    sources: Vec<&'static str>,
    services: Vec<Service>,
    actions: Vec<ActionInfo>,
    /// `prefix:action` lowercased, all actions concatenated; `lower_ends[i]` ends action i.
    lower: String,
    lower_ends: Vec<u32>,
    managed: OnceLock<Vec<ManagedPolicy>>,
    unknown: RwLock<Vec<String>>,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog").field("date", &self.date).field("actions", &self.actions.len()).finish()
    }
}

impl Catalog {
    /// The catalog compiled into the binary, loaded on first use.
    pub fn embedded() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| match Catalog::parse(ACTIONS_TSV) {
            Ok(c) => c,
            // The data is generated and tested in CI; a failure here is a build defect, and an
            // empty catalog still lets every unknown action be interned and reported.
            Err(_) => Catalog::empty(),
        })
    }

    fn empty() -> Catalog {
        Catalog {
            date: "",
            sources: Vec::new(),
            services: Vec::new(),
            actions: Vec::new(),
            lower: String::new(),
            lower_ends: Vec::new(),
            managed: OnceLock::new(),
            unknown: RwLock::new(Vec::new()),
        }
    }

    /// Parses catalog text in the `actions.tsv` format.
    pub fn parse(text: &'static str) -> Result<Catalog, CatalogError> {
        let mut c = Catalog::empty();
        c.actions.reserve(23_000);
        c.lower.reserve(700_000);
        c.lower_ends.reserve(23_000);
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let mut f = line.split('\t');
            let tag = f.next().unwrap_or_default();
            let bad = || CatalogError::Corrupt(format!("line {}: malformed `{tag}` record", n + 1));
            match tag {
                "D" => {
                    c.date = f.next().ok_or_else(bad)?;
                    c.sources = f.collect();
                }
                "S" => {
                    let prefix = f.next().ok_or_else(bad)?;
                    let name = f.next().unwrap_or(prefix);
                    let at = c.actions.len();
                    c.services.push(Service {
                        prefix,
                        name,
                        actions: at..at,
                        resource_types: Vec::new(),
                        condition_keys: Vec::new(),
                    });
                }
                "C" => {
                    let s = c.services.last_mut().ok_or_else(bad)?;
                    s.condition_keys.push((f.next().ok_or_else(bad)?, f.next().unwrap_or_default()));
                }
                "R" => {
                    let s = c.services.last_mut().ok_or_else(bad)?;
                    s.resource_types.push((
                        f.next().ok_or_else(bad)?,
                        f.next().unwrap_or_default(),
                        f.next().unwrap_or_default(),
                    ));
                }
                "A" => {
                    let si = c.services.len().checked_sub(1).ok_or_else(bad)?;
                    let name = f.next().ok_or_else(bad)?;
                    let level = AccessLevel::from_code(f.next().ok_or_else(bad)?).ok_or_else(bad)?;
                    let resources = f.next().unwrap_or_default();
                    let condition_keys = f.next().unwrap_or_default();
                    let s = c.services.get_mut(si).ok_or_else(bad)?;
                    s.actions.end += 1;
                    // Lowercased in place: no allocation per action (loading is on every command's path).
                    c.lower.extend(s.prefix.chars().map(|ch| ch.to_ascii_lowercase()));
                    c.lower.push(':');
                    c.lower.extend(name.chars().map(|ch| ch.to_ascii_lowercase()));
                    c.lower_ends.push(u32::try_from(c.lower.len()).map_err(|_| bad())?);
                    c.actions.push(ActionInfo {
                        service: u16::try_from(si).map_err(|_| bad())?,
                        name,
                        level,
                        resources,
                        condition_keys,
                    });
                }
                _ => return Err(bad()),
            }
        }
        Ok(c)
    }

    /// The date of the catalog data.
    pub fn date(&self) -> &str {
        self.date
    }

    /// The packages the data was generated from.
    pub fn sources(&self) -> &[&'static str] {
        &self.sources
    }

    /// Number of catalog actions (unknown actions not counted).
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// True if the catalog has no actions.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// All services, sorted by prefix.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// A service by prefix (case-insensitive).
    pub fn service(&self, prefix: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.prefix.eq_ignore_ascii_case(prefix))
    }

    /// The catalog entry of an action; `None` for unknown actions.
    pub fn info(&self, id: ActionId) -> Option<&ActionInfo> {
        self.actions.get(id.index())
    }

    /// The service of a catalog action.
    pub fn service_of(&self, id: ActionId) -> Option<&Service> {
        self.info(id).and_then(|a| self.services.get(usize::from(a.service)))
    }

    /// The access level of a catalog action.
    pub fn level(&self, id: ActionId) -> Option<AccessLevel> {
        self.info(id).map(|a| a.level)
    }

    /// Is this an action the catalog knows?
    pub fn is_known(&self, id: ActionId) -> bool {
        id.index() < self.actions.len()
    }

    /// `prefix:action` lowercased, for case-insensitive matching; unknown actions lowercased too.
    pub fn lower_name(&self, id: ActionId) -> std::borrow::Cow<'_, str> {
        let i = id.index();
        if i < self.lower_ends.len() {
            let start = if i == 0 { 0 } else { self.lower_ends.get(i - 1).copied().unwrap_or(0) as usize };
            let end = self.lower_ends.get(i).copied().unwrap_or(0) as usize;
            std::borrow::Cow::Borrowed(self.lower.get(start..end).unwrap_or_default())
        } else {
            std::borrow::Cow::Owned(self.name(id).to_ascii_lowercase())
        }
    }

    /// The canonical name `prefix:Action`; unknown actions as first written.
    pub fn name(&self, id: ActionId) -> String {
        match self.info(id) {
            Some(a) => {
                let prefix = self.services.get(usize::from(a.service)).map(|s| s.prefix).unwrap_or_default();
                format!("{prefix}:{}", a.name)
            }
            None => {
                let unknown = self.unknown.read().unwrap_or_else(|e| e.into_inner());
                unknown
                    .get(id.index() - self.actions.len())
                    .cloned()
                    .unwrap_or_else(|| format!("<action #{}>", id.index()))
            }
        }
    }

    /// The service prefix of any action name (`iam:PassRole` -> `iam`), lowercased.
    pub fn prefix_of(&self, id: ActionId) -> String {
        match self.service_of(id) {
            Some(s) => s.prefix.to_string(),
            None => self.name(id).split(':').next().unwrap_or_default().to_ascii_lowercase(),
        }
    }

    /// A catalog action by name, case-insensitively (`iam:passrole` finds `iam:PassRole`).
    /// Services are sorted by lowercased prefix and actions within a service by lowercased
    /// name (a test checks both), so two binary searches find it without building a map.
    pub fn lookup(&self, name: &str) -> Option<ActionId> {
        let (prefix, action) = name.split_once(':')?;
        let svc =
            self.services.binary_search_by(|s| cmp_lower(s.prefix, prefix)).ok().and_then(|i| self.services.get(i))?;
        let skip = svc.prefix.len() + 1;
        let (mut lo, mut hi) = (svc.actions.start, svc.actions.end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let full = self.lower_name(ActionId::from_index(mid));
            match cmp_lower(full.get(skip..).unwrap_or_default(), action) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(ActionId::from_index(mid)),
            }
        }
        None
    }

    /// The id of an action, giving unknown actions an id of their own (stable for the process).
    pub fn intern(&self, name: &str) -> ActionId {
        if let Some(id) = self.lookup(name) {
            return id;
        }
        let lower = name.to_ascii_lowercase();
        {
            let unknown = self.unknown.read().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = unknown.iter().position(|u| u.to_ascii_lowercase() == lower) {
                return ActionId::from_index(self.actions.len() + i);
            }
        }
        let mut unknown = self.unknown.write().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = unknown.iter().position(|u| u.to_ascii_lowercase() == lower) {
            return ActionId::from_index(self.actions.len() + i);
        }
        unknown.push(name.to_string());
        ActionId::from_index(self.actions.len() + unknown.len() - 1)
    }

    /// Catalog actions whose names are close to `name`, for did-you-mean hints.
    pub fn suggest(&self, name: &str) -> Vec<String> {
        let lower = name.to_ascii_lowercase();
        let (prefix, action) = lower.split_once(':').unwrap_or(("", lower.as_str()));
        let mut scored: Vec<(usize, ActionId)> = Vec::new();
        let candidates: Vec<usize> = match self.service(prefix) {
            Some(s) => s.actions.clone().collect(),
            None => (0..self.actions.len()).collect(),
        };
        for i in candidates {
            let id = ActionId::from_index(i);
            let full = self.lower_name(id);
            let (cp, ca) = full.split_once(':').unwrap_or(("", &full));
            let d = if cp == prefix { edit_distance(action, ca) } else { edit_distance(&lower, &full) };
            let limit = (action.len() / 4).clamp(1, 4);
            if d <= limit {
                scored.push((d, id));
            }
        }
        // A wrong or misspelt prefix: try the same action name in every service.
        if scored.is_empty() && self.service(prefix).is_none() {
            for s in &self.services {
                let d = edit_distance(prefix, &s.prefix.to_ascii_lowercase());
                if d <= 2 {
                    if let Some(id) = self.lookup(&format!("{}:{action}", s.prefix)) {
                        scored.push((d, id));
                    }
                }
            }
        }
        scored.sort();
        scored.into_iter().take(3).map(|(_, id)| self.name(id)).collect()
    }

    fn managed_all(&self) -> &[ManagedPolicy] {
        self.managed.get_or_init(|| {
            MANAGED_TSV
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .filter_map(|l| {
                    let mut f = l.splitn(5, '\t');
                    Some(ManagedPolicy {
                        name: f.next()?,
                        arn: f.next()?,
                        version: f.next()?,
                        date: f.next()?,
                        document: f.next()?,
                    })
                })
                .collect()
        })
    }

    /// Every AWS managed policy, sorted by name.
    pub fn managed_policies(&self) -> &[ManagedPolicy] {
        self.managed_all()
    }

    /// A managed policy by name (case-insensitive) or ARN.
    pub fn managed(&self, name_or_arn: &str) -> Option<&ManagedPolicy> {
        let all = self.managed_all();
        if name_or_arn.starts_with("arn:") {
            return all.iter().find(|p| p.arn == name_or_arn);
        }
        all.binary_search_by(|p| p.name.cmp(name_or_arn))
            .ok()
            .and_then(|i| all.get(i))
            .or_else(|| all.iter().find(|p| p.name.eq_ignore_ascii_case(name_or_arn)))
    }

    /// Managed policy names close to `name`, for did-you-mean hints.
    pub fn suggest_managed(&self, name: &str) -> Vec<&'static str> {
        let lower = name.to_ascii_lowercase();
        let mut scored: Vec<(usize, &'static str)> = self
            .managed_all()
            .iter()
            .map(|p| (edit_distance(&lower, &p.name.to_ascii_lowercase()), p.name))
            .filter(|(d, _)| *d <= 3)
            .collect();
        scored.sort();
        scored.into_iter().take(3).map(|(_, n)| n).collect()
    }
}

/// Compares two ASCII names case-insensitively, as the catalog's sort order does.
fn cmp_lower(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// Levenshtein distance over bytes (names are ASCII).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.bytes().enumerate() {
        if let Some(c0) = cur.first_mut() {
            *c0 = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            if let Some(c) = cur.get_mut(j + 1) {
                *c = sub.min(del).min(ins);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_loads_with_expected_counts() {
        let c = Catalog::embedded();
        assert_eq!(c.services().len(), 456);
        assert_eq!(c.len(), 22_091);
        assert_eq!(c.managed_policies().len(), 1_594);
        assert_eq!(c.date(), "2026-09-26");
    }

    #[test]
    fn action_index_is_sorted_within_services_and_services_sorted() {
        let c = Catalog::embedded();
        let prefixes: Vec<String> = c.services().iter().map(|s| s.prefix.to_ascii_lowercase()).collect();
        assert!(prefixes.windows(2).all(|w| w[0] < w[1]), "service prefixes are not sorted");
        for s in c.services() {
            let names: Vec<String> =
                s.actions.clone().map(|i| c.lower_name(ActionId::from_index(i)).into_owned()).collect();
            assert!(names.windows(2).all(|w| w[0] < w[1]), "actions of {} are not sorted", s.prefix);
        }
    }

    #[test]
    fn lookup_is_case_insensitive_and_canonicalises() {
        let c = Catalog::embedded();
        let id = c.lookup("iam:passrole").unwrap();
        assert_eq!(c.name(id), "iam:PassRole");
        assert_eq!(c.level(id), Some(AccessLevel::Write));
        assert_eq!(c.level(c.lookup("iam:CreatePolicyVersion").unwrap()), Some(AccessLevel::PermissionsManagement));
    }

    #[test]
    fn unknown_actions_are_interned_not_dropped() {
        let c = Catalog::embedded();
        let a = c.intern("madeup:DoThing");
        assert!(!c.is_known(a));
        assert_eq!(c.intern("MADEUP:dothing"), a);
        assert_eq!(c.name(a), "madeup:DoThing");
    }

    #[test]
    fn suggestions() {
        let c = Catalog::embedded();
        assert_eq!(c.suggest("iam:PasRole").first().map(String::as_str), Some("iam:PassRole"));
        assert!(c.suggest("iamm:PassRole").contains(&"iam:PassRole".to_string()));
        assert_eq!(c.suggest_managed("IAMFullAcess").first().copied(), Some("IAMFullAccess"));
    }

    #[test]
    fn managed_by_name_and_arn() {
        let c = Catalog::embedded();
        let p = c.managed("IAMFullAccess").unwrap();
        assert_eq!(p.arn, "arn:aws:iam::aws:policy/IAMFullAccess");
        assert_eq!(c.managed("arn:aws:iam::aws:policy/IAMFullAccess").unwrap().name, "IAMFullAccess");
        assert!(c.managed("iamfullaccess").is_some());
    }
}
