//! Stage two of the fast skim: the JSON grammar checked over the tokens of [`super::blocks`]
//! (brackets, separators, opening quotes, first bytes of numbers and literals) instead of
//! over every byte.
//!
//! Between two consecutive tokens there can only be whitespace and the rest of one string, so
//! checking the order of tokens checks the grammar, as the byte walker does, with the same
//! leniency (numbers and UTF-8 are not checked). This walk only decides "valid, ending here"
//! or "not accepted": it never names an error. On anything it does not accept, the caller
//! asks the byte walker, which then says exactly what is wrong and where, or that the input
//! is incomplete. So error messages do not depend on which path ran, and a case this walk is
//! too strict about costs time, not correctness.

use super::blocks::{Classify, Tokens};
use super::MAX_DEPTH;

#[inline(always)]
fn byte(b: &[u8], i: usize) -> Option<u8> {
    b.get(i).copied()
}

/// Bytes that end a number or a literal.
#[inline(always)]
fn is_delimiter(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' | b'{' | b'}' | b'[' | b']' | b'"')
}

/// Checks the number or literal starting at `p`; returns the offset after it. A scalar that
/// reaches the end of the input is not accepted: it may continue in the next read.
#[inline(always)]
fn scalar_end(b: &[u8], p: usize) -> Option<usize> {
    let literal = |lit: &[u8]| b.get(p..p + lit.len()).filter(|s| *s == lit).map(|_| p + lit.len());
    let end = match byte(b, p)? {
        b't' => literal(b"true")?,
        b'f' => literal(b"false")?,
        b'n' => literal(b"null")?,
        b'-' | b'0'..=b'9' => {
            let mut i = p + 1;
            while matches!(byte(b, i), Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
                i += 1;
            }
            i
        }
        _ => return None,
    };
    is_delimiter(byte(b, end)?).then_some(end)
}

/// The offset just after the last non-whitespace byte before `i`.
#[inline(always)]
fn trim_end(b: &[u8], mut i: usize) -> usize {
    while i > 0 && matches!(byte(b, i - 1), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i -= 1;
    }
    i
}

/// What follows a bracket or separator where a value (or key) must come.
#[derive(Clone, Copy)]
enum Start {
    /// A string directly after it: its quote is not a token (see [`super::blocks`]), so the
    /// walk's next token is the one after the string.
    Str,
    /// The next token: a bracket, a number or literal, a quote after whitespace, or anything else.
    Tok(usize),
}

/// After the token `p` (a bracket or separator): how the next value starts.
#[inline(always)]
fn start_after<C: Classify>(t: &mut Tokens<'_, C>, b: &[u8], p: usize) -> Option<Start> {
    // No token can lie between `p` and `p + 1`, and a quote there opens a string.
    if byte(b, p + 1)? == b'"' {
        return Some(Start::Str);
    }
    t.next().map(Start::Tok)
}

/// After `{` or an object's `,` at `p`: checks a key and its colon; returns how the value starts.
#[inline(always)]
fn key_colon<C: Classify>(t: &mut Tokens<'_, C>, b: &[u8], key: Start) -> Option<Start> {
    if let Start::Tok(k) = key {
        if byte(b, k)? != b'"' {
            return None;
        }
    }
    let colon = t.next()?;
    if byte(b, colon)? != b':' {
        return None;
    }
    start_after(t, b, colon)
}

/// Skims the container whose opening bracket is the token `open`, just taken from `t`;
/// returns the offset after its closing bracket.
#[inline(always)]
fn container<C: Classify>(t: &mut Tokens<'_, C>, b: &[u8], open: usize) -> Option<usize> {
    // Bit d of `objects` is set when container d is an object.
    let mut objects: u64 = 0;
    let mut depth: u32 = 0;
    // The last closing bracket taken: the end of the outermost container once depth is 0.
    let mut close = open;
    let mut start = Start::Tok(open);
    'value: loop {
        if let Start::Tok(v) = start {
            let c = byte(b, v)?;
            if c == b'{' || c == b'[' {
                let is_object = c == b'{';
                let first = start_after(t, b, v)?;
                let empty = match first {
                    Start::Tok(q) => byte(b, q)? == if is_object { b'}' } else { b']' },
                    Start::Str => false,
                };
                if empty {
                    if let Start::Tok(q) = first {
                        close = q;
                    }
                } else {
                    if depth == MAX_DEPTH {
                        return None;
                    }
                    objects = (objects & !(1 << depth)) | (u64::from(is_object) << depth);
                    depth += 1;
                    start = if is_object { key_colon(t, b, first)? } else { first };
                    continue 'value;
                }
            } else if c != b'"' {
                scalar_end(b, v)?;
            }
        }
        // After a value: close containers until one continues with a comma.
        loop {
            if depth == 0 {
                return Some(close + 1);
            }
            let in_object = objects >> (depth - 1) & 1 != 0;
            let q = t.next()?;
            match byte(b, q)? {
                b',' => {
                    let next = start_after(t, b, q)?;
                    start = if in_object { key_colon(t, b, next)? } else { next };
                    continue 'value;
                }
                b'}' if in_object => {
                    depth -= 1;
                    close = q;
                }
                b']' if !in_object => {
                    depth -= 1;
                    close = q;
                }
                _ => return None,
            }
        }
    }
}

/// Skims the object or array at `start`; `None` when not accepted (see the module comment).
#[inline(always)]
pub(super) fn skip_container<C: Classify>(c: C, b: &[u8], start: usize) -> Option<usize> {
    if !matches!(byte(b, start)?, b'{' | b'[') {
        return None;
    }
    let mut t = Tokens::new(c, b, start);
    if t.next()? != start {
        return None;
    }
    let end = container(&mut t, b, start)?;
    t.escapes_valid_before(end).then_some(end)
}

/// Calls `f(key, start, end)` for each field of the object at `start` and returns the offset
/// after it, like [`super::for_each_field`]; `None` when not accepted, possibly after some
/// calls to `f`.
#[inline(always)]
pub(super) fn fields<'a, C: Classify>(
    c: C,
    obj: &'a [u8],
    start: usize,
    mut f: impl FnMut(&'a [u8], usize, usize),
) -> Option<usize> {
    if byte(obj, start)? != b'{' {
        return None;
    }
    let mut t = Tokens::new(c, obj, start);
    if t.next()? != start {
        return None;
    }
    let mut sep = start;
    let mut key = start_after(&mut t, obj, start)?;
    if let Start::Tok(q) = key {
        if byte(obj, q)? == b'}' {
            return Some(q + 1);
        }
    }
    loop {
        let k = match key {
            Start::Str => sep + 1,
            Start::Tok(k) if byte(obj, k)? == b'"' => k,
            Start::Tok(_) => return None,
        };
        let colon = t.next()?;
        if byte(obj, colon)? != b':' {
            return None;
        }
        let (v, v_end, after) = match start_after(&mut t, obj, colon)? {
            Start::Str => {
                let n = t.next()?;
                (colon + 1, trim_end(obj, n), n)
            }
            Start::Tok(v) => match byte(obj, v)? {
                b'"' => {
                    let n = t.next()?;
                    (v, trim_end(obj, n), n)
                }
                b'{' | b'[' => {
                    let e = container(&mut t, obj, v)?;
                    (v, e, t.next()?)
                }
                _ => {
                    let e = scalar_end(obj, v)?;
                    (v, e, t.next()?)
                }
            },
        };
        f(obj.get(k + 1..trim_end(obj, colon).saturating_sub(1)).unwrap_or_default(), v, v_end);
        match byte(obj, after)? {
            b',' => {
                sep = after;
                key = start_after(&mut t, obj, after)?;
            }
            b'}' => {
                let end = after + 1;
                return t.escapes_valid_before(end).then_some(end);
            }
            _ => return None,
        }
    }
}
