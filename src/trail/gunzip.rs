//! gzip decoding straight into the reader's buffer.
//!
//! flate2's `Read` adapter inflates into miniz_oxide's 32 KB window and then copies every
//! byte out to the caller: on CloudTrail logs that copy was a tenth of a scan. Here the same
//! inflate code (miniz_oxide, flate2's default backend) writes into the reader's buffer
//! itself, which keeps the last 32 KB in place for back-references ([`Source::history`]).
//! The gzip framing around it follows RFC 1952 and flate2's `MultiGzDecoder`: every member
//! of a multi-member file, header checksum when flagged, CRC-32 and length of each member
//! checked, and the same kinds of errors for bad headers, corrupt data and early ends.

use super::reader::Source;
use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;
use std::io::{BufRead, Error, ErrorKind, Result};

/// The deflate window: how far back a match can reach.
const WINDOW: usize = 32 * 1024;

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xe0;

/// Longest file name or comment accepted in a header (as flate2).
const MAX_HEADER_FIELD: usize = 65535;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Header,
    Body,
    Trailer,
    Done,
}

/// A gzip decoder over a buffered reader of compressed bytes, for [`super::reader`].
pub struct Gunzip<R> {
    r: R,
    inflate: Box<DecompressorOxide>,
    part: Part,
    crc: crc32fast::Hasher,
    /// Bytes of the current member so far, modulo 2^32 as the trailer has it.
    size: u32,
}

fn bad_header() -> Error {
    Error::new(ErrorKind::InvalidInput, "invalid gzip header")
}

fn corrupt() -> Error {
    Error::new(ErrorKind::InvalidInput, "corrupt gzip stream does not have a matching checksum")
}

impl<R: BufRead> Gunzip<R> {
    /// A decoder reading compressed bytes from `r`.
    pub fn new(r: R) -> Gunzip<R> {
        Gunzip { r, inflate: Box::default(), part: Part::Header, crc: crc32fast::Hasher::new(), size: 0 }
    }

    fn read_exact(&mut self, out: &mut [u8]) -> Result<()> {
        self.r.read_exact(out)
    }

    /// Reads a header field ended by a zero byte, feeding it to the header checksum.
    fn skip_to_nul(&mut self, crc: &mut crc32fast::Hasher) -> Result<()> {
        let mut field = Vec::new();
        loop {
            let available = self.r.fill_buf()?;
            if available.is_empty() {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            let (take, done) = match available.iter().position(|&b| b == 0) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            field.extend_from_slice(available.get(..take).unwrap_or_default());
            self.r.consume(take);
            if field.len() > MAX_HEADER_FIELD + 1 {
                return Err(Error::new(ErrorKind::InvalidInput, "gzip header field too long"));
            }
            if done {
                crc.update(&field);
                return Ok(());
            }
        }
    }

    /// Parses a member header (RFC 1952 section 2.3) and gets ready to inflate its body.
    fn header(&mut self) -> Result<()> {
        let mut fixed = [0u8; 10];
        self.read_exact(&mut fixed)?;
        let [id1, id2, method, flags, ..] = fixed;
        if id1 != 0x1f || id2 != 0x8b || method != 8 || flags & FRESERVED != 0 {
            return Err(bad_header());
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&fixed);
        if flags & FEXTRA != 0 {
            let mut len = [0u8; 2];
            self.read_exact(&mut len)?;
            crc.update(&len);
            let mut extra = vec![0u8; usize::from(u16::from_le_bytes(len))];
            self.read_exact(&mut extra)?;
            crc.update(&extra);
        }
        if flags & FNAME != 0 {
            self.skip_to_nul(&mut crc)?;
        }
        if flags & FCOMMENT != 0 {
            self.skip_to_nul(&mut crc)?;
        }
        if flags & FHCRC != 0 {
            let mut stored = [0u8; 2];
            self.read_exact(&mut stored)?;
            if u16::from_le_bytes(stored) != crc.finalize() as u16 {
                return Err(corrupt());
            }
        }
        *self.inflate = DecompressorOxide::new();
        self.crc = crc32fast::Hasher::new();
        self.size = 0;
        self.part = Part::Body;
        Ok(())
    }

    /// Checks a member's CRC-32 and length; another member may follow.
    fn trailer(&mut self) -> Result<()> {
        let mut t = [0u8; 8];
        self.read_exact(&mut t)?;
        let [c0, c1, c2, c3, s0, s1, s2, s3] = t;
        let crc = std::mem::replace(&mut self.crc, crc32fast::Hasher::new()).finalize();
        if u32::from_le_bytes([c0, c1, c2, c3]) != crc || u32::from_le_bytes([s0, s1, s2, s3]) != self.size {
            return Err(corrupt());
        }
        self.part = if self.r.fill_buf()?.is_empty() { Part::Done } else { Part::Header };
        Ok(())
    }

    /// Inflates into `buf[len..]`; returns the bytes written (0 when the member ended).
    fn body(&mut self, buf: &mut [u8], len: usize) -> Result<usize> {
        let input = self.r.fill_buf()?;
        let at_end = input.is_empty();
        let mut flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
        if !at_end {
            flags |= inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
        }
        let (status, used, written) = decompress(&mut self.inflate, input, buf, len, flags);
        self.r.consume(used);
        let out = buf.get(len..len + written).unwrap_or_default();
        self.crc.update(out);
        self.size = self.size.wrapping_add(written as u32);
        match status {
            TINFLStatus::Done => self.part = Part::Trailer,
            TINFLStatus::HasMoreOutput => {}
            TINFLStatus::NeedsMoreInput if !at_end => {}
            TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                return Err(ErrorKind::UnexpectedEof.into())
            }
            _ => return Err(Error::new(ErrorKind::InvalidInput, "corrupt deflate stream")),
        }
        Ok(written)
    }
}

impl<R: BufRead> Source for Gunzip<R> {
    fn fill(&mut self, buf: &mut [u8], len: usize) -> Result<usize> {
        loop {
            match self.part {
                Part::Header => self.header()?,
                Part::Body => {
                    let n = self.body(buf, len)?;
                    if n > 0 {
                        return Ok(n);
                    }
                    if self.part == Part::Body && len >= buf.len() {
                        return Err(Error::new(ErrorKind::InvalidInput, "no room to inflate into"));
                    }
                }
                Part::Trailer => self.trailer()?,
                Part::Done => return Ok(0),
            }
        }
    }

    fn history(&self) -> usize {
        WINDOW
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    use std::io::{Read, Write};

    /// Everything `Gunzip` decodes, through a small buffer that keeps only the window.
    fn gunzip(gz: &[u8], room: usize) -> Result<Vec<u8>> {
        let mut g = Gunzip::new(std::io::BufReader::with_capacity(97, gz));
        let mut buf = vec![0u8; WINDOW + room];
        let mut len = 0;
        let mut out = Vec::new();
        loop {
            if len == buf.len() {
                buf.copy_within(len - WINDOW..len, 0);
                len = WINDOW;
            }
            let n = g.fill(&mut buf, len)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[len..len + n]);
            len += n;
        }
    }

    fn flate2(gz: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(gz).read_to_end(&mut out).map(|_| out)
    }

    fn gzip(data: &[u8], level: u32, header: flate2::GzBuilder) -> Vec<u8> {
        let mut e = header.write(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn sample(rng: &mut SmallRng, n: usize) -> Vec<u8> {
        let words: [&[u8]; 6] = [b"{\"eventName\":", b"\"GetRole\",", b"arn:aws:iam::", b"123456789012", b"\n", b"x"];
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            if rng.gen_ratio(1, 10) {
                v.push(rng.gen());
            } else {
                v.extend_from_slice(words[rng.gen_range(0..words.len())]);
            }
        }
        v.truncate(n);
        v
    }

    #[test]
    fn decodes_what_flate2_decodes() {
        let mut rng = SmallRng::seed_from_u64(5);
        for (n, level, room) in [(0, 6, 1), (1, 6, 1), (1000, 0, 7), (200_000, 1, 4096), (300_000, 9, 65536)] {
            let data = sample(&mut rng, n);
            let headers = [
                flate2::GzBuilder::new(),
                flate2::GzBuilder::new().filename("log.json").comment("c").extra(vec![1, 2, 3]),
                flate2::GzBuilder::new().filename("x").operating_system(3).mtime(7),
            ];
            for h in headers {
                let gz = gzip(&data, level, h);
                assert_eq!(gunzip(&gz, room).unwrap(), data, "{n} bytes, level {level}");
            }
            // Several members, as concatenated log files are.
            let mut multi = gzip(&data, level, flate2::GzBuilder::new());
            multi.extend(gzip(b"second member", 6, flate2::GzBuilder::new().filename("b")));
            let mut want = data.clone();
            want.extend_from_slice(b"second member");
            assert_eq!(gunzip(&multi, room).unwrap(), want);
            assert_eq!(flate2(&multi).unwrap(), want);
        }
    }

    #[test]
    fn a_header_checksum_is_checked() {
        // FHCRC: flate2 does not write it, so build the header by hand.
        let body = gzip(b"hello", 6, flate2::GzBuilder::new());
        let mut header = vec![0x1f, 0x8b, 8, FHCRC | FNAME, 0, 0, 0, 0, 0, 3];
        header.extend_from_slice(b"f\0");
        let crc = crc32fast::hash(&header) as u16;
        let mut good = header.clone();
        good.extend_from_slice(&crc.to_le_bytes());
        good.extend_from_slice(&body[10..]);
        assert_eq!(gunzip(&good, 16).unwrap(), b"hello");
        assert_eq!(flate2(&good).unwrap(), b"hello");
        let mut bad = header;
        bad.extend_from_slice(&(crc ^ 1).to_le_bytes());
        bad.extend_from_slice(&body[10..]);
        assert!(gunzip(&bad, 16).is_err());
        assert!(flate2(&bad).is_err());
    }

    #[test]
    fn broken_files_fail_where_flate2_fails() {
        let mut rng = SmallRng::seed_from_u64(6);
        let data = sample(&mut rng, 20_000);
        let gz = gzip(&data, 6, flate2::GzBuilder::new().filename("f"));
        // Cut anywhere: an error, never a silent short read (flate2 agrees).
        for cut in (0..gz.len()).step_by(7).chain([gz.len() - 1, gz.len() - 4]) {
            assert!(gunzip(&gz[..cut], 512).is_err(), "cut at {cut}");
            assert!(flate2(&gz[..cut]).is_err(), "cut at {cut}");
        }
        // One byte changed: the same verdict as flate2, and the same bytes when both accept.
        for _ in 0..400 {
            let mut bad = gz.clone();
            let i = rng.gen_range(0..bad.len());
            bad[i] ^= 1 << rng.gen_range(0..8);
            assert_eq!(gunzip(&bad, 512).ok(), flate2(&bad).ok(), "byte {i}");
        }
        // Trailing bytes that are not another member.
        let mut tail = gz.clone();
        tail.extend_from_slice(b"garbage");
        assert!(gunzip(&tail, 512).is_err());
        assert!(flate2(&tail).is_err());
    }
}
