//! Generic byte mutations (libFuzzer's repertoire: bit flips, interesting integers and
//! numbers, dictionary tokens, splices, truncation) and a reader that turns any bytes into
//! structured choices for the targets that build values instead of parsing them.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Bytes that sit on boundaries parsers and arithmetic get wrong.
const INTERESTING_BYTES: [u8; 10] = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, b'0', b'9', b'\n'];

/// Integers on overflow boundaries, written in binary (both byte orders) by one mutation.
const INTERESTING_INTS: [u64; 12] = [
    0,
    1,
    0x7f,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
];

/// Decimal numbers on the same boundaries, and a few that text and JSON parsers mishandle.
const INTERESTING_NUMBERS: [&str; 16] = [
    "0",
    "1",
    "-1",
    "255",
    "256",
    "65536",
    "2147483648",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "1e999",
    "-0",
    "0.1",
    "5e-324",
];

/// Applies one to eight stacked mutations to `input`, at most `max_len` bytes out.
pub fn mutate(
    rng: &mut ChaCha8Rng,
    input: &[u8],
    corpus: &[Vec<u8>],
    dictionary: &[&[u8]],
    max_len: usize,
) -> Vec<u8> {
    let mut out = input.to_vec();
    let rounds = 1usize << rng.random_range(0..4);
    for _ in 0..rounds {
        mutate_once(rng, &mut out, corpus, dictionary);
    }
    out.truncate(max_len);
    out
}

fn position(rng: &mut ChaCha8Rng, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        rng.random_range(0..=len)
    }
}

fn mutate_once(rng: &mut ChaCha8Rng, out: &mut Vec<u8>, corpus: &[Vec<u8>], dictionary: &[&[u8]]) {
    match rng.random_range(0..12) {
        0 if !out.is_empty() => {
            let at = rng.random_range(0..out.len());
            out[at] ^= 1 << rng.random_range(0..8);
        }
        1 if !out.is_empty() => {
            let at = rng.random_range(0..out.len());
            out[at] = rng.random();
        }
        2 if !out.is_empty() => {
            let at = rng.random_range(0..out.len());
            out[at] = INTERESTING_BYTES[rng.random_range(0..INTERESTING_BYTES.len())];
        }
        3 => {
            let at = position(rng, out.len());
            let count = rng.random_range(1..=8);
            let bytes: Vec<u8> = (0..count).map(|_| rng.random()).collect();
            out.splice(at..at, bytes);
        }
        4 if !out.is_empty() => {
            let start = rng.random_range(0..out.len());
            let end = (start + rng.random_range(1..=16)).min(out.len());
            out.drain(start..end);
        }
        5 if !out.is_empty() => {
            let start = rng.random_range(0..out.len());
            let end = (start + rng.random_range(1..=32)).min(out.len());
            let chunk = out[start..end].to_vec();
            let at = position(rng, out.len());
            out.splice(at..at, chunk);
        }
        6 if !dictionary.is_empty() => {
            let token = dictionary[rng.random_range(0..dictionary.len())];
            let at = position(rng, out.len());
            out.splice(at..at, token.iter().copied());
        }
        7 if !dictionary.is_empty() && !out.is_empty() => {
            let token = dictionary[rng.random_range(0..dictionary.len())];
            let at = rng.random_range(0..out.len());
            let end = (at + token.len()).min(out.len());
            out.splice(at..end, token.iter().copied());
        }
        8 if !corpus.is_empty() => {
            let other = &corpus[rng.random_range(0..corpus.len())];
            let cut = position(rng, out.len());
            let from = position(rng, other.len());
            out.truncate(cut);
            out.extend_from_slice(&other[from..]);
        }
        9 if !out.is_empty() => {
            let value = INTERESTING_INTS[rng.random_range(0..INTERESTING_INTS.len())];
            let width = [1usize, 2, 4, 8][rng.random_range(0..4)];
            let bytes = if rng.random() {
                value.to_be_bytes()
            } else {
                value.to_le_bytes()
            };
            let bytes = if rng.random::<bool>() {
                &bytes[8 - width..]
            } else {
                &bytes[..width]
            };
            let at = rng.random_range(0..out.len());
            let end = (at + width).min(out.len());
            out.splice(at..end, bytes.iter().copied());
        }
        10 => replace_number(rng, out),
        11 if !out.is_empty() => {
            let keep = rng.random_range(0..out.len());
            out.truncate(keep);
        }
        _ => {
            let at = position(rng, out.len());
            out.insert(at, rng.random());
        }
    }
}

/// Replaces a run of ASCII digits with an interesting decimal number (text and JSON inputs).
fn replace_number(rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
    let digits: Vec<usize> = out
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    let number = INTERESTING_NUMBERS[rng.random_range(0..INTERESTING_NUMBERS.len())].as_bytes();
    if digits.is_empty() {
        let at = position(rng, out.len());
        out.splice(at..at, number.iter().copied());
        return;
    }
    let start = digits[rng.random_range(0..digits.len())];
    let end = out[start..]
        .iter()
        .position(|b| !b.is_ascii_digit() && *b != b'.')
        .map_or(out.len(), |n| start + n);
    out.splice(start..end, number.iter().copied());
}

/// Reads structured choices from fuzz bytes; past the end every read is zero, so any input,
/// even an empty one, decodes to some value.
#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// Counts and sizes that hit the arithmetic edges of shape inference and encoding.
const INTERESTING_DIMS: [u32; 16] = [
    0,
    1,
    2,
    3,
    5,
    6,
    28,
    255,
    256,
    65_535,
    65_536,
    1 << 24,
    i32::MAX as u32,
    1 << 31,
    u32::MAX - 1,
    u32::MAX,
];

impl<'a> ByteReader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        ByteReader { bytes, at: 0 }
    }

    /// The next byte, 0 past the end.
    pub fn byte(&mut self) -> u8 {
        let value = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        value
    }

    /// A full 32-bit value, big-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Mostly small numbers (what real networks hold), sometimes a boundary value, sometimes
    /// any 32-bit value.
    pub fn extent(&mut self) -> u32 {
        match self.byte() {
            selector @ 0..=0xdf => u32::from(selector % 40),
            selector @ 0xe0..=0xef => INTERESTING_DIMS[usize::from(selector - 0xe0)],
            _ => self.u32(),
        }
    }

    /// Bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.at..).unwrap_or(&[])
    }
}
