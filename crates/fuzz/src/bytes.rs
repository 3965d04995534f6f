//! Format-blind byte mutations, and the integer values most likely to break a length or
//! offset field.

use crate::rng::Rng;

/// Integers that break length, count, offset and size fields: zero, one, sign-bit and
/// all-ones patterns of every width, and values one below an overflow.
pub const INTERESTING: [u64; 16] = [
    0,
    1,
    2,
    7,
    0x7f,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    1 << 32,
    1 << 53,
    (1 << 62) + 1,
    i64::MAX as u64,
    u64::MAX - 7,
    u64::MAX,
];

/// Applies one random byte-level edit: bit flip, byte set, insert, delete, duplicate a range,
/// truncate, or overwrite a little-endian u16/u32/u64 with an interesting value.
pub fn mutate(rng: &mut Rng, b: &mut Vec<u8>) {
    let len = b.len();
    match rng.below(8) {
        0 if len > 0 => {
            let i = rng.below(len);
            b[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            b[i] = *rng.pick(&[0, 0xff, 0x7f, 0x80, b'\'', b'"', b',', b'(', b'{', 0xc3]);
        }
        2 => {
            let at = rng.below(len + 1);
            let n = 1 + rng.below(16);
            let junk: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            b.splice(at..at, junk);
        }
        3 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(64));
            b.drain(at..at + n);
        }
        4 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(256));
            let piece = b[at..at + n].to_vec();
            let to = rng.below(len + 1);
            b.splice(to..to, piece);
        }
        5 => b.truncate(rng.below(len + 1)),
        _ => {
            let width = *rng.pick(&[2usize, 4, 8]);
            if len >= width {
                let at = rng.below(len - width + 1);
                put_le(b, at, width, *rng.pick(&INTERESTING));
            }
        }
    }
}

/// Writes the low `width` bytes of `v` little-endian at `at` (if they fit).
pub fn put_le(b: &mut [u8], at: usize, width: usize, v: u64) {
    if let Some(dst) = b.get_mut(at..at + width) {
        dst.copy_from_slice(&v.to_le_bytes()[..width]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_change_inputs_and_never_panic() {
        let mut rng = Rng::new(1);
        let seed: Vec<u8> = (0..100).collect();
        let mut changed = 0;
        for _ in 0..2000 {
            let mut b = seed.clone();
            mutate(&mut rng, &mut b);
            changed += usize::from(b != seed);
            let mut empty = Vec::new();
            mutate(&mut rng, &mut empty);
        }
        assert!(
            changed > 1800,
            "only {changed} of 2000 edits changed the input"
        );
        let mut b = vec![0u8; 4];
        put_le(&mut b, 0, 4, 0x0102_0304);
        assert_eq!(b, [4, 3, 2, 1]);
        put_le(&mut b, 2, 4, u64::MAX);
        assert_eq!(b, [4, 3, 2, 1], "a write that does not fit is skipped");
    }
}
