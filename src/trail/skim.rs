//! A validating JSON skimmer: finds where values end without building them.
//!
//! CloudTrail logs are large and almost every event in them is uninteresting (no error, not
//! the principal asked about). Building a `serde_json::Value` per event costs more than
//! decompressing the file, so the reader only locates value boundaries and a record's
//! top-level fields, and fully parses the few fields of the few events it keeps. A typed
//! serde_json walk that borrows what it keeps and skips the rest (`IgnoredAny`) is slower
//! too: `cargo bench --bench trail` measures the scan both ways and checks that the skim stays
//! at least 20% faster, the margin that pays for this code. The skimmer still checks the
//! grammar (brackets, commas, colons, literals, string escapes), so invalid JSON is reported,
//! not silently accepted; it is lenient only about number syntax and UTF-8, which cannot
//! change where a value ends.
//!
//! Two implementations share that contract. The byte walker below is the reference: short,
//! and the one that names errors. The block skim ([`classify`], [`blocks`], [`walk`]) classifies 64
//! bytes at a time and steps from token to token; the reader's hot paths ([`skip_value`] on
//! containers, [`fields_fast`] for records) use it, and hand anything it does not accept to
//! the byte walker, so both give the same answers (tests compare them on random and real input).

mod blocks;
mod classify;
#[cfg(test)]
mod differential;
mod walk;

/// Why a value could not be skimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkimError {
    /// The input ended inside the value: read more and try again (or report truncation).
    Incomplete,
    /// Not JSON: what was expected, at which byte offset of the input.
    Invalid {
        /// Byte offset into the slice given to the skimmer.
        offset: usize,
        /// What the grammar expected there.
        expected: &'static str,
    },
}

/// Containers deeper than this are rejected: CloudTrail nests a dozen levels at most, and a
/// fixed bound keeps the container stack in one machine word.
pub(super) const MAX_DEPTH: u32 = 64;

#[inline(always)]
fn at(b: &[u8], i: usize) -> Result<u8, SkimError> {
    b.get(i).copied().ok_or(SkimError::Incomplete)
}

/// The first non-whitespace offset at or after `i`.
#[inline(always)]
pub fn skip_ws(b: &[u8], mut i: usize) -> Result<usize, SkimError> {
    loop {
        match at(b, i)? {
            b' ' | b'\n' | b'\r' | b'\t' => i += 1,
            _ => return Ok(i),
        }
    }
}

/// The offset of the first `"` or `\` in the 16 bytes at `i` (16 if none); `None` when
/// fewer than 16 bytes remain.
#[cfg(target_arch = "x86_64")]
const STRIDE: usize = 16;
#[cfg(not(target_arch = "x86_64"))]
const STRIDE: usize = 8;

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn quote_or_escape_16(b: &[u8], i: usize) -> Option<usize> {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
    let chunk = b.get(i..i + 16)?;
    // SAFETY: SSE2 is part of the x86_64 baseline, and `chunk` is 16 readable bytes
    // (`loadu` has no alignment requirement).
    let mask = unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let q = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let e = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        _mm_movemask_epi8(_mm_or_si128(q, e)) as u32
    };
    Some(if mask == 0 { 16 } else { mask.trailing_zeros() as usize })
}

/// The portable version (its stride is 8): eight bytes at a time (true bits mark zero bytes; the lowest is exact).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn quote_or_escape_16(b: &[u8], i: usize) -> Option<usize> {
    fn zero_bytes(x: u64) -> u64 {
        x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080
    }
    let chunk = b.get(i..i + 8)?;
    let v = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).ok()?);
    let hits = zero_bytes(v ^ 0x2222_2222_2222_2222) | zero_bytes(v ^ 0x5c5c_5c5c_5c5c_5c5c);
    Some(if hits == 0 { 8 } else { (hits.trailing_zeros() / 8) as usize })
}

/// Skips a string whose opening quote is at `i - 1`; returns the offset after the closing quote.
/// Strings are most of CloudTrail's bytes and most are short, so one vector compare usually
/// finds the closing quote.
#[inline(always)]
fn skip_string_body(b: &[u8], mut i: usize) -> Result<usize, SkimError> {
    loop {
        while let Some(k) = quote_or_escape_16(b, i) {
            i += k;
            if k < STRIDE {
                break;
            }
        }
        match at(b, i)? {
            b'"' => return Ok(i + 1),
            b'\\' => match at(b, i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'u' => i += 2,
                _ => return Err(SkimError::Invalid { offset: i + 1, expected: "a valid escape after `\\`" }),
            },
            _ => i += 1,
        }
    }
}

/// Skips a string starting at its opening quote at `i`.
#[inline]
pub fn skip_string(b: &[u8], i: usize) -> Result<usize, SkimError> {
    if at(b, i)? != b'"' {
        return Err(SkimError::Invalid { offset: i, expected: "a string" });
    }
    skip_string_body(b, i + 1)
}

fn skip_literal(b: &[u8], i: usize, lit: &'static [u8]) -> Result<usize, SkimError> {
    let end = i + lit.len();
    match b.get(i..end) {
        Some(s) if s == lit => Ok(end),
        Some(_) => Err(SkimError::Invalid { offset: i, expected: "a JSON value" }),
        None if b.get(i..).is_some_and(|s| lit.starts_with(s)) => Err(SkimError::Incomplete),
        None => Err(SkimError::Invalid { offset: i, expected: "a JSON value" }),
    }
}

fn skip_number(b: &[u8], mut i: usize) -> Result<usize, SkimError> {
    // A number at the very end of the input may continue in the next read.
    loop {
        match at(b, i)? {
            b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' => i += 1,
            _ => return Ok(i),
        }
    }
}

/// After `{` (whitespace skipped): a key, its colon, and the whitespace before the value.
#[inline(always)]
fn skip_key_colon(b: &[u8], i: usize) -> Result<usize, SkimError> {
    if at(b, i)? != b'"' {
        return Err(SkimError::Invalid { offset: i, expected: "a string key" });
    }
    let i = skip_ws(b, skip_string_body(b, i + 1)?)?;
    if at(b, i)? != b':' {
        return Err(SkimError::Invalid { offset: i, expected: "`:` after a key" });
    }
    Ok(i + 1)
}

/// Skips one JSON value starting at or after `i` (leading whitespace allowed); returns the
/// offset just after it.
pub fn skip_value(b: &[u8], i: usize) -> Result<usize, SkimError> {
    if let Ok(j) = skip_ws(b, i) {
        if matches!(b.get(j), Some(b'{' | b'[')) {
            if let Some(end) = fast::skip_container(b, j) {
                return Ok(end);
            }
        }
    }
    walk_value(b, i)
}

/// Calls `f(key, start, end)` for each field of the object at the start of `obj`, like
/// [`for_each_field`], through the block skim; `None` when the block skim does not accept the
/// object (possibly after calling `f` for some fields): [`for_each_field`] then says why.
#[inline]
pub fn fields_fast<'a>(obj: &'a [u8], f: impl FnMut(&'a [u8], usize, usize)) -> Option<usize> {
    let start = skip_ws(obj, 0).ok()?;
    fast::fields(obj, start, f)
}

/// The block skim with the best classifier this CPU has.
mod fast {
    use super::classify::{with_isa, Isa};
    use super::walk;

    pub(super) fn skip_container(b: &[u8], start: usize) -> Option<usize> {
        with_isa!(Isa::best(), c => walk::skip_container(c, b, start))
    }

    pub(super) fn fields<'a>(obj: &'a [u8], start: usize, f: impl FnMut(&'a [u8], usize, usize)) -> Option<usize> {
        with_isa!(Isa::best(), c => walk::fields(c, obj, start, f))
    }
}

/// The byte walker's [`skip_value`]: the reference, and the one that names errors.
fn walk_value(b: &[u8], mut i: usize) -> Result<usize, SkimError> {
    // Bit d of `objects` is set when container d is an object.
    let mut objects: u64 = 0;
    let mut depth: u32 = 0;
    'value: loop {
        i = skip_ws(b, i)?;
        match at(b, i)? {
            b'"' => i = skip_string_body(b, i + 1)?,
            b'{' => {
                i = skip_ws(b, i + 1)?;
                if at(b, i)? == b'}' {
                    i += 1;
                } else {
                    if depth == MAX_DEPTH {
                        return Err(SkimError::Invalid { offset: i, expected: "nesting of at most 64 levels" });
                    }
                    objects |= 1 << depth;
                    depth += 1;
                    i = skip_key_colon(b, i)?;
                    continue 'value;
                }
            }
            b'[' => {
                i = skip_ws(b, i + 1)?;
                if at(b, i)? == b']' {
                    i += 1;
                } else {
                    if depth == MAX_DEPTH {
                        return Err(SkimError::Invalid { offset: i, expected: "nesting of at most 64 levels" });
                    }
                    objects &= !(1 << depth);
                    depth += 1;
                    continue 'value;
                }
            }
            b't' => i = skip_literal(b, i, b"true")?,
            b'f' => i = skip_literal(b, i, b"false")?,
            b'n' => i = skip_literal(b, i, b"null")?,
            b'-' | b'0'..=b'9' => i = skip_number(b, i)?,
            _ => return Err(SkimError::Invalid { offset: i, expected: "a JSON value" }),
        }
        // After a value: close containers until one continues with a comma.
        loop {
            if depth == 0 {
                return Ok(i);
            }
            let in_object = objects & (1 << (depth - 1)) != 0;
            i = skip_ws(b, i)?;
            match at(b, i)? {
                b',' => {
                    i += 1;
                    if in_object {
                        i = skip_key_colon(b, skip_ws(b, i)?)?;
                    }
                    continue 'value;
                }
                b'}' if in_object => {
                    depth -= 1;
                    i += 1;
                }
                b']' if !in_object => {
                    depth -= 1;
                    i += 1;
                }
                _ => {
                    let expected = if in_object { "`,` or `}`" } else { "`,` or `]`" };
                    return Err(SkimError::Invalid { offset: i, expected });
                }
            }
        }
    }
}

/// The raw bytes of a key between its quotes (escapes left as written: CloudTrail keys have none).
#[inline]
fn key_bytes(b: &[u8], start: usize, end: usize) -> &[u8] {
    b.get(start + 1..end.saturating_sub(1)).unwrap_or_default()
}

/// Calls `f(key, start, end)` for each field of the object at the start of `obj` (leading
/// whitespace allowed; `obj[start..end]` is the raw JSON text of the field's value); returns
/// the offset just after the object. Errors if `obj` does not start with an object.
pub fn for_each_field<'a>(obj: &'a [u8], mut f: impl FnMut(&'a [u8], usize, usize)) -> Result<usize, SkimError> {
    let mut i = skip_ws(obj, 0)?;
    if at(obj, i)? != b'{' {
        return Err(SkimError::Invalid { offset: i, expected: "an object" });
    }
    i = skip_ws(obj, i + 1)?;
    if at(obj, i)? == b'}' {
        return Ok(i + 1);
    }
    loop {
        let key_start = i;
        if at(obj, i)? != b'"' {
            return Err(SkimError::Invalid { offset: i, expected: "a string key" });
        }
        let key_end = skip_string_body(obj, i + 1)?;
        i = skip_ws(obj, key_end)?;
        if at(obj, i)? != b':' {
            return Err(SkimError::Invalid { offset: i, expected: "`:` after a key" });
        }
        let v_start = skip_ws(obj, i + 1)?;
        let v_end = walk_value(obj, v_start)?;
        f(key_bytes(obj, key_start, key_end), v_start, v_end);
        i = skip_ws(obj, v_end)?;
        match at(obj, i)? {
            b',' => i = skip_ws(obj, i + 1)?,
            b'}' => return Ok(i + 1),
            _ => return Err(SkimError::Invalid { offset: i, expected: "`,` or `}`" }),
        }
    }
}

/// Calls `f(element)` for each element of the array that `arr` holds.
pub fn for_each_element<'a>(arr: &'a [u8], mut f: impl FnMut(&'a [u8])) -> Result<(), SkimError> {
    let mut i = skip_ws(arr, 0)?;
    if at(arr, i)? != b'[' {
        return Err(SkimError::Invalid { offset: i, expected: "an array" });
    }
    i = skip_ws(arr, i + 1)?;
    if at(arr, i)? == b']' {
        return Ok(());
    }
    loop {
        let end = walk_value(arr, i)?;
        f(arr.get(i..end).unwrap_or_default());
        i = skip_ws(arr, end)?;
        match at(arr, i)? {
            b',' => i = skip_ws(arr, i + 1)?,
            b']' => return Ok(()),
            _ => return Err(SkimError::Invalid { offset: i, expected: "`,` or `]`" }),
        }
    }
}

/// The text of a JSON string value, unescaped only when it has escapes; `None` if `raw` is
/// not a string (null, a number, an object...).
pub fn string_value(raw: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if !inner.contains(&b'\\') {
        return std::str::from_utf8(inner).ok().map(std::borrow::Cow::Borrowed);
    }
    serde_json::from_slice::<String>(raw).ok().map(std::borrow::Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> usize {
        skip_value(s.as_bytes(), 0).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn skips_values_and_stops_at_their_end() {
        assert_eq!(ok(r#"{"a":[1,2,{"b":"x\"}"}],"c":null} tail"#), 33);
        assert_eq!(ok(r#"  "s\\" "#), 7);
        assert_eq!(ok("[] ,"), 2);
        assert_eq!(ok("{ } "), 3);
        assert_eq!(ok("true,"), 4);
        assert_eq!(ok("-1.5e3]"), 6);
    }

    #[test]
    fn incomplete_input_asks_for_more() {
        for s in [
            r#""0123456789abcdef"#,
            r#""0123456789\"#,
            r#"{"a":"#,
            r#"{"a":"xx"#,
            "[1,",
            "tr",
            r#"{"a":1"#,
            "12",
            r#""\"#,
        ] {
            assert_eq!(skip_value(s.as_bytes(), 0), Err(SkimError::Incomplete), "{s}");
        }
    }

    #[test]
    fn grammar_errors_are_invalid() {
        for s in [r#"{"a" 1}"#, "[1 2]", r#"{"a":1,}"#, "[1,]", "{1:2}", "[}", "tru ", "@", r#""\q""#, "[,1]"] {
            assert!(matches!(skip_value(s.as_bytes(), 0), Err(SkimError::Invalid { .. })), "{s}");
        }
    }

    #[test]
    fn fields_and_elements() {
        let mut seen = Vec::new();
        let obj = br#" {"a": [1, 2], "b" : {"c": "d"}, "e":"f"} ,"#;
        let end = for_each_field(obj, |k, s, e| {
            seen.push((String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(&obj[s..e]).into_owned()))
        })
        .unwrap();
        assert_eq!(end, obj.len() - 2);
        assert_eq!(
            seen,
            [("a".into(), "[1, 2]".into()), ("b".into(), r#"{"c": "d"}"#.into()), ("e".into(), r#""f""#.into())]
        );
        let mut n = 0;
        for_each_element(b"[ {}, [1], \"x\" ]", |_| n += 1).unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn string_values_unescape_only_when_needed() {
        assert_eq!(string_value(br#""abc""#).as_deref(), Some("abc"));
        assert_eq!(string_value(br#""a\"b""#).as_deref(), Some("a\"b"));
        assert_eq!(string_value(b"null"), None);
    }
}
