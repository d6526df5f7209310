//! A small JSON parser that keeps the line and column of every value and key.
//!
//! `serde_json` reports positions for syntax errors only; policy errors such as a bad
//! `Effect` must also point into the user's file, so the policy parser works on this tree.
//! It accepts exactly RFC 8259 JSON (no comments, no trailing commas), like IAM does.

use std::fmt;

/// A 1-based position in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A JSON value with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Json {
    /// Where the value starts.
    pub pos: Pos,
    /// The value itself.
    pub kind: JsonKind,
}

/// The shape of a [`Json`] value. Objects keep their keys in source order, with positions.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonKind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, kept as written so that nothing is lost or reformatted.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object: (key, key position, value) in source order.
    Object(Vec<(String, Pos, Json)>),
}

impl Json {
    /// A short word for the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            JsonKind::Null => "null",
            JsonKind::Bool(_) => "a boolean",
            JsonKind::Number(_) => "a number",
            JsonKind::String(_) => "a string",
            JsonKind::Array(_) => "an array",
            JsonKind::Object(_) => "an object",
        }
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            JsonKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// Converts to a `serde_json::Value` (positions dropped).
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            JsonKind::Null => Value::Null,
            JsonKind::Bool(b) => Value::Bool(*b),
            JsonKind::Number(n) => serde_json::from_str(n).unwrap_or(Value::Null),
            JsonKind::String(s) => Value::String(s.clone()),
            JsonKind::Array(a) => Value::Array(a.iter().map(Json::to_value).collect()),
            JsonKind::Object(o) => Value::Object(o.iter().map(|(k, _, v)| (k.clone(), v.to_value())).collect()),
        }
    }
}

/// A JSON syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JsonError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// What it expected.
    pub message: String,
}

/// Parses a complete JSON text.
pub fn parse(text: &str) -> Result<Json, JsonError> {
    let mut p = Parser { src: text.as_bytes(), at: 0, line: 1, col: 1, depth: 0 };
    // A UTF-8 byte order mark is tolerated: editors on Windows add it.
    if p.src.starts_with(&[0xEF, 0xBB, 0xBF]) {
        p.at = 3;
    }
    p.skip_ws();
    let v = p.value()?;
    p.skip_ws();
    if p.at < p.src.len() {
        return Err(p.err("unexpected text after the end of the JSON document"));
    }
    Ok(v)
}

struct Parser<'a> {
    src: &'a [u8],
    at: usize,
    line: u32,
    col: u32,
    depth: u32,
}

const MAX_DEPTH: u32 = 128;

impl Parser<'_> {
    fn pos(&self) -> Pos {
        Pos { line: self.line, column: self.col }
    }

    fn err(&self, message: impl Into<String>) -> JsonError {
        JsonError { pos: self.pos(), message: message.into() }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        if b == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if b & 0xC0 != 0x80 {
            // Count characters, not bytes: continuation bytes do not advance the column.
            self.col += 1;
        }
        Some(b)
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.bump();
        }
    }

    fn expect_lit(&mut self, lit: &str) -> Result<(), JsonError> {
        let start = self.pos();
        for &c in lit.as_bytes() {
            if self.bump() != Some(c) {
                return Err(JsonError { pos: start, message: format!("invalid literal, expected `{lit}`") });
            }
        }
        Ok(())
    }

    fn value(&mut self) -> Result<Json, JsonError> {
        let pos = self.pos();
        let kind = match self.peek() {
            None => return Err(self.err("unexpected end of input, expected a value")),
            Some(b'{') => self.object()?,
            Some(b'[') => self.array()?,
            Some(b'"') => JsonKind::String(self.string()?),
            Some(b't') => {
                self.expect_lit("true")?;
                JsonKind::Bool(true)
            }
            Some(b'f') => {
                self.expect_lit("false")?;
                JsonKind::Bool(false)
            }
            Some(b'n') => {
                self.expect_lit("null")?;
                JsonKind::Null
            }
            Some(b'-' | b'0'..=b'9') => JsonKind::Number(self.number()?),
            Some(b'\'') => return Err(self.err("strings must use double quotes (\"), not single quotes")),
            Some(c) => return Err(self.err(format!("unexpected character `{}`, expected a value", char::from(c)))),
        };
        Ok(Json { pos, kind })
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nesting is too deep"));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<JsonKind, JsonError> {
        self.enter()?;
        self.bump();
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.bump();
            self.depth -= 1;
            return Ok(JsonKind::Object(items));
        }
        loop {
            self.skip_ws();
            let kpos = self.pos();
            if self.peek() != Some(b'"') {
                return Err(self.err(if self.peek() == Some(b'}') {
                    "trailing comma before `}`: remove the comma".to_string()
                } else {
                    "expected a key in double quotes".to_string()
                }));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.err(format!("expected `:` after the key \"{key}\"")));
            }
            self.bump();
            self.skip_ws();
            let v = self.value()?;
            items.push((key, kpos, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.bump();
                }
                Some(b'}') => {
                    self.bump();
                    break;
                }
                _ => return Err(self.err("expected `,` or `}` after an object member (is a comma missing?)")),
            }
        }
        self.depth -= 1;
        Ok(JsonKind::Object(items))
    }

    fn array(&mut self) -> Result<JsonKind, JsonError> {
        self.enter()?;
        self.bump();
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.bump();
            self.depth -= 1;
            return Ok(JsonKind::Array(items));
        }
        loop {
            self.skip_ws();
            if self.peek() == Some(b']') {
                return Err(self.err("trailing comma before `]`: remove the comma"));
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.bump();
                }
                Some(b']') => {
                    self.bump();
                    break;
                }
                _ => return Err(self.err("expected `,` or `]` after an array element (is a comma missing?)")),
            }
        }
        self.depth -= 1;
        Ok(JsonKind::Array(items))
    }

    fn number(&mut self) -> Result<String, JsonError> {
        let start = self.at;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
            self.bump();
        }
        let s = std::str::from_utf8(self.src.get(start..self.at).unwrap_or_default()).unwrap_or_default();
        if serde_json::from_str::<serde_json::Number>(s).is_err() {
            return Err(self.err(format!("invalid number `{s}`")));
        }
        Ok(s.to_string())
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.bump();
        let mut out = Vec::new();
        loop {
            let Some(b) = self.bump() else {
                return Err(self.err("unterminated string: a closing `\"` is missing"));
            };
            match b {
                b'"' => break,
                b'\\' => match self.bump() {
                    Some(b'"') => out.push(b'"'),
                    Some(b'\\') => out.push(b'\\'),
                    Some(b'/') => out.push(b'/'),
                    Some(b'b') => out.push(8),
                    Some(b'f') => out.push(12),
                    Some(b'n') => out.push(b'\n'),
                    Some(b'r') => out.push(b'\r'),
                    Some(b't') => out.push(b'\t'),
                    Some(b'u') => {
                        let c = self.unicode_escape()?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return Err(self.err("invalid escape sequence in string")),
                },
                0..=0x1F => return Err(self.err("control character in string: escape it (for example `\\n`)")),
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not valid UTF-8"))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d =
                self.bump().and_then(|b| char::from(b).to_digit(16)).ok_or_else(|| self.err("invalid `\\u` escape"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.bump() != Some(b'\\') || self.bump() != Some(b'u') {
                return Err(self.err("unpaired surrogate in `\\u` escape"));
            }
            let lo = self.hex4()?;
            let c = 0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
            return char::from_u32(c).ok_or_else(|| self.err("invalid surrogate pair"));
        }
        char::from_u32(hi).ok_or_else(|| self.err("invalid `\\u` escape"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_values() {
        let j = parse("{\n  \"a\": [1, \"x\"],\n  \"b\": null\n}").unwrap_or_else(|e| panic!("{e}"));
        let JsonKind::Object(items) = &j.kind else { panic!("not an object") };
        assert_eq!(items[0].1, Pos { line: 2, column: 3 });
        assert_eq!(items[1].2.pos, Pos { line: 3, column: 8 });
        let JsonKind::Array(a) = &items[0].2.kind else { panic!("not an array") };
        assert_eq!(a[1].pos, Pos { line: 2, column: 12 });
    }

    #[test]
    fn errors_name_the_position() {
        let e = parse("{\n \"a\": 1,\n}").err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(e.pos.line, 3);
        assert!(e.message.contains("trailing comma"), "{}", e.message);
        let e = parse("{\"a\": \"x\" \"b\": 1}").err().unwrap_or_else(|| panic!("accepted"));
        assert!(e.message.contains("comma missing"), "{}", e.message);
        assert!(parse("[1, 2").is_err());
        assert!(parse("{} x").is_err());
    }

    #[test]
    fn unescapes_strings() {
        let j = parse(r#""a\"b\u00e9\ud83d\ude00""#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(j.as_str(), Some("a\"bé😀"));
    }
}
