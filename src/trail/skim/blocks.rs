//! Stage one of the fast skim: 64 bytes at a time become bit masks (quotes, backslashes,
//! whitespace, brackets and separators), and from them the positions of the tokens a walk has
//! to look at: brackets, `:` and `,` outside strings, the opening quote of each string, and the
//! first byte of each number or literal.
//!
//! The byte walker spends most of its time finding where strings end, one vector compare per
//! 16 bytes and a branch per string. Here a whole block is classified with a handful of
//! vector instructions, string interiors are masked out with a prefix XOR over the quote bits
//! (the technique of simdjson, Langdale and Lemire 2019), and the walk in [`super::walk`]
//! jumps from token to token. The classifier works on any CPU; x86_64 uses SSE2 (always
//! there), or AVX2 and carry-less multiplication when the CPU has them.

/// Bytes classified at a time: one bit per byte in a `u64`.
pub(super) const BLOCK: usize = 64;

/// The character classes of one block, bit `i` for byte `i`, before strings are taken into account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Raw {
    /// `"`.
    pub quote: u64,
    /// `\`.
    pub backslash: u64,
    /// Space, tab, line feed, carriage return.
    pub ws: u64,
    /// `{`, `}`, `[`, `]`, `:`, `,`.
    pub op: u64,
}

/// A way to classify blocks: one per instruction set.
pub(super) trait Classify: Copy {
    /// The character classes of a block.
    fn raw(self, block: &[u8; BLOCK]) -> Raw;
    /// Bit `i` of the result is the XOR of bits `0..=i` of `x`.
    fn prefix_xor(self, x: u64) -> u64;
    /// Classifies the blocks of `b` from `base` until one has a token: returns its offset and
    /// token bits, which are 0 when the input ended first. Not inlined: a walk asks for this
    /// at a dozen places, and the vector code needs its own function to be compiled for the
    /// instruction set.
    fn advance(self, s: &mut Carry, b: &[u8], base: usize) -> (usize, u64);
}

/// Byte by byte with a table: the reference the vector classifiers are tested against, and
/// the classifier on CPUs without one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Portable;

const CLASS_QUOTE: u8 = 1;
const CLASS_BACKSLASH: u8 = 2;
const CLASS_WS: u8 = 4;
const CLASS_OP: u8 = 8;

const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'"' as usize] = CLASS_QUOTE;
    t[b'\\' as usize] = CLASS_BACKSLASH;
    t[b' ' as usize] = CLASS_WS;
    t[b'\t' as usize] = CLASS_WS;
    t[b'\n' as usize] = CLASS_WS;
    t[b'\r' as usize] = CLASS_WS;
    t[b'{' as usize] = CLASS_OP;
    t[b'}' as usize] = CLASS_OP;
    t[b'[' as usize] = CLASS_OP;
    t[b']' as usize] = CLASS_OP;
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
            let (q, bs, ws, op) = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast());
                let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
                let ws = _mm_or_si128(_mm_or_si128(eq(b' '), eq(b'\t')), _mm_or_si128(eq(b'\n'), eq(b'\r')));
                // `[` and `]` differ from `{` and `}` only in bit 5.
                let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
                let brackets = _mm_or_si128(
                    _mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8)),
                    _mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8)),
                );
                let op = _mm_or_si128(brackets, _mm_or_si128(eq(b':'), eq(b',')));
                let m = |x: __m128i| u64::from(_mm_movemask_epi8(x) as u16);
                (m(eq(b'"')), m(eq(b'\\')), m(ws), m(op))
            };
            let shift = 16 * k as u32;
            r.quote |= q << shift;
            r.backslash |= bs << shift;
            r.ws |= ws << shift;
            r.op |= op << shift;
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
    #[inline]
    pub(super) fn detect() -> Option<Avx2> {
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
        let q = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8));
        let bs = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8));
        let m = |x: __m256i| u64::from(_mm256_movemask_epi8(x) as u32);
        (m(q), m(bs), m(ws), m(op))
    };
    let (q0, bs0, ws0, op0) = half(block.as_ptr());
    let (q1, bs1, ws1, op1) = half(block.as_ptr().wrapping_add(32));
    Raw { quote: q0 | q1 << 32, backslash: bs0 | bs1 << 32, ws: ws0 | ws1 << 32, op: op0 | op1 << 32 }
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

const ODD_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;

/// The bytes escaped by a backslash, given the block's backslashes and whether its first byte
/// is escaped by a backslash at the end of the previous block (`carry`, 0 or 1, updated for
/// the next block). In a run of backslashes, every second one escapes the next byte; runs
/// are resolved without a loop: subtracting each run's start sets the byte after an
/// odd-length run starting on an even bit, and the odd/even masks fix up the other three
/// cases (simdjson's `json_escape_scanner`).
#[inline(always)]
pub(super) fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    let potential = backslash & !*carry;
    let maybe_escaped = potential << 1;
    let codes = (maybe_escaped | ODD_BITS).wrapping_sub(potential) ^ ODD_BITS;
    let escaped = codes ^ (backslash | *carry);
    *carry = (codes & backslash) >> 63;
    escaped
}

/// Whether `c` may follow a backslash in a JSON string.
#[inline]
fn is_escape(c: u8) -> bool {
    matches!(c, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'u')
}

/// What carries from one block to the next.
pub(super) struct Carry {
    /// All ones when the previous block ended inside a string.
    in_string: u64,
    /// 1 when the current block's first byte is escaped.
    escaped_carry: u64,
    /// 1 when the previous block's last byte ends a token (whitespace, a bracket or separator, a quote).
    delim_carry: u64,
    /// The first invalid escape seen (`usize::MAX` if none): it only counts if it is inside
    /// the value being skimmed, which the walk knows once it has found the value's end.
    bad_escape: usize,
}

impl Carry {
    /// See [`Classify::advance`].
    #[inline(always)]
    fn advance<C: Classify>(&mut self, c: C, b: &[u8], mut base: usize) -> (usize, u64) {
        while base < b.len() {
            // The last block is padded with spaces: they end a token, and start none.
            let mut padded = [b' '; BLOCK];
            let block: &[u8; BLOCK] = match b.get(base..).and_then(|s| s.first_chunk::<BLOCK>()) {
                Some(full) => full,
                None => {
                    let tail = b.get(base..).unwrap_or_default();
                    if let Some(dst) = padded.get_mut(..tail.len()) {
                        dst.copy_from_slice(tail);
                    }
                    &padded
                }
            };
            let bits = self.tokens(c, block, base);
            if bits != 0 {
                return (base, bits);
            }
            base += BLOCK;
        }
        (base, 0)
    }

    /// The token bits of the block at `base`, carrying string, escape and token state to the next one.
    #[inline(always)]
    fn tokens<C: Classify>(&mut self, c: C, block: &[u8; BLOCK], base: usize) -> u64 {
        let raw = c.raw(block);
        let mut quote = raw.quote;
        if (raw.backslash | self.escaped_carry) != 0 {
            let esc = escaped(raw.backslash, &mut self.escaped_carry);
            quote &= !esc;
            self.check_escapes(block, esc, base);
        }
        // Bit i: inside a string, counting its opening quote but not its closing one.
        let in_string = c.prefix_xor(quote) ^ self.in_string;
        self.in_string = ((in_string as i64) >> 63) as u64;
        // A number or literal starts at a byte outside strings that is no other token and
        // follows whitespace, a bracket or separator, or a quote.
        let delim = raw.ws | raw.op | quote;
        let scalar = !(in_string | delim);
        let scalar_starts = scalar & ((delim << 1) | self.delim_carry);
        self.delim_carry = delim >> 63;
        (raw.op & !in_string) | (quote & in_string) | scalar_starts
    }

    /// Records the first byte after a backslash that JSON does not allow there.
    #[cold]
    #[inline(never)]
    fn check_escapes(&mut self, block: &[u8; BLOCK], mut esc: u64, base: usize) {
        while esc != 0 {
            let i = esc.trailing_zeros() as usize;
            esc &= esc - 1;
            if block.get(i).is_some_and(|&c| !is_escape(c)) {
                self.bad_escape = self.bad_escape.min(base + i);
                return;
            }
        }
    }
}

/// The token positions of a slice, block by block, as a walk asks for them.
pub(super) struct Tokens<'a, C> {
    b: &'a [u8],
    c: C,
    /// Offset of the current block.
    base: usize,
    /// Tokens of the current block not yet taken.
    bits: u64,
    carry: Carry,
}

impl<'a, C: Classify> Tokens<'a, C> {
    /// Tokens of `b` from `start`, which must be outside any string (a value's first byte).
    #[inline(always)]
    pub(super) fn new(c: C, b: &'a [u8], start: usize) -> Tokens<'a, C> {
        let mut carry = Carry { in_string: 0, escaped_carry: 0, delim_carry: 1, bad_escape: usize::MAX };
        let (base, bits) = c.advance(&mut carry, b, start);
        Tokens { b, c, base, bits, carry }
    }

    /// The next token's offset; `None` at the end of the input.
    #[inline(always)]
    pub(super) fn next(&mut self) -> Option<usize> {
        if self.bits == 0 {
            (self.base, self.bits) = self.c.advance(&mut self.carry, self.b, self.base + BLOCK);
            if self.bits == 0 {
                return None;
            }
        }
        let i = self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(self.base + i)
    }

    /// True when every escape before `end` (of the blocks seen so far) is valid.
    #[inline(always)]
    pub(super) fn escapes_valid_before(&self, end: usize) -> bool {
        self.carry.bad_escape >= end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// One backslash after another: each unescaped one escapes the next byte.
    fn escaped_by_walking(bytes: &[u8]) -> Vec<bool> {
        let mut out = vec![false; bytes.len()];
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'\\' && i + 1 < bytes.len() {
                out[i + 1] = true;
                i += 2;
            } else {
                i += 1;
            }
        }
        out
    }

    fn random_block(rng: &mut SmallRng, alphabet: &[u8]) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        for c in &mut b {
            *c = if rng.gen_ratio(1, 8) { rng.gen() } else { alphabet[rng.gen_range(0..alphabet.len())] };
        }
        b
    }

    #[test]
    fn escapes_across_blocks_match_a_walk() {
        let mut rng = SmallRng::seed_from_u64(7);
        for _ in 0..2000 {
            let n = BLOCK * rng.gen_range(1..5);
            let bytes: Vec<u8> = (0..n).map(|_| if rng.gen_ratio(2, 3) { b'\\' } else { b'x' }).collect();
            let want = escaped_by_walking(&bytes);
            let mut carry = 0;
            for (k, chunk) in bytes.chunks(BLOCK).enumerate() {
                let bs = chunk.iter().enumerate().fold(0u64, |m, (i, &c)| m | u64::from(c == b'\\') << i);
                let got = escaped(bs, &mut carry);
                for i in 0..BLOCK {
                    assert_eq!(got >> i & 1 == 1, want[k * BLOCK + i], "{}", String::from_utf8_lossy(&bytes));
                }
            }
        }
    }

    #[test]
    fn prefix_xor_is_a_running_parity() {
        let mut rng = SmallRng::seed_from_u64(8);
        for _ in 0..1000 {
            let x: u64 = rng.gen();
            let want =
                (0..64).fold(0u64, |m, i| m | u64::from((x & (u64::MAX >> (63 - i))).count_ones() % 2 == 1) << i);
            assert_eq!(Portable.prefix_xor(x), want);
            #[cfg(target_arch = "x86_64")]
            if let Some(c) = Avx2::detect() {
                assert_eq!(c.prefix_xor(x), want);
            }
        }
    }

    #[test]
    fn vector_classifiers_agree_with_the_table() {
        let mut rng = SmallRng::seed_from_u64(9);
        let alphabet = b"\"\\ \t\n\r{}[]:,abc019\x0c\x1a\x7b\x5b\xfb\xdb\x80\xa0";
        for _ in 0..5000 {
            let b = random_block(&mut rng, alphabet);
            let want = Portable.raw(&b);
            #[cfg(target_arch = "x86_64")]
            {
                assert_eq!(Sse2.raw(&b), want, "{b:?}");
                if let Some(c) = Avx2::detect() {
                    assert_eq!(c.raw(&b), want, "{b:?}");
                }
            }
        }
        let every_byte: Vec<u8> = (0..=255u8).collect();
        for chunk in every_byte.chunks(BLOCK) {
            let b: [u8; BLOCK] = chunk.try_into().unwrap();
            #[cfg(target_arch = "x86_64")]
            {
                assert_eq!(Sse2.raw(&b), Portable.raw(&b));
                if let Some(c) = Avx2::detect() {
                    assert_eq!(c.raw(&b), Portable.raw(&b));
                }
            }
        }
    }
}
