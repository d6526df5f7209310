//! Reads CloudTrail events from any of the shapes they are kept in, detected from content:
//! S3 log files `{"Records":[...]}`, a bare array, JSON Lines, a single event, LookupEvents
//! output (`CloudTrailEvent` is a JSON string, `{"Events":[...]}` from the CLI), and
//! log-shipper wrappers that hold an event or a log file in `_raw`.
//!
//! A stream is read in chunks and only one top-level value (for a log file, one record) is
//! held at a time, so memory stays bounded by the largest record, not the file.

use super::event::{EventRef, Field, RecordFields, Spans};
use super::skim::{self, string_value, SkimError};
use std::io::Read;

/// Receives every API event the reader finds.
pub trait Visitor {
    /// Called once per event (a record with an `eventName`).
    fn event(&mut self, ev: &EventRef<'_>);
}

impl<F: FnMut(&EventRef<'_>)> Visitor for F {
    fn event(&mut self, ev: &EventRef<'_>) {
        self(ev)
    }
}

/// Counts from reading one input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// API events passed to the visitor.
    pub events: u64,
    /// Records that are not API events: Insights events, stubs, wrappers without a payload.
    pub skipped: u64,
    /// Uncompressed bytes read.
    pub bytes: u64,
    /// Whether anything CloudTrail-shaped was seen (`Records`, events, Insights records).
    pub is_cloudtrail: bool,
}

/// Why an input could not be read to its end.
#[derive(Debug)]
pub enum ReadError {
    /// The underlying read (or gzip decoding) failed.
    Io(std::io::Error),
    /// Not JSON at this byte offset (of the uncompressed stream).
    Invalid {
        /// Byte offset.
        offset: u64,
        /// What the grammar expected.
        expected: &'static str,
    },
    /// The input ended inside a value.
    Truncated,
}

/// Wrappers nest (a shipper's `_raw` holding a log file holding records); deeper is not CloudTrail.
const MAX_WRAPPING: u8 = 8;

/// Handles values in memory: classifies objects, unwraps wrappers, calls the visitor.
struct Handler<'v> {
    visitor: &'v mut dyn Visitor,
    stats: ReadStats,
}

impl Handler<'_> {
    fn value(&mut self, v: &[u8], depth: u8) -> Result<(), ReadError> {
        let at = |e: SkimError| match e {
            SkimError::Incomplete => ReadError::Truncated,
            SkimError::Invalid { offset, expected } => ReadError::Invalid { offset: offset as u64, expected },
        };
        let first = skim::skip_ws(v, 0).ok().and_then(|i| v.get(i)).copied();
        match first {
            Some(b'[') if depth < MAX_WRAPPING => {
                let mut err = None;
                skim::for_each_element(v, |e| {
                    if err.is_none() {
                        err = self.value(e, depth + 1).err();
                    }
                })
                .map_err(at)?;
                err.map_or(Ok(()), Err)
            }
            Some(b'{') => {
                let f = RecordFields::of(v).map_err(at)?;
                self.object(f, depth)
            }
            _ => {
                self.stats.skipped += 1;
                Ok(())
            }
        }
    }

    fn object(&mut self, f: RecordFields<'_>, depth: u8) -> Result<(), ReadError> {
        if f.get(Field::EventName).is_some() {
            self.stats.events += 1;
            self.stats.is_cloudtrail = true;
            self.visitor.event(&EventRef { fields: f });
            return Ok(());
        }
        let nested = f.get(Field::Records).or(f.get(Field::Events)).filter(|r| r.first() == Some(&b'['));
        if let Some(list) = nested {
            self.stats.is_cloudtrail = true;
            return self.value(list, depth + 1);
        }
        if let Some(payload) = f.get(Field::CloudTrailEvent).or(f.get(Field::Raw)) {
            if depth >= MAX_WRAPPING {
                self.stats.skipped += 1;
                return Ok(());
            }
            return match payload.first() {
                Some(b'"') => match string_value(payload) {
                    Some(text) => self.document(text.as_bytes(), depth + 1),
                    None => Err(ReadError::Invalid { offset: 0, expected: "a valid JSON string" }),
                },
                Some(b'{' | b'[') => self.value(payload, depth + 1),
                _ => {
                    self.stats.skipped += 1;
                    Ok(())
                }
            };
        }
        if f.get(Field::EventVersion).is_some() || f.get(Field::EventType).is_some() {
            // Insights events and documentation stubs: CloudTrail, but not API calls.
            self.stats.is_cloudtrail = true;
        }
        self.stats.skipped += 1;
        Ok(())
    }

    /// A whole document in memory: one value, or several (JSON Lines, concatenated JSON).
    fn document(&mut self, doc: &[u8], depth: u8) -> Result<(), ReadError> {
        let mut i = 0;
        loop {
            i = match skim::skip_ws(doc, i) {
                Ok(i) => i,
                Err(_) => return Ok(()),
            };
            let end = skim::skip_value(doc, i).map_err(|e| match e {
                SkimError::Incomplete => ReadError::Truncated,
                SkimError::Invalid { offset, expected } => ReadError::Invalid { offset: offset as u64, expected },
            })?;
            self.value(doc.get(i..end).unwrap_or_default(), depth)?;
            i = end;
        }
    }
}

/// Reads all events of an in-memory document (any of the supported shapes).
pub fn read_slice(doc: &[u8], visitor: &mut dyn Visitor) -> Result<ReadStats, ReadError> {
    let mut h = Handler { visitor, stats: ReadStats::default() };
    h.document(doc, 0)?;
    h.stats.bytes = doc.len() as u64;
    Ok(h.stats)
}

const CHUNK: usize = 1 << 18;

/// A read buffer that holds at least one whole top-level value.
struct Stream<R> {
    r: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// Bytes dropped from the front of `buf` so far (for error offsets).
    base: u64,
    eof: bool,
}

impl<R: Read> Stream<R> {
    fn avail(&self) -> &[u8] {
        self.buf.get(self.pos..self.len).unwrap_or_default()
    }

    /// Reads at least `more` further bytes unless the input ends first.
    fn fill(&mut self, more: usize) -> Result<(), ReadError> {
        // Drop what was read from the front.
        let drop = self.pos;
        if drop > 0 {
            self.buf.copy_within(drop..self.len, 0);
            self.len -= drop;
            self.pos -= drop;
            self.base += drop as u64;
        }
        let target = self.len + more.max(CHUNK);
        if self.buf.len() < target {
            self.buf.resize(target, 0);
        }
        let goal = self.len + more;
        while self.len < goal {
            // At most `target`: a decoder writes as much as it is given room for, and the
            // reader should see the bytes while they are still in cache.
            let room = self.buf.get_mut(self.len..target.max(goal)).unwrap_or_default();
            match self.r.read(room) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
        Ok(())
    }

    /// Skips whitespace; false at the end of the input.
    fn skip_ws(&mut self) -> Result<bool, ReadError> {
        loop {
            let skipped = self.avail().iter().take_while(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t')).count();
            self.pos += skipped;
            if self.pos < self.len {
                return Ok(true);
            }
            if self.eof {
                return Ok(false);
            }
            self.fill(CHUNK)?;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.avail().first().copied()
    }

    /// The next whole value, as a range of `buf`.
    fn take_value(&mut self) -> Result<std::ops::Range<usize>, ReadError> {
        loop {
            match skim::skip_value(self.avail(), 0) {
                Ok(n) => {
                    let start = self.pos;
                    self.pos += n;
                    return Ok(start..start + n);
                }
                Err(SkimError::Incomplete) if !self.eof => {
                    let have = self.len - self.pos;
                    self.fill(have.max(CHUNK))?;
                }
                Err(SkimError::Incomplete) => {
                    // A number ending exactly at the end of the input is complete.
                    let rest = self.avail();
                    if !rest.is_empty() && rest.iter().all(|c| c.is_ascii_digit() || b"-+.eE".contains(c)) {
                        let start = self.pos;
                        self.pos = self.len;
                        return Ok(start..self.len);
                    }
                    return Err(ReadError::Truncated);
                }
                Err(SkimError::Invalid { offset, expected }) => {
                    return Err(ReadError::Invalid { offset: self.base + (self.pos + offset) as u64, expected })
                }
            }
        }
    }

    /// The next value, an object, with its field spans (relative to the returned start).
    fn take_object(&mut self) -> Result<(usize, Spans), ReadError> {
        loop {
            match Spans::scan(self.avail()) {
                Ok((spans, n)) => {
                    let start = self.pos;
                    self.pos += n;
                    return Ok((start, spans));
                }
                Err(SkimError::Incomplete) if !self.eof => {
                    let have = self.len - self.pos;
                    self.fill(have.max(CHUNK))?;
                }
                Err(SkimError::Incomplete) => return Err(ReadError::Truncated),
                Err(SkimError::Invalid { offset, expected }) => {
                    return Err(ReadError::Invalid { offset: self.base + (self.pos + offset) as u64, expected })
                }
            }
        }
    }

    fn expect_more(&mut self) -> Result<u8, ReadError> {
        if !self.skip_ws()? {
            return Err(ReadError::Truncated);
        }
        self.peek().ok_or(ReadError::Truncated)
    }

    fn invalid(&self, expected: &'static str) -> ReadError {
        ReadError::Invalid { offset: self.base + self.pos as u64, expected }
    }

    /// At `{`: if the object starts with `"Records": [` (or `"Events": [`), consumes that
    /// much and returns true, so the array can be streamed record by record.
    fn enter_record_list(&mut self) -> Result<bool, ReadError> {
        if self.len - self.pos < 256 && !self.eof {
            self.fill(256)?;
        }
        let b = self.avail();
        let parse = || -> Option<usize> {
            let i = skim::skip_ws(b, 1).ok()?;
            let end = skim::skip_string(b, i).ok()?;
            let key = b.get(i..end)?;
            if key != b"\"Records\"" && key != b"\"Events\"" {
                return None;
            }
            let i = skim::skip_ws(b, end).ok()?;
            (b.get(i) == Some(&b':')).then_some(())?;
            let i = skim::skip_ws(b, i + 1).ok()?;
            (b.get(i) == Some(&b'[')).then_some(i + 1)
        };
        match parse() {
            Some(n) => {
                self.pos += n;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// After `[`: passes each element to `h`, through the closing `]`.
    fn elements(&mut self, h: &mut Handler<'_>) -> Result<(), ReadError> {
        if self.expect_more()? == b']' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if self.expect_more()? == b'{' {
                // Records are objects: find their fields in the same pass that finds their end.
                let (start, spans) = self.take_object()?;
                let text = self.buf.get(start..self.pos).unwrap_or_default();
                h.object(RecordFields::new(text, spans), 1)?;
            } else {
                let r = self.take_value()?;
                h.value(self.buf.get(r).unwrap_or_default(), 1)?;
            }
            match self.expect_more()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.invalid("`,` or `]`")),
            }
        }
    }

    /// After a streamed `"Records": [...]`: skips the object's other fields through `}`.
    fn finish_object(&mut self) -> Result<(), ReadError> {
        loop {
            match self.expect_more()? {
                b'}' => {
                    self.pos += 1;
                    return Ok(());
                }
                b',' => {
                    self.pos += 1;
                    self.take_value()?;
                    if self.expect_more()? != b':' {
                        return Err(self.invalid("`:` after a key"));
                    }
                    self.pos += 1;
                    self.take_value()?;
                }
                _ => return Err(self.invalid("`,` or `}`")),
            }
        }
    }
}

/// Reads all events from a stream of (uncompressed) JSON in any supported shape.
pub fn read_stream<R: Read>(r: R, visitor: &mut dyn Visitor) -> Result<ReadStats, (ReadError, ReadStats)> {
    read_stream_with(r, visitor, &mut Vec::new())
}

/// [`read_stream`] with a read buffer kept by the caller: a scan reads file after file, and a
/// buffer reused across them is not allocated, faulted in and zeroed again for each file.
pub fn read_stream_with<R: Read>(
    r: R,
    visitor: &mut dyn Visitor,
    buf: &mut Vec<u8>,
) -> Result<ReadStats, (ReadError, ReadStats)> {
    let mut s = Stream { r, buf: std::mem::take(buf), pos: 0, len: 0, base: 0, eof: false };
    let mut h = Handler { visitor, stats: ReadStats::default() };
    let result = (|| -> Result<(), ReadError> {
        while s.skip_ws()? {
            match s.peek() {
                Some(b'[') => {
                    s.pos += 1;
                    s.elements(&mut h)?;
                }
                Some(b'{') if s.enter_record_list()? => {
                    h.stats.is_cloudtrail = true;
                    s.elements(&mut h)?;
                    s.finish_object()?;
                }
                _ => {
                    let r = s.take_value()?;
                    h.value(s.buf.get(r).unwrap_or_default(), 0)?;
                }
            }
        }
        Ok(())
    })();
    let mut stats = h.stats;
    stats.bytes = s.base + s.len as u64;
    *buf = s.buf;
    match result {
        Ok(()) => Ok(stats),
        Err(e) => Err((e, stats)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &str) -> Result<ReadStats, ReadError> {
        let mut names = Vec::new();
        let mut v = |e: &EventRef<'_>| names.push(e.event_name().into_owned());
        let r = read_stream(text.as_bytes(), &mut v).map_err(|(e, _)| e);
        let slice = read_slice(text.as_bytes(), &mut |_: &EventRef<'_>| {});
        assert_eq!(
            r.as_ref().map(|s| s.events).ok(),
            slice.as_ref().map(|s| s.events).ok(),
            "stream and slice agree on {text}"
        );
        // Through gzip, fed 7 compressed bytes at a time so reads return a few bytes each: the
        // same events, stats and error offsets.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let source = flate2::bufread::MultiGzDecoder::new(std::io::BufReader::with_capacity(7, &gz[..]));
        let inflated = read_stream_with(source, &mut |_: &EventRef<'_>| {}, &mut Vec::new());
        let shown = |e: &ReadError| format!("{e:?}");
        assert_eq!(inflated.as_ref().map_err(|(e, _)| shown(e)), r.as_ref().map_err(shown), "{text}");
        r
    }

    #[test]
    fn every_shape() {
        let ev = r#"{"eventVersion":"1.08","eventName":"GetRole","eventSource":"iam.amazonaws.com"}"#;
        let cases = [
            (format!(r#"{{"Records":[{ev},{ev}]}}"#), 2),
            (r#"{ "Records" : [ ], "x": 1}"#.to_string(), 0),
            (format!("[{ev},{ev},{ev}]"), 3),
            (format!("{ev}\n{ev}\n"), 2),
            (ev.to_string(), 1),
            (format!(r#"{{"EventId":"x","CloudTrailEvent":{}}}"#, serde_json::to_string(ev).unwrap()), 1),
            (format!(r#"{{"Events":[{ev}],"NextToken":"t"}}"#), 1),
            (
                format!(
                    r#"[{{"_raw":{}}},{{"_raw":{{"Records":[{ev}]}}}},{{"host":"h"}}]"#,
                    serde_json::to_string(ev).unwrap()
                ),
                2,
            ),
        ];
        for (text, n) in cases {
            let s = count(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(s.events, n, "{text}");
            assert!(s.is_cloudtrail, "{text}");
        }
    }

    #[test]
    fn broken_inputs() {
        assert!(matches!(count(r#"{"Records":[{"eventName":"A"},"#), Err(ReadError::Truncated)));
        assert!(matches!(count(r#"{"Records":[{"eventName" "A"}]}"#), Err(ReadError::Invalid { .. })));
        assert!(matches!(count("hello"), Err(ReadError::Invalid { .. })));
        assert!(!count(r#"{"a":1}"#).unwrap().is_cloudtrail);
    }

    #[test]
    fn records_larger_than_a_chunk_stream_through() {
        let big = "x".repeat(3 * CHUNK);
        let text = format!(r#"{{"Records":[{{"eventName":"A","pad":"{big}"}},{{"eventName":"B"}}]}}"#);
        assert_eq!(count(&text).unwrap().events, 2);
    }
}
