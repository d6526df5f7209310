//! Condition operators, compiled once per policy.
//!
//! Semantics follow "IAM JSON policy elements: Condition operators" and "Multivalued
//! context keys" in the IAM User Guide:
//! * keys in one block are ANDed, the values of one key are ORed;
//! * a missing key makes a positive operator false and a negated one (`StringNotEquals`,
//!   `NotIpAddress`, `ArnNotLike`, ...) true; `...IfExists` makes a missing key true;
//! * `ForAllValues:` is true when every request value matches (so also for a missing or
//!   empty key); `ForAnyValue:` needs at least one matching value (false when missing);
//! * `Null: true` means the key is absent;
//! * a request value the operator cannot read (not a number, date, IP) makes the condition
//!   false, whatever the operator: a comparison that cannot be made does not grant and does
//!   not deny;
//! * a policy value holding a variable without a value (and without a default) matches no
//!   request value, so a positive operator is false against it and a negated one true. The
//!   IAM User Guide, "Policy variables with no value": "Inverted condition operators like
//!   `StringNotEquals` or `StringNotLike` do match against a null value, as the value of the
//!   condition key they are testing against is not equal to or like the effectively null
//!   value." Its example is a `Deny` with `StringNotEquals` against
//!   `${aws:PrincipalTag/Team}`, where "Access is specifically denied when
//!   `aws:principaltag/Team` is not set"; the same holds for every negated operator that
//!   takes variables (`StringNotEqualsIgnoreCase`, `ArnNotEquals`, `ArnNotLike`).

use super::context::{Val, View};
use super::wild::{Mode, Template};
use super::EvalError;
use crate::policy::Condition;
use std::net::IpAddr;

/// The operator families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    StrEq,
    StrEqIgnoreCase,
    StrLike,
    Num(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// Ordering comparisons for numbers and dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, req: T, pol: T) -> bool {
        match self {
            Cmp::Eq => req == pol,
            Cmp::Lt => req < pol,
            Cmp::Le => req <= pol,
            Cmp::Gt => req > pol,
            Cmp::Ge => req >= pol,
        }
    }
}

/// `ForAllValues:` / `ForAnyValue:` / neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Single,
    ForAll,
    ForAny,
}

/// Compiled policy values.
#[derive(Debug, Clone)]
enum Values {
    Templates(Box<[Template]>),
    Numbers(Box<[Option<f64>]>),
    Dates(Box<[Option<i128>]>),
    Cidrs(Box<[Option<(IpAddr, u8)>]>),
    Nulls(Box<[Option<bool>]>),
}

/// One compiled condition (operator, key, values).
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    family: Family,
    negated: bool,
    if_exists: bool,
    set: SetOp,
    /// Lowercased key.
    key: Box<str>,
    values: Values,
}

impl Cond {
    /// Compiles a condition; `vars` enables policy variables (policy `Version` 2012-10-17).
    pub(crate) fn compile(c: &Condition, vars: bool, origin: &str) -> Result<Cond, EvalError> {
        let op = c.operator.value.as_str();
        let (set, rest) = if let Some(r) = strip_prefix_ci(op, "ForAllValues:") {
            (SetOp::ForAll, r)
        } else if let Some(r) = strip_prefix_ci(op, "ForAnyValue:") {
            (SetOp::ForAny, r)
        } else {
            (SetOp::Single, op)
        };
        let (if_exists, base) = match rest.len().checked_sub(8).and_then(|i| rest.get(i..).map(|t| (i, t))) {
            Some((i, t)) if t.eq_ignore_ascii_case("IfExists") => (true, rest.get(..i).unwrap_or_default()),
            _ => (false, rest),
        };
        let (family, negated) = match base.to_ascii_lowercase().as_str() {
            "stringequals" => (Family::StrEq, false),
            "stringnotequals" => (Family::StrEq, true),
            "stringequalsignorecase" => (Family::StrEqIgnoreCase, false),
            "stringnotequalsignorecase" => (Family::StrEqIgnoreCase, true),
            "stringlike" => (Family::StrLike, false),
            "stringnotlike" => (Family::StrLike, true),
            "numericequals" => (Family::Num(Cmp::Eq), false),
            "numericnotequals" => (Family::Num(Cmp::Eq), true),
            "numericlessthan" => (Family::Num(Cmp::Lt), false),
            "numericlessthanequals" => (Family::Num(Cmp::Le), false),
            "numericgreaterthan" => (Family::Num(Cmp::Gt), false),
            "numericgreaterthanequals" => (Family::Num(Cmp::Ge), false),
            "dateequals" => (Family::Date(Cmp::Eq), false),
            "datenotequals" => (Family::Date(Cmp::Eq), true),
            "datelessthan" => (Family::Date(Cmp::Lt), false),
            "datelessthanequals" => (Family::Date(Cmp::Le), false),
            "dategreaterthan" => (Family::Date(Cmp::Gt), false),
            "dategreaterthanequals" => (Family::Date(Cmp::Ge), false),
            "bool" => (Family::Bool, false),
            "binaryequals" => (Family::Binary, false),
            "ipaddress" => (Family::Ip, false),
            "notipaddress" => (Family::Ip, true),
            "arnequals" | "arnlike" => (Family::Arn, false),
            "arnnotequals" | "arnnotlike" => (Family::Arn, true),
            "null" if !if_exists && set == SetOp::Single => (Family::Null, false),
            _ => {
                return Err(EvalError::UnknownOperator {
                    origin: origin.to_string(),
                    pos: c.operator.pos,
                    operator: op.to_string(),
                })
            }
        };
        let raw = c.values.iter().map(|v| v.value.as_str());
        let values = match family {
            Family::StrEq | Family::StrEqIgnoreCase | Family::Bool | Family::Binary => {
                Values::Templates(raw.map(|v| Template::new(v, Mode::Literal, vars)).collect())
            }
            Family::StrLike => Values::Templates(raw.map(|v| Template::new(v, Mode::Glob, vars)).collect()),
            Family::Arn => Values::Templates(raw.map(|v| Template::new(v, Mode::Arn, vars)).collect()),
            Family::Num(_) => Values::Numbers(raw.map(parse_number).collect()),
            Family::Date(_) => Values::Dates(raw.map(parse_date).collect()),
            Family::Ip => Values::Cidrs(raw.map(parse_cidr).collect()),
            Family::Null => Values::Nulls(raw.map(parse_bool).collect()),
        };
        Ok(Cond { family, negated, if_exists, set, key: c.key.value.to_ascii_lowercase().into(), values })
    }

    /// The keys this condition reads, including those in variables (lowercase).
    pub(crate) fn keys(&self) -> Vec<&str> {
        let mut k = vec![&*self.key];
        if let Values::Templates(ts) = &self.values {
            k.extend(ts.iter().flat_map(Template::var_keys));
        }
        k
    }

    /// Does the condition hold for this request?
    pub(crate) fn holds(&self, view: &View<'_>) -> bool {
        let got = view.get(&self.key);
        if let Values::Nulls(wants) = &self.values {
            let present = match got {
                None => false,
                Some(Val::Many(m)) => !m.is_empty(),
                Some(Val::One(_)) => true,
            };
            return wants.contains(&Some(!present));
        }
        let missing = match got {
            None => true,
            Some(Val::Many(m)) => m.is_empty() && self.set == SetOp::Single,
            Some(Val::One(_)) => false,
        };
        if missing {
            return self.if_exists
                || match self.set {
                    SetOp::ForAll => true,
                    SetOp::ForAny => false,
                    SetOp::Single => self.negated,
                };
        }
        // Each request value: Some(matches after negation) or None (cannot compare).
        let one = |v: &str| -> Option<bool> { self.positive(v, view).map(|p| p != self.negated) };
        let result = match (got, self.set) {
            (Some(Val::One(v)), _) => one(v),
            (Some(Val::Many(vs)), SetOp::ForAll) => all(vs.iter().map(|v| one(v))),
            (Some(Val::Many(vs)), SetOp::ForAny) => any(vs.iter().map(|v| one(v))),
            // A multivalued key under a single-valued operator: positive operators need one
            // matching value, negated ones need every value to differ.
            (Some(Val::Many(vs)), SetOp::Single) if self.negated => all(vs.iter().map(|v| one(v))),
            (Some(Val::Many(vs)), SetOp::Single) => any(vs.iter().map(|v| one(v))),
            (None, _) => Some(false),
        };
        result.unwrap_or(false)
    }

    /// Does one request value match any policy value (before negation)?
    fn positive(&self, v: &str, view: &View<'_>) -> Option<bool> {
        let lookup = |k: &str| view.single(k);
        let hit = match &self.values {
            Values::Templates(ts) => {
                if self.family == Family::Bool {
                    parse_bool(v)?;
                }
                ts.iter().any(|t| match self.family {
                    Family::StrEq | Family::Binary => t.equals(v, &lookup, false),
                    Family::StrEqIgnoreCase | Family::Bool => t.equals(v, &lookup, true),
                    _ => t.is_match(v, &lookup),
                })
            }
            Values::Numbers(ns) => {
                let Family::Num(cmp) = self.family else { return None };
                let x = parse_number(v)?;
                ns.iter().flatten().any(|&n| cmp.holds(x, n))
            }
            Values::Dates(ds) => {
                let Family::Date(cmp) = self.family else { return None };
                let x = parse_date(v)?;
                ds.iter().flatten().any(|&d| cmp.holds(x, d))
            }
            Values::Cidrs(cs) => {
                let ip: IpAddr = v.trim().parse().ok().or_else(|| parse_cidr(v).map(|c| c.0))?;
                cs.iter().flatten().any(|&(net, bits)| in_cidr(ip, net, bits))
            }
            Values::Nulls(_) => return None,
        };
        Some(hit)
    }
}

fn all(it: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut r = true;
    for x in it {
        r &= x?;
    }
    Some(r)
}

fn any(it: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut r = false;
    for x in it {
        r |= x?;
    }
    Some(r)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| s.get(prefix.len()..).unwrap_or_default())
}

fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_number(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A date as nanoseconds since the epoch: ISO 8601 (date, date-time with zone, or without
/// zone read as UTC) or epoch seconds, the forms the Date operators accept.
pub(crate) fn parse_date(v: &str) -> Option<i128> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    use time::{Date, OffsetDateTime, PrimitiveDateTime};
    let v = v.trim();
    if let Ok(secs) = v.parse::<i64>() {
        return Some(i128::from(secs) * 1_000_000_000);
    }
    if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = OffsetDateTime::parse(v, &Iso8601::DEFAULT) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = PrimitiveDateTime::parse(v, &Iso8601::DEFAULT) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    let d = Date::parse(v, &Iso8601::DEFAULT).ok()?;
    Some(d.midnight().assume_utc().unix_timestamp_nanos())
}

/// `203.0.113.0/24`, `2001:db8::/32`, or a bare address (a /32 or /128).
fn parse_cidr(v: &str) -> Option<(IpAddr, u8)> {
    let v = v.trim();
    let (addr, bits) = match v.split_once('/') {
        Some((a, b)) => (a.parse::<IpAddr>().ok()?, b.parse::<u8>().ok()?),
        None => {
            let a = v.parse::<IpAddr>().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((addr, bits))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_cidrs_parse() {
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000_000_000));
        assert_eq!(parse_date("1970-01-01T00:00:10Z"), Some(10_000_000_000));
        assert_eq!(parse_date("10"), Some(10_000_000_000));
        assert!(parse_date("2020-06-30T00:00:00+02:00").is_some());
        assert!(parse_date("yesterday").is_none());
        let (n, b) = parse_cidr("203.0.113.0/24").unwrap();
        assert!(in_cidr("203.0.113.9".parse().unwrap(), n, b));
        assert!(!in_cidr("203.0.114.9".parse().unwrap(), n, b));
        let (n, b) = parse_cidr("2001:db8::/32").unwrap();
        assert!(in_cidr("2001:db8::1".parse().unwrap(), n, b));
        assert!(parse_cidr("1.2.3.4/33").is_none());
    }
}
