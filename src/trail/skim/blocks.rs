//! Stage one of the fast skim: 64 bytes at a time become bit masks (quotes, backslashes,
//! whitespace, brackets and separators), and from them the positions of the tokens a walk has
//! to look at: brackets, `:` and `,` outside strings, the first byte of each number or
//! literal, and the opening quote of each string that does not directly follow a bracket or
//! separator (in valid compact JSON, none does: those quotes are found by the walk itself).
//!
//! The byte walker spends most of its time finding where strings end, one vector compare per
//! 16 bytes and a branch per string. Here a whole block is classified with a handful of
//! vector instructions, string interiors are masked out with a prefix XOR over the quote bits
//! (the technique of simdjson, Langdale and Lemire 2019), and the walk in [`super::walk`]
//! jumps from token to token. How bytes become masks depends on the instruction set: see
//! [`super::classify`].

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
    /// `}`, `]`.
    pub close: u64,
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
    /// 1 when the previous block's last byte is `{`, `[`, `:` or `,` outside strings.
    op_carry: u64,
    /// The first invalid escape seen (`usize::MAX` if none): it only counts if it is inside
    /// the value being skimmed, which the walk knows once it has found the value's end.
    bad_escape: usize,
}

impl Carry {
    /// See [`Classify::advance`].
    #[inline(always)]
    pub(super) fn advance<C: Classify>(&mut self, c: C, b: &[u8], mut base: usize) -> (usize, u64) {
        while base < b.len() {
            let bits = match b.get(base..).and_then(|s| s.first_chunk::<BLOCK>()) {
                Some(full) => self.tokens(c, full, base),
                None => {
                    // The last block is padded with spaces: they end a token, and start none.
                    // (Only here: filling a padded block for every block costs a `memset` each.)
                    let mut padded = [b' '; BLOCK];
                    let tail = b.get(base..).unwrap_or_default();
                    if let Some(dst) = padded.get_mut(..tail.len()) {
                        dst.copy_from_slice(tail);
                    }
                    self.tokens(c, &padded, base)
                }
            };
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
        // A string right after `{`, `[`, `:` or `,` (no whitespace between) has no token: the
        // walk, which expects a key or value there, looks at the byte after that token and
        // takes the token after the string next. Strings are half of CloudTrail's tokens.
        // After `}` or `]` a string is an error, so it keeps its token for the walk to reject.
        let op = raw.op & !in_string;
        let before_value = op & !raw.close;
        let opening = quote & in_string & !((before_value << 1) | self.op_carry);
        self.op_carry = before_value >> 63;
        op | opening | scalar_starts
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
        let mut carry = Carry { in_string: 0, escaped_carry: 0, delim_carry: 1, op_carry: 0, bad_escape: usize::MAX };
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
    use super::super::classify::{with_isa, Isa};
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
            for isa in Isa::available() {
                assert_eq!(with_isa!(isa, c => c.prefix_xor(x)), want, "{isa:?}");
            }
        }
    }
}
