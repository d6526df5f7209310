//! How 64 bytes become the masks of [`Raw`], on each instruction set, and which one a skim
//! uses.
//!
//! All of them give the same masks (tests compare them on every byte value), so the walk is
//! written once, generic over [`Classify`]. The vector ones need their CPU features: each
//! type can only be made once those are detected, and its [`Classify::advance`] is a
//! separate function compiled for them. `IAM_PRUNE_SKIM_ISA` (`portable`, `sse2`, `avx2`)
//! caps the choice, like simdjson's `SIMDJSON_FORCE_IMPLEMENTATION`: it is how the slower
//! paths are measured and tested on a machine that has the faster ones.

use super::blocks::{Carry, Classify, Raw, BLOCK};

/// Byte by byte with a table: the reference the vector classifiers are tested against, and
/// the classifier on CPUs without one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Portable;

const CLASS_QUOTE: u8 = 1;
const CLASS_BACKSLASH: u8 = 2;
const CLASS_WS: u8 = 4;
const CLASS_OP: u8 = 8;
const CLASS_CLOSE: u8 = 16;

const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'"' as usize] = CLASS_QUOTE;
    t[b'\\' as usize] = CLASS_BACKSLASH;
    t[b' ' as usize] = CLASS_WS;
    t[b'\t' as usize] = CLASS_WS;
    t[b'\n' as usize] = CLASS_WS;
    t[b'\r' as usize] = CLASS_WS;
    t[b'{' as usize] = CLASS_OP;
    t[b'}' as usize] = CLASS_OP | CLASS_CLOSE;
    t[b'[' as usize] = CLASS_OP;
    t[b']' as usize] = CLASS_OP | CLASS_CLOSE;
    t[b':' as usize] = CLASS_OP;
    t[b',' as usize] = CLASS_OP;
    t
};

impl Classify for Portable {
    #[inline]
    fn raw(self, block: &[u8; BLOCK]) -> Raw {
        let mut r = Raw::default();
        for (i, &c) in block.iter().enumerate() {
            let class = CLASSES[usize::from(c)];
            let bit = |k: u8| u64::from(class & k != 0) << i;
            r.quote |= bit(CLASS_QUOTE);
            r.backslash |= bit(CLASS_BACKSLASH);
            r.ws |= bit(CLASS_WS);
            r.op |= bit(CLASS_OP);
            r.close |= bit(CLASS_CLOSE);
        }
        r
    }

    #[inline(never)]
    fn advance(self, s: &mut Carry, b: &[u8], base: usize) -> (usize, u64) {
        s.advance(self, b, base)
    }

    #[inline(always)]
    fn prefix_xor(self, mut x: u64) -> u64 {
        x ^= x << 1;
        x ^= x << 2;
        x ^= x << 4;
        x ^= x << 8;
        x ^= x << 16;
        x ^= x << 32;
        x
    }
}

/// SSE2 compares, 16 bytes at a time: part of every x86_64 CPU.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(super) struct Sse2;

#[cfg(target_arch = "x86_64")]
impl Classify for Sse2 {
    #[inline(always)]
    fn raw(self, block: &[u8; BLOCK]) -> Raw {
        use std::arch::x86_64::*;
        let mut r = Raw::default();
        for (k, chunk) in block.chunks_exact(16).enumerate() {
            // SAFETY: SSE2 is in the x86_64 baseline; `chunk` is 16 readable bytes and
            // `loadu` has no alignment requirement.
            let (q, bs, ws, op, close) = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast());
                let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
                let ws = _mm_or_si128(_mm_or_si128(eq(b' '), eq(b'\t')), _mm_or_si128(eq(b'\n'), eq(b'\r')));
                // `[` and `]` differ from `{` and `}` only in bit 5.
                let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
                let close = _mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8));
                let brackets = _mm_or_si128(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8)), close);
                let op = _mm_or_si128(brackets, _mm_or_si128(eq(b':'), eq(b',')));
                let m = |x: __m128i| u64::from(_mm_movemask_epi8(x) as u16);
                (m(eq(b'"')), m(eq(b'\\')), m(ws), m(op), m(close))
            };
            let shift = 16 * k as u32;
            r.quote |= q << shift;
            r.backslash |= bs << shift;
            r.ws |= ws << shift;
            r.op |= op << shift;
            r.close |= close << shift;
        }
        r
    }

    #[inline(always)]
    fn prefix_xor(self, x: u64) -> u64 {
        Portable.prefix_xor(x)
    }

    #[inline(never)]
    fn advance(self, s: &mut Carry, b: &[u8], base: usize) -> (usize, u64) {
        s.advance(self, b, base)
    }
}

/// AVX2 table lookups, 32 bytes at a time, and the prefix XOR as one carry-less multiply.
/// Only made by [`Avx2::detect`], so holding one proves the CPU has both.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(super) struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// `Some` when this CPU has AVX2 and PCLMULQDQ.
    fn detect() -> Option<Avx2> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("pclmulqdq")).then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn raw_avx2(block: &[u8; BLOCK]) -> Raw {
    use std::arch::x86_64::*;
    // Indexed by a byte's low nibble (`pshufb` gives 0 for bytes >= 0x80): a byte is
    // whitespace when the entry for its low nibble is itself. The filler entries (100, 17, ...)
    // have a different low nibble than their index, so they never match.
    let ws_table = _mm256_setr_epi8(
        32, 100, 100, 100, 17, 100, 113, 2, 100, 9, 10, 112, 100, 13, 100, 100, //
        32, 100, 100, 100, 17, 100, 113, 2, 100, 9, 10, 112, 100, 13, 100, 100,
    );
    // `:` 0x3A, `{` 0x7B, `,` 0x2C, `}` 0x7D by low nibble; the other entries have a
    // different low nibble than their index, so they never match.
    let op_table = _mm256_setr_epi8(
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 58, 123, 44, 125, -1, 0, //
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 58, 123, 44, 125, -1, 0,
    );
    // `[` 0x5B and `]` 0x5D differ from `{` and `}` only in bit 5: set it for those two
    // nibbles only, so no control byte folds onto `:` or `,`.
    let fold_table = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 32, 0, 0, //
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 32, 0, 0,
    );
    let half = |p: *const u8| {
        // SAFETY: the callers pass pointers to 32 readable bytes of `block`; `loadu` has no
        // alignment requirement.
        let v = unsafe { _mm256_loadu_si256(p.cast()) };
        let ws = _mm256_cmpeq_epi8(_mm256_shuffle_epi8(ws_table, v), v);
        let folded = _mm256_or_si256(v, _mm256_shuffle_epi8(fold_table, v));
        let op = _mm256_cmpeq_epi8(_mm256_shuffle_epi8(op_table, v), folded);
        let close = _mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'}' as i8));
        let q = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8));
        let bs = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8));
        let m = |x: __m256i| u64::from(_mm256_movemask_epi8(x) as u32);
        (m(q), m(bs), m(ws), m(op), m(close))
    };
    let (q0, bs0, ws0, op0, cl0) = half(block.as_ptr());
    let (q1, bs1, ws1, op1, cl1) = half(block.as_ptr().wrapping_add(32));
    Raw {
        quote: q0 | q1 << 32,
        backslash: bs0 | bs1 << 32,
        ws: ws0 | ws1 << 32,
        op: op0 | op1 << 32,
        close: cl0 | cl1 << 32,
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::*;
    // Multiplying by all ones without carries XORs every lower bit into each bit.
    let p = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(p) as u64
}

#[cfg(target_arch = "x86_64")]
impl Classify for Avx2 {
    #[inline(always)]
    fn raw(self, block: &[u8; BLOCK]) -> Raw {
        // SAFETY: an `Avx2` exists only when the CPU has AVX2 (see `detect`).
        unsafe { raw_avx2(block) }
    }

    #[inline(always)]
    fn prefix_xor(self, x: u64) -> u64 {
        // SAFETY: an `Avx2` exists only when the CPU has PCLMULQDQ (see `detect`).
        unsafe { prefix_xor_clmul(x) }
    }

    #[inline(always)]
    fn advance(self, s: &mut Carry, b: &[u8], base: usize) -> (usize, u64) {
        // SAFETY: an `Avx2` exists only when the CPU has AVX2 and PCLMULQDQ (see `detect`).
        unsafe { advance_avx2(self, s, b, base) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq")]
#[inline(never)]
fn advance_avx2(c: Avx2, s: &mut Carry, b: &[u8], base: usize) -> (usize, u64) {
    s.advance(c, b, base)
}

/// AVX-512 (BW): the whole block in one register, compares straight into 64-bit masks.
/// Only made by [`Avx512::detect`].
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(super) struct Avx512(());

#[cfg(target_arch = "x86_64")]
impl Avx512 {
    /// `Some` when this CPU has AVX-512 F and BW, and PCLMULQDQ.
    fn detect() -> Option<Avx512> {
        let has = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("pclmulqdq");
        has.then_some(Avx512(()))
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
fn raw_avx512(block: &[u8; BLOCK]) -> Raw {
    use std::arch::x86_64::*;
    // The same nibble tables as `raw_avx2`, in each 128-bit lane.
    let ws_table =
        _mm512_broadcast_i32x4(_mm_setr_epi8(32, 100, 100, 100, 17, 100, 113, 2, 100, 9, 10, 112, 100, 13, 100, 100));
    let op_table =
        _mm512_broadcast_i32x4(_mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 58, 123, 44, 125, -1, 0));
    let fold_table = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 32, 0, 0));
    // SAFETY: `block` is 64 readable bytes; `loadu` has no alignment requirement.
    let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let folded = _mm512_or_si512(v, _mm512_shuffle_epi8(fold_table, v));
    Raw {
        quote: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'"' as i8)),
        backslash: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\\' as i8)),
        ws: _mm512_cmpeq_epi8_mask(_mm512_shuffle_epi8(ws_table, v), v),
        op: _mm512_cmpeq_epi8_mask(_mm512_shuffle_epi8(op_table, v), folded),
        close: _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'}' as i8)),
    }
}

#[cfg(target_arch = "x86_64")]
impl Classify for Avx512 {
    #[inline(always)]
    fn raw(self, block: &[u8; BLOCK]) -> Raw {
        // SAFETY: an `Avx512` exists only when the CPU has AVX-512 F and BW (see `detect`).
        unsafe { raw_avx512(block) }
    }

    #[inline(always)]
    fn prefix_xor(self, x: u64) -> u64 {
        // SAFETY: an `Avx512` exists only when the CPU has PCLMULQDQ (see `detect`).
        unsafe { prefix_xor_clmul(x) }
    }

    #[inline(always)]
    fn advance(self, s: &mut Carry, b: &[u8], base: usize) -> (usize, u64) {
        // SAFETY: an `Avx512` exists only when the CPU has its features (see `detect`).
        unsafe { advance_avx512(self, s, b, base) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,pclmulqdq")]
#[inline(never)]
fn advance_avx512(c: Avx512, s: &mut Carry, b: &[u8], base: usize) -> (usize, u64) {
    s.advance(c, b, base)
}

/// The classifier a skim uses.
#[derive(Debug, Clone, Copy)]
pub(super) enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Sse2,
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2),
    #[cfg(target_arch = "x86_64")]
    Avx512(Avx512),
}

impl Isa {
    /// The fastest classifier this CPU has (capped by `IAM_PRUNE_SKIM_ISA`), decided once.
    #[inline]
    pub(super) fn best() -> Isa {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            let cap = std::env::var("IAM_PRUNE_SKIM_ISA").ok();
            let all = Isa::available();
            let found = all.iter().position(|isa| Some(isa.name()) == cap.as_deref());
            if let (Some(cap), None) = (&cap, found) {
                // A benchmark knob: say when it does not apply rather than measure the wrong code.
                let names: Vec<&str> = all.iter().map(|i| i.name()).collect();
                eprintln!(
                    "warning: IAM_PRUNE_SKIM_ISA={cap} is not one this CPU runs ({}); using {}",
                    names.join(", "),
                    names.first().copied().unwrap_or("portable")
                );
            }
            all.get(found.unwrap_or(0)).copied().unwrap_or(Isa::Portable)
        })
    }

    /// Every classifier this CPU can run, fastest first.
    pub(super) fn available() -> Vec<Isa> {
        #[allow(unused_mut)]
        let mut all = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            all.extend(Avx512::detect().map(Isa::Avx512));
            all.extend(Avx2::detect().map(Isa::Avx2));
            all.push(Isa::Sse2);
        }
        all.push(Isa::Portable);
        all
    }

    /// The name `IAM_PRUNE_SKIM_ISA` uses.
    pub(super) fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => "sse2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(_) => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512(_) => "avx512",
        }
    }
}

/// Runs `$body` with `$c` bound to the classifier of `$isa`: one copy of the walk per
/// instruction set, chosen once per call.
macro_rules! with_isa {
    ($isa:expr, $c:ident => $body:expr) => {
        match $isa {
            $crate::trail::skim::classify::Isa::Portable => {
                let $c = $crate::trail::skim::classify::Portable;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            $crate::trail::skim::classify::Isa::Sse2 => {
                let $c = $crate::trail::skim::classify::Sse2;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            $crate::trail::skim::classify::Isa::Avx2($c) => $body,
            #[cfg(target_arch = "x86_64")]
            $crate::trail::skim::classify::Isa::Avx512($c) => $body,
        }
    };
}
pub(super) use with_isa;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn random_block(rng: &mut SmallRng, alphabet: &[u8]) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        for c in &mut b {
            *c = if rng.gen_ratio(1, 8) { rng.gen() } else { alphabet[rng.gen_range(0..alphabet.len())] };
        }
        b
    }

    fn raw_of(isa: Isa, b: &[u8; BLOCK]) -> Raw {
        with_isa!(isa, c => c.raw(b))
    }

    #[test]
    fn every_classifier_agrees_with_the_table() {
        let mut rng = SmallRng::seed_from_u64(9);
        let alphabet = b"\"\\ \t\n\r{}[]:,abc019\x0c\x1a\x7b\x5b\xfb\xdb\x80\xa0";
        let mut blocks: Vec<[u8; BLOCK]> = (0..5000).map(|_| random_block(&mut rng, alphabet)).collect();
        let every_byte: Vec<u8> = (0..=255u8).collect();
        blocks.extend(every_byte.chunks(BLOCK).map(|c| <[u8; BLOCK]>::try_from(c).unwrap()));
        for isa in Isa::available() {
            for b in &blocks {
                assert_eq!(raw_of(isa, b), Portable.raw(b), "{isa:?} on {b:?}");
            }
        }
    }

    #[test]
    fn the_best_is_the_first_available() {
        if std::env::var_os("IAM_PRUNE_SKIM_ISA").is_none() {
            assert_eq!(Isa::best().name(), Isa::available()[0].name());
        }
    }
}
