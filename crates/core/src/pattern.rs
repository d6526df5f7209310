//! Compiled IAM wildcards (`*` any run of characters, `?` one character) for actions and
//! condition values. `Resource` patterns go through [`crate::eval::ArnPattern`] instead: a
//! wildcard there stays inside its ARN segment, which a plain glob does not know (that
//! matcher falls back on this one for the patterns where the two agree).
//!
//! Each pattern is classified once into the cheapest way to match it (exact, prefix,
//! suffix, everything, general glob), because the evaluator matches the same few patterns
//! millions of times. Action patterns are case-insensitive (the pattern and the subject
//! are both lowercased by the caller); ARN and `StringLike` patterns are case-sensitive.

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `*`: matches everything.
    Any,
    /// No wildcard: byte equality.
    Exact(Box<str>),
    /// `abc*`.
    Prefix(Box<str>),
    /// `*abc`.
    Suffix(Box<str>),
    /// `ab*cd` with one star and no `?`.
    PrefixSuffix(Box<str>, Box<str>),
    /// Anything else: a glob over characters.
    Glob(Box<[GlobToken]>),
}

/// One element of a general glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobToken {
    /// A literal run.
    Lit(Box<str>),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters, including none.
    Star,
}

impl Pattern {
    /// Compiles a pattern written with `*` and `?` wildcards.
    pub fn new(pattern: &str) -> Pattern {
        if pattern == "*" {
            return Pattern::Any;
        }
        let stars = pattern.matches('*').count();
        let has_q = pattern.contains('?');
        if !has_q {
            match stars {
                0 => return Pattern::Exact(pattern.into()),
                1 => {
                    if let Some(p) = pattern.strip_suffix('*') {
                        return Pattern::Prefix(p.into());
                    }
                    if let Some(s) = pattern.strip_prefix('*') {
                        return Pattern::Suffix(s.into());
                    }
                    if let Some((p, s)) = pattern.split_once('*') {
                        return Pattern::PrefixSuffix(p.into(), s.into());
                    }
                }
                _ => {}
            }
        }
        let mut tokens = Vec::new();
        let mut lit = String::new();
        for c in pattern.chars() {
            match c {
                '*' | '?' => {
                    if !lit.is_empty() {
                        tokens.push(GlobToken::Lit(std::mem::take(&mut lit).into()));
                    }
                    // Consecutive stars are one star.
                    if c == '*' {
                        if tokens.last() != Some(&GlobToken::Star) {
                            tokens.push(GlobToken::Star);
                        }
                    } else {
                        tokens.push(GlobToken::One);
                    }
                }
                _ => lit.push(c),
            }
        }
        if !lit.is_empty() {
            tokens.push(GlobToken::Lit(lit.into()));
        }
        Pattern::Glob(tokens.into())
    }

    /// Compiles a pattern in lowercase, for case-insensitive matching of lowercased subjects.
    pub fn new_lowercase(pattern: &str) -> Pattern {
        Pattern::new(&pattern.to_ascii_lowercase())
    }

    /// True if the pattern has no wildcard.
    pub fn is_literal(&self) -> bool {
        matches!(self, Pattern::Exact(_))
    }

    /// Does `subject` match?
    #[inline]
    pub fn is_match(&self, subject: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(e) => subject == &**e,
            Pattern::Prefix(p) => subject.starts_with(&**p),
            Pattern::Suffix(s) => subject.ends_with(&**s),
            Pattern::PrefixSuffix(p, s) => {
                subject.len() >= p.len() + s.len() && subject.starts_with(&**p) && subject.ends_with(&**s)
            }
            Pattern::Glob(tokens) => glob_match(tokens, subject),
        }
    }
}

/// Iterative glob matching with single-star backtracking: linear in practice, no recursion.
fn glob_match(tokens: &[GlobToken], subject: &str) -> bool {
    let mut ti = 0;
    let mut si = 0;
    // Where to resume after the last star: (token index after star, subject index).
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if let Some(tok) = tokens.get(ti) {
            match tok {
                GlobToken::Star => {
                    ti += 1;
                    resume = Some((ti, si));
                    continue;
                }
                GlobToken::Lit(l) => {
                    if subject.get(si..).is_some_and(|rest| rest.starts_with(&**l)) {
                        ti += 1;
                        si += l.len();
                        continue;
                    }
                }
                GlobToken::One => {
                    if let Some(c) = subject.get(si..).and_then(|r| r.chars().next()) {
                        ti += 1;
                        si += c.len_utf8();
                        continue;
                    }
                }
            }
        } else if si == subject.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more character, or fail.
        match resume {
            Some((rt, rs)) => {
                let Some(c) = subject.get(rs..).and_then(|r| r.chars().next()) else {
                    return false;
                };
                let rs = rs + c.len_utf8();
                resume = Some((rt, rs));
                ti = rt;
                si = rs;
            }
            None => return false,
        }
    }
}

/// The slow, obviously-correct matcher that property tests compare [`Pattern`] against:
/// a recursive definition straight from the meaning of `*` and `?`.
pub fn reference_match(pattern: &str, subject: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => (0..=s.len()).any(|i| go(rest, s.get(i..).unwrap_or_default())),
            Some(('?', rest)) => !s.is_empty() && go(rest, s.get(1..).unwrap_or_default()),
            Some((c, rest)) => s.first() == Some(c) && go(rest, s.get(1..).unwrap_or_default()),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = subject.chars().collect();
    go(&p, &s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn classifies_patterns() {
        assert_eq!(Pattern::new("*"), Pattern::Any);
        assert!(matches!(Pattern::new("iam:*"), Pattern::Prefix(_)));
        assert!(matches!(Pattern::new("*Role"), Pattern::Suffix(_)));
        assert!(matches!(Pattern::new("iam:*Role"), Pattern::PrefixSuffix(..)));
        assert!(matches!(Pattern::new("iam:Get*Role*"), Pattern::Glob(_)));
        assert!(Pattern::new("iam:PassRole").is_literal());
    }

    #[test]
    fn matches_like_iam() {
        assert!(Pattern::new("arn:aws:s3:::bucket/*").is_match("arn:aws:s3:::bucket/a/b/c"));
        assert!(!Pattern::new("arn:aws:s3:::bucket/*").is_match("arn:aws:s3:::bucket"));
        assert!(Pattern::new("ab*cd").is_match("abcd"));
        assert!(!Pattern::new("ab*bc").is_match("abc"));
        assert!(Pattern::new("a?c").is_match("abc"));
        assert!(!Pattern::new("a?c").is_match("ac"));
        assert!(Pattern::new("*a*b?c*").is_match("xxaxxbyc"));
        assert!(Pattern::new("é?").is_match("éü"));
    }

    proptest! {
        #[test]
        fn fast_matcher_agrees_with_reference(p in "[ab*?:/]{0,8}", s in "[ab:/]{0,10}") {
            prop_assert_eq!(Pattern::new(&p).is_match(&s), reference_match(&p, &s), "pattern {:?} subject {:?}", p, s);
        }
    }
}
