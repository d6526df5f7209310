//! The block skim against the byte walker: on generated JSON (valid, mutated, cut short), on
//! escapes placed across block boundaries, and on every file of the shared CloudTrail corpus.
//! The block skim must accept what is valid, end where the walker ends, and never accept what
//! the walker rejects.

use super::blocks::{Classify, BLOCK};
use super::classify::{with_isa, Isa};
use super::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

type FieldCalls = Vec<(Vec<u8>, usize, usize)>;

/// The block skim with one classifier: skip from `start`, and the fields of the object there.
fn fast_with<C: Classify>(c: C, b: &[u8], start: usize) -> (Option<usize>, Option<(usize, FieldCalls)>) {
    let skipped = walk::skip_container(c, b, start);
    let mut calls = Vec::new();
    let fields = walk::fields(c, b, start, |k, s, e| calls.push((k.to_vec(), s, e))).map(|end| (end, calls));
    (skipped, fields)
}

/// Every classifier this CPU can run.
fn each_classifier(b: &[u8], start: usize, check: &mut impl FnMut(&str, (Option<usize>, Option<(usize, FieldCalls)>))) {
    for isa in Isa::available() {
        check(isa.name(), with_isa!(isa, c => fast_with(c, b, start)));
    }
}

/// Checks the block skim against the walker on the value at `start`; returns whether the
/// block skim accepted it.
fn agree(b: &[u8], start: usize) -> bool {
    let want = walk_value(b, start);
    let mut want_fields = Vec::new();
    let want_fields = for_each_field(b.get(start..).unwrap_or_default(), |k, s, e| {
        want_fields.push((k.to_vec(), s + start, e + start))
    })
    .map(|end| (end + start, want_fields));
    assert_eq!(skip_value(b, start), want, "skip_value on {:?}", String::from_utf8_lossy(b));
    let mut accepted = true;
    each_classifier(b, start, &mut |name, (skipped, fields)| {
        let shown = || format!("{name} at {start} on {:?}", String::from_utf8_lossy(b));
        match skipped {
            Some(end) => assert_eq!(want, Ok(end), "skip: {}", shown()),
            None => accepted = false,
        }
        if let Some(f) = fields {
            assert_eq!(want_fields.as_ref().ok(), Some(&f), "fields: {}", shown());
        } else if want_fields.is_ok() {
            accepted = false;
        }
    });
    accepted
}

const STRING_BYTES: &[&[u8]] = &[
    b"a",
    b"Z",
    b"0",
    b" ",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\\\"",
    b"\\\\",
    b"\\n",
    b"\\u00e9",
    b"\\/",
    b"\xc3\xa9",
    b"\t",
];

/// A generated document is a list of tokens (whitespace included), so that tests can also
/// break it one token at a time.
type Tokens = Vec<Vec<u8>>;

fn string(rng: &mut SmallRng, out: &mut Tokens) {
    let mut s = vec![b'"'];
    let n = if rng.gen_ratio(1, 4) { rng.gen_range(40..200) } else { rng.gen_range(0..12) };
    for _ in 0..n {
        s.extend_from_slice(STRING_BYTES[rng.gen_range(0..STRING_BYTES.len())]);
    }
    s.push(b'"');
    out.push(s);
}

fn ws(rng: &mut SmallRng, out: &mut Tokens) {
    if rng.gen_ratio(1, 5) {
        out.push((0..rng.gen_range(1..4)).map(|_| b" \t\n\r"[rng.gen_range(0..4)]).collect());
    }
}

fn value(rng: &mut SmallRng, depth: u32, out: &mut Tokens) {
    let kind = if depth > 5 { rng.gen_range(2..7) } else { rng.gen_range(0..7) };
    match kind {
        0 | 1 => {
            let (open, close) = if kind == 0 { (b"{", b"}") } else { (b"[", b"]") };
            out.push(open.to_vec());
            ws(rng, out);
            for i in 0..rng.gen_range(0..6) {
                if i > 0 {
                    out.push(b",".to_vec());
                    ws(rng, out);
                }
                if kind == 0 {
                    string(rng, out);
                    ws(rng, out);
                    out.push(b":".to_vec());
                    ws(rng, out);
                }
                value(rng, depth + 1, out);
                ws(rng, out);
            }
            out.push(close.to_vec());
        }
        2 | 3 => string(rng, out),
        4 => out.push([&b"true"[..], b"false", b"null"][rng.gen_range(0..3)].to_vec()),
        _ => out.push([&b"0"[..], b"-12", b"3.5e-7", b"1E+9", b"100"][rng.gen_range(0..5)].to_vec()),
    }
}

fn document_tokens(rng: &mut SmallRng) -> Tokens {
    let mut out = Vec::new();
    ws(rng, &mut out);
    // Wrap in a container so the block skim is used.
    if rng.gen() {
        out.extend([b"{".to_vec(), b"\"k\"".to_vec(), b":".to_vec()]);
        value(rng, 1, &mut out);
        out.push(b"}".to_vec());
    } else {
        out.push(b"[".to_vec());
        value(rng, 1, &mut out);
        out.push(b"]".to_vec());
    }
    if rng.gen() {
        out.push(b" ,tail".to_vec());
    }
    out
}

fn document(rng: &mut SmallRng) -> Vec<u8> {
    document_tokens(rng).concat()
}

#[test]
fn valid_documents_are_accepted_with_the_same_fields() {
    let mut rng = SmallRng::seed_from_u64(1);
    for _ in 0..3000 {
        let doc = document(&mut rng);
        let start = skip_ws(&doc, 0).unwrap();
        assert!(agree(&doc, start), "not accepted: {:?}", String::from_utf8_lossy(&doc));
    }
}

#[test]
fn mutated_and_truncated_documents_get_the_walkers_answer() {
    const ALPHABET: &[u8] = b"\"\\{}[]:, \t\nabtrufnl0-.eE\x00\x0c\x1a\xff";
    let mut rng = SmallRng::seed_from_u64(2);
    for _ in 0..3000 {
        let mut doc = document(&mut rng);
        for _ in 0..rng.gen_range(1..4) {
            let i = rng.gen_range(0..doc.len());
            let c = ALPHABET[rng.gen_range(0..ALPHABET.len())];
            match rng.gen_range(0..3) {
                0 => doc[i] = c,
                1 => doc.insert(i, c),
                _ => {
                    doc.remove(i);
                }
            }
            if doc.is_empty() {
                doc.push(b'[');
            }
        }
        for start in 0..doc.len().min(8) {
            agree(&doc, start);
        }
        let cut = rng.gen_range(0..doc.len());
        agree(&doc[..cut], 0);
    }
}

#[test]
fn documents_with_a_token_added_dropped_or_moved_get_the_walkers_answer() {
    const EXTRA: &[&[u8]] =
        &[b"\"s\"", b"\"\"", b"1", b"true", b"{", b"}", b"[", b"]", b":", b",", b"{}", b"[]", b"\"k\":1", b" "];
    let mut rng = SmallRng::seed_from_u64(3);
    for _ in 0..6000 {
        let mut toks = document_tokens(&mut rng);
        for _ in 0..rng.gen_range(1..3) {
            let i = rng.gen_range(0..toks.len());
            match rng.gen_range(0..4) {
                0 => toks.insert(i, EXTRA[rng.gen_range(0..EXTRA.len())].to_vec()),
                1 if toks.len() > 1 => {
                    toks.remove(i);
                }
                2 => toks.insert(i, toks[i].clone()),
                _ => {
                    let j = rng.gen_range(0..toks.len());
                    toks.swap(i, j);
                }
            }
        }
        let doc = toks.concat();
        let start = skip_ws(&doc, 0).unwrap_or(0);
        agree(&doc, start);
    }
}

#[test]
fn escapes_across_block_boundaries() {
    // A backslash run of each length ending at each offset around the first block boundary,
    // followed by a quote or another byte: the run's parity decides whether the string ends.
    for run in 1..=6 {
        for end in BLOCK - 8..BLOCK + 8 {
            for after in [&b"\""[..], b"n", b"q", b"u", b"\\"] {
                let mut doc = b"[\"".to_vec();
                doc.resize(end - run, b'x');
                doc.extend(std::iter::repeat_n(b'\\', run));
                doc.extend_from_slice(after);
                doc.extend_from_slice(b"\",1]");
                let accepted = agree(&doc, 0);
                let valid = walk_value(&doc, 0).is_ok();
                assert_eq!(accepted, valid, "{:?}", String::from_utf8_lossy(&doc));
            }
        }
    }
    // An escaped quote exactly on the boundary, and a bad escape after the value is not its concern.
    let mut doc = b"[\"".to_vec();
    doc.resize(BLOCK - 1, b'x');
    doc.extend_from_slice(b"\\\"\"] \"\\q\"");
    assert!(agree(&doc, 0));
    assert_eq!(skip_value(&doc, 0), Ok(BLOCK + 3));
}

#[test]
fn every_container_of_the_corpus() {
    // `$IAM_PRUNE_SHARED` (set by scripts/test.sh), else ../shared next to the repository.
    let shared = std::env::var_os("IAM_PRUNE_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let root = shared.join("corpus/cloudtrail");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    let mut checked = 0;
    for p in files {
        let raw = std::fs::read(&p).unwrap();
        let text = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&raw[..]), &mut out).unwrap();
            out
        } else {
            raw
        };
        for (i, &c) in text.iter().enumerate() {
            if c == b'{' || c == b'[' {
                let valid = walk_value(&text, i).is_ok();
                assert_eq!(agree(&text, i), valid, "{} at {i}", p.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000, "only {checked} containers: is {} there?", root.display());
}
