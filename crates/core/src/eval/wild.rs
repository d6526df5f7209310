//! Wildcards and policy variables in `Resource` values and condition values.
//!
//! Two things make these different from the plain globs in [`crate::pattern`]:
//!
//! * ARN wildcards respect colon-separated segments. The IAM User Guide ("IAM JSON policy
//!   elements: Resource", section *Using wildcards in resource ARNs*) says wildcards work
//!   within the segments of an ARN, and that a `*` which is the *last character of a
//!   segment* may expand beyond colon boundaries. So here a `*` followed by `:` or by the
//!   end of the pattern matches anything, while a `*` followed by another character, and
//!   every `?`, never match a `:`.
//! * Values may hold policy variables (`${aws:username}`, `${aws:PrincipalTag/team, 'none'}`)
//!   and the escapes `${*}`, `${?}`, `${$}` ("IAM policy elements: Variables and tags").
//!   A value with variables is matched without building a string: the variable's value
//!   becomes a literal run of the token list, so nothing is allocated per request.
//!
//! Patterns without variables, escapes or segment-restricted wildcards compile to
//! [`Pattern`], the fast path that covers nearly every real policy.

use crate::pattern::Pattern;

/// One element of a wildcard pattern, borrowing its literal text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// A literal run (also the value of a resolved variable).
    Lit(&'a str),
    /// `?` anywhere in a plain glob: one character.
    One,
    /// `*` in a plain glob: any run.
    Star,
    /// `?` in an ARN: one character other than `:`.
    SegOne,
    /// `*` in the middle of an ARN segment: any run without `:`.
    SegStar,
}

/// Does `subject` match `toks`? Backtracking with a memo of failed states, so patterns with
/// several stars stay polynomial; the memo lives on the stack for patterns of usual size.
pub(crate) fn match_toks(toks: &[Tok<'_>], subject: &str) -> bool {
    let mut memo = Memo::new(toks.len() + 1, subject.len() + 1);
    go(toks, 0, subject, 0, &mut memo)
}

/// Failed (token, byte) states. Only used when the table fits in 4,096 bits; larger inputs
/// run unmemoised, which is still fast for the few-star patterns policies contain.
struct Memo {
    bits: [u64; 64],
    width: usize,
    on: bool,
}

impl Memo {
    fn new(rows: usize, width: usize) -> Memo {
        let on = rows.saturating_mul(width) <= 64 * 64;
        Memo { bits: [0; 64], width, on }
    }

    fn index(&self, ti: usize, si: usize) -> Option<(usize, u64)> {
        if !self.on {
            return None;
        }
        let i = ti * self.width + si;
        Some((i / 64, 1u64 << (i % 64)))
    }

    fn failed(&self, ti: usize, si: usize) -> bool {
        self.index(ti, si).and_then(|(w, b)| self.bits.get(w).map(|x| x & b != 0)).unwrap_or(false)
    }

    fn set(&mut self, ti: usize, si: usize) {
        if let Some((w, b)) = self.index(ti, si) {
            if let Some(x) = self.bits.get_mut(w) {
                *x |= b;
            }
        }
    }
}

fn go(toks: &[Tok<'_>], ti: usize, s: &str, si: usize, memo: &mut Memo) -> bool {
    let Some(tok) = toks.get(ti) else { return si == s.len() };
    if memo.failed(ti, si) {
        return false;
    }
    let rest = s.get(si..).unwrap_or_default();
    let ok = match *tok {
        Tok::Lit(l) => rest.starts_with(l) && go(toks, ti + 1, s, si + l.len(), memo),
        Tok::One | Tok::SegOne => match rest.chars().next() {
            Some(c) if !(c == ':' && *tok == Tok::SegOne) => go(toks, ti + 1, s, si + c.len_utf8(), memo),
            _ => false,
        },
        Tok::Star | Tok::SegStar => {
            let seg = *tok == Tok::SegStar;
            if ti + 1 == toks.len() {
                !seg || !rest.contains(':')
            } else {
                let mut i = si;
                loop {
                    if go(toks, ti + 1, s, i, memo) {
                        break true;
                    }
                    match s.get(i..).and_then(|r| r.chars().next()) {
                        Some(c) if !(seg && c == ':') => i += c.len_utf8(),
                        _ => break false,
                    }
                }
            }
        }
    };
    if !ok {
        memo.set(ti, si);
    }
    ok
}

/// How wildcards in a value are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// No wildcards: `*` and `?` are literal (`StringEquals`, `Bool`, ...).
    Literal,
    /// Plain glob (`StringLike`).
    Glob,
    /// ARN glob with segment rules (`Resource`, `ArnLike`, `ArnEquals`).
    Arn,
}

/// A piece of a value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Text as written (wildcards active unless the mode is literal).
    Text(Box<str>),
    /// Text from an escape: never a wildcard.
    Escaped(char),
    /// A policy variable: lowercase key and optional default.
    Var { key: Box<str>, default: Option<Box<str>> },
}

/// An owned token, resolved to [`Tok`] per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OwnedTok {
    Lit(Box<str>),
    One,
    Star,
    SegOne,
    SegStar,
    Var(usize),
}

/// A variable's lowercase key and its default.
pub(crate) type VarRef = (Box<str>, Option<Box<str>>);

/// A compiled value: literal, fast glob, or tokens with variables.
#[derive(Debug, Clone)]
pub(crate) enum Template {
    /// No wildcard, no variable: byte equality (or case-insensitive for `IgnoreCase`).
    Exact(Box<str>),
    /// Wildcards without variables or segment rules.
    Fast(Pattern),
    /// Anything else.
    Toks { toks: Box<[OwnedTok]>, vars: Box<[VarRef]> },
}

/// Tokens kept on the stack for patterns up to this size.
const INLINE: usize = 24;

impl Template {
    /// Compiles `text`; variables are recognised only when `vars` (policy `Version` 2012-10-17).
    pub(crate) fn new(text: &str, mode: Mode, vars: bool) -> Template {
        let parts = if vars { parse_parts(text) } else { vec![Part::Text(text.into())] };
        let only_text = parts.iter().all(|p| matches!(p, Part::Text(_)));
        if only_text {
            let t: String =
                parts.iter().filter_map(|p| if let Part::Text(t) = p { Some(&**t) } else { None }).collect();
            match mode {
                Mode::Literal => return Template::Exact(t.into()),
                Mode::Glob => return Template::Fast(Pattern::new(&t)),
                Mode::Arn if !has_segment_wildcard(&t) => return Template::Fast(Pattern::new(&t)),
                Mode::Arn => {}
            }
        }
        let mut toks = Vec::new();
        let mut vars_out = Vec::new();
        for (pi, part) in parts.iter().enumerate() {
            match part {
                Part::Escaped(c) => push_lit(&mut toks, &c.to_string()),
                Part::Var { key, default } => {
                    toks.push(OwnedTok::Var(vars_out.len()));
                    vars_out.push((key.clone(), default.clone()));
                }
                Part::Text(t) if mode == Mode::Literal => push_lit(&mut toks, t),
                Part::Text(t) => {
                    let mut lit = String::new();
                    let mut chars = t.chars().peekable();
                    while let Some(c) = chars.next() {
                        if c != '*' && c != '?' {
                            lit.push(c);
                            continue;
                        }
                        if !lit.is_empty() {
                            push_lit(&mut toks, &std::mem::take(&mut lit));
                        }
                        // What follows the wildcard, looking into the next part when needed.
                        let next_is_boundary = match chars.peek() {
                            Some(&n) => n == ':' || n == '*',
                            None => match parts.get(pi + 1) {
                                None => true,
                                Some(Part::Text(nt)) => nt.starts_with(':'),
                                Some(_) => false,
                            },
                        };
                        let tok = match (c, mode) {
                            ('*', Mode::Arn) if !next_is_boundary => OwnedTok::SegStar,
                            ('*', _) => OwnedTok::Star,
                            (_, Mode::Arn) => OwnedTok::SegOne,
                            _ => OwnedTok::One,
                        };
                        toks.push(tok);
                    }
                    if !lit.is_empty() {
                        push_lit(&mut toks, &lit);
                    }
                }
            }
        }
        Template::Toks { toks: toks.into(), vars: vars_out.into() }
    }

    /// The variables' keys (lowercase), for tools that list what a policy reads.
    pub(crate) fn var_keys(&self) -> impl Iterator<Item = &str> {
        let vars: &[VarRef] = match self {
            Template::Toks { vars, .. } => vars,
            _ => &[],
        };
        vars.iter().map(|(k, _)| &**k)
    }

    /// Does `subject` match, resolving variables with `lookup` (lowercase key -> single value)?
    ///
    /// A variable without a value and without a default matches nothing: "When policy
    /// variables reference a condition context key that has no value or is not present in an
    /// authorization context for a request, the value is effectively null. There is no equal
    /// or like value." (IAM User Guide, "Policy variables with no value").
    pub(crate) fn is_match<'v>(&'v self, subject: &str, lookup: &dyn Fn(&str) -> Option<&'v str>) -> bool {
        match self {
            Template::Exact(e) => **e == *subject,
            Template::Fast(p) => p.is_match(subject),
            Template::Toks { toks, vars } => with_toks(toks, vars, lookup, |t| match_toks(t, subject)).unwrap_or(false),
        }
    }

    /// Equality with the value after resolving variables (literal mode), optionally ignoring
    /// case; a variable without a value matches nothing, as in [`Template::is_match`].
    pub(crate) fn equals<'v>(
        &'v self,
        subject: &str,
        lookup: &dyn Fn(&str) -> Option<&'v str>,
        ignore_case: bool,
    ) -> bool {
        let eq = |a: &str, b: &str| if ignore_case { eq_ignore_case(a, b) } else { a == b };
        match self {
            Template::Exact(e) => eq(e, subject),
            Template::Fast(p) => p.is_match(subject),
            Template::Toks { toks, vars } => with_toks(toks, vars, lookup, |t| {
                if ignore_case {
                    // Rare (a variable in a case-insensitive comparison): join and compare.
                    let joined: String = t.iter().map(|x| if let Tok::Lit(l) = x { *l } else { "" }).collect();
                    return eq_ignore_case(&joined, subject);
                }
                let mut rest = subject;
                for x in t {
                    let Tok::Lit(l) = x else { return false };
                    match rest.strip_prefix(l) {
                        Some(r) => rest = r,
                        None => return false,
                    }
                }
                rest.is_empty()
            })
            .unwrap_or(false),
        }
    }
}

/// Case-insensitive equality without allocating (Unicode simple lowercase).
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
}

/// Resolves variables into a token slice (on the stack when small) and runs `f` on it;
/// `None` when a variable has neither a value nor a default.
fn with_toks<'v, R>(
    toks: &'v [OwnedTok],
    vars: &'v [VarRef],
    lookup: &dyn Fn(&str) -> Option<&'v str>,
    f: impl FnOnce(&[Tok<'_>]) -> R,
) -> Option<R> {
    let resolve = |t: &'v OwnedTok| -> Option<Tok<'v>> {
        Some(match t {
            OwnedTok::Lit(l) => Tok::Lit(l),
            OwnedTok::One => Tok::One,
            OwnedTok::Star => Tok::Star,
            OwnedTok::SegOne => Tok::SegOne,
            OwnedTok::SegStar => Tok::SegStar,
            OwnedTok::Var(i) => {
                let (key, default) = vars.get(*i)?;
                Tok::Lit(lookup(key).or(default.as_deref())?)
            }
        })
    };
    if toks.len() <= INLINE {
        let mut buf = [Tok::Star; INLINE];
        for (slot, t) in buf.iter_mut().zip(toks) {
            *slot = resolve(t)?;
        }
        Some(f(buf.get(..toks.len()).unwrap_or_default()))
    } else {
        let v = toks.iter().map(resolve).collect::<Option<Vec<_>>>()?;
        Some(f(&v))
    }
}

fn push_lit(toks: &mut Vec<OwnedTok>, s: &str) {
    if s.is_empty() {
        return;
    }
    if let Some(OwnedTok::Lit(prev)) = toks.last_mut() {
        let joined = format!("{prev}{s}");
        *prev = joined.into();
    } else {
        toks.push(OwnedTok::Lit(s.into()));
    }
}

/// True if an ARN pattern has a wildcard that must not cross a colon.
fn has_segment_wildcard(t: &str) -> bool {
    let b = t.as_bytes();
    b.iter().enumerate().any(|(i, &c)| match c {
        b'?' => true,
        b'*' => !matches!(b.get(i + 1), None | Some(b':') | Some(b'*')),
        _ => false,
    })
}

/// Splits a value into text, escapes and variables. Anything that does not parse as a
/// variable stays text, which then simply has to match literally.
fn parse_parts(text: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        lit.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        match parse_var(after) {
            Some((part, used)) => {
                if !lit.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut lit).into()));
                }
                parts.push(part);
                rest = after.get(used..).unwrap_or_default();
            }
            None => {
                lit.push_str("${");
                rest = after;
            }
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() || parts.is_empty() {
        parts.push(Part::Text(lit.into()));
    }
    parts
}

/// Parses what follows `${`: returns the part and the bytes used including the `}`.
fn parse_var(s: &str) -> Option<(Part, usize)> {
    let close = s.find('}')?;
    // A default may itself contain `}`: find the quoted default first.
    let (inner, used) = match (s.find(','), s.find('\'')) {
        (Some(comma), Some(q)) if comma < close && q > comma => {
            // Default value: '...' with '' for a quote.
            let body = s.get(q + 1..)?;
            let mut val = String::new();
            let mut chars = body.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    if body.get(i + 1..).is_some_and(|r| r.starts_with('\'')) {
                        val.push('\'');
                        chars.next();
                        continue;
                    }
                    end = Some(i);
                    break;
                }
                val.push(c);
            }
            let end = q + 1 + end?;
            let tail = s.get(end + 1..)?;
            let close2 = tail.find('}')?;
            if !tail.get(..close2)?.trim().is_empty() {
                return None;
            }
            let key = s.get(..comma)?.trim();
            if key.is_empty() {
                return None;
            }
            return Some((
                Part::Var { key: key.to_ascii_lowercase().into(), default: Some(val.into()) },
                end + 1 + close2 + 1,
            ));
        }
        _ => (s.get(..close)?, close + 1),
    };
    let part = match inner.trim() {
        "*" => Part::Escaped('*'),
        "?" => Part::Escaped('?'),
        "$" => Part::Escaped('$'),
        "" => return None,
        k if k.contains(char::is_whitespace) => return None,
        k => Part::Var { key: k.to_ascii_lowercase().into(), default: None },
    };
    Some((part, used))
}

/// The slow, obviously-correct ARN matcher: the segment rules read straight off the
/// definition, one character at a time. Property tests compare [`Template`] against it.
pub fn reference_arn_match(pattern: &str, subject: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => {
                let crosses = matches!(rest.first(), None | Some(':') | Some('*'));
                (0..=s.len())
                    .take_while(|&i| crosses || i == 0 || s.get(i - 1) != Some(&':'))
                    .any(|i| go(rest, s.get(i..).unwrap_or_default()))
            }
            Some(('?', rest)) => s.first().is_some_and(|c| *c != ':') && go(rest, s.get(1..).unwrap_or_default()),
            Some((c, rest)) => s.first() == Some(c) && go(rest, s.get(1..).unwrap_or_default()),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = subject.chars().collect();
    go(&p, &s)
}

/// A compiled ARN pattern without policy variables: the one matcher for everything outside
/// the evaluator that compares a resource with a `Resource` pattern (resource narrowing in
/// [`crate::synth`], a scenario's resource policies in [`crate::workload`]), so that
/// they agree with the evaluator on the segment rules. Action names and condition values
/// keep the plain glob of [`crate::pattern`].
#[derive(Debug, Clone)]
pub struct ArnPattern(Template);

impl ArnPattern {
    /// Compiles `pattern`; `*` and `?` follow the segment rules of this module.
    pub fn new(pattern: &str) -> ArnPattern {
        ArnPattern(Template::new(pattern, Mode::Arn, false))
    }

    /// Does the ARN (case-sensitive) match?
    pub fn is_match(&self, arn: &str) -> bool {
        self.0.is_match(arn, &|_| None)
    }
}

/// [`ArnPattern`] compiled for one comparison.
pub fn arn_match(pattern: &str, subject: &str) -> bool {
    ArnPattern::new(pattern).is_match(subject)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(p: &str, s: &str) -> bool {
        arn_match(p, s)
    }

    #[test]
    fn arn_segments() {
        assert!(m("arn:aws:iam::*", "arn:aws:iam::123:role/x"));
        assert!(m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c"));
        assert!(m("arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:us-east-1:123:instance/i-1"));
        assert!(!m("arn:aws:ec2:us-*1:123:x", "arn:aws:ec2:us-east:1:123:x"));
        assert!(m("arn:aws:ec2:us-*1:123:x", "arn:aws:ec2:us-east-1:123:x"));
        assert!(!m("arn:aws:ec2:us-east-?:123:x", "arn:aws:ec2:us-east-::123:x"));
        assert!(!m("arn:aws:s3:::Bucket", "arn:aws:s3:::bucket"));
    }

    #[test]
    fn variables_and_escapes() {
        let t = Template::new("arn:aws:s3:::b/${aws:username}/*", Mode::Arn, true);
        let look = |k: &str| if k == "aws:username" { Some("bob") } else { None };
        assert!(t.is_match("arn:aws:s3:::b/bob/x", &look));
        assert!(!t.is_match("arn:aws:s3:::b/alice/x", &look));
        assert!(!t.is_match("arn:aws:s3:::b/bob/x", &|_| None), "no value: matches nothing");
        assert!(!t.is_match("arn:aws:s3:::b//x", &|_| None), "no value is not the empty string");
        let d = Template::new("home/${aws:username, 'anonymous'}", Mode::Glob, true);
        assert!(d.is_match("home/anonymous", &|_| None));
        let e = Template::new("a${*}b", Mode::Glob, true);
        assert!(e.is_match("a*b", &|_| None));
        assert!(!e.is_match("axb", &|_| None));
        let q = Template::new("cost${$}${?}", Mode::Literal, true);
        assert!(q.equals("cost$?", &|_| None, false));
        let old = Template::new("b/${aws:username}", Mode::Glob, false);
        assert!(old.is_match("b/${aws:username}", &|_| None));
        let quoted = Template::new("${k, 'it''s'}", Mode::Literal, true);
        assert!(quoted.equals("it's", &|_| None, false));
    }

    proptest! {
        #[test]
        fn fast_arn_matcher_agrees_with_reference(p in "[ab:*?/]{0,9}", s in "[ab:/]{0,10}") {
            prop_assert_eq!(m(&p, &s), reference_arn_match(&p, &s), "pattern {:?} subject {:?}", p, s);
        }

        #[test]
        fn glob_tokens_agree_with_pattern_reference(p in "[ab*?:]{0,9}", s in "[ab:]{0,10}") {
            let t = Template::new(&format!("${{x}}{p}"), Mode::Glob, true);
            let r = t.is_match(&format!("v{s}"), &|_| Some("v"));
            prop_assert_eq!(r, crate::pattern::reference_match(&p, &s));
        }
    }
}
