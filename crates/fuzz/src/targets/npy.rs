//! `.npy` arrays: `ami_io::parse_npy` and `parse_npy_f64` (bound: 10 × the input + 4 KiB, the
//! larger of the two documented bounds).

use std::path::Path;

use ami_io::npy::{npy_bytes, npy_bytes_f64, parse_npy, parse_npy_f64};
use ami_io::{NpyArray, NpyArrayF64};

use crate::bytes::{put_le, INTERESTING};
use crate::rng::Rng;
use crate::Target;

/// The `.npy` target.
pub struct Npy;

/// Shapes that overflow, are negative, far larger than the data, or not tuples.
pub const SHAPES: [&str; 14] = [
    "()",
    "(0,)",
    "(1,)",
    "(3,)",
    "(2, 3)",
    "(18446744073709551615,)",
    "(4294967296, 4294967296)",
    "(-1,)",
    "(1000000000, 1000000000, 0)",
    "(3 4)",
    "(",
    "(99999999999999999999,)",
    "(1L, 2L)",
    "((1,), 2)",
];

/// Dtypes read, dtypes refused, and broken ones.
pub const DESCRS: [&str; 12] = [
    "'<f4'",
    "'<f8'",
    "'<i4'",
    "'<i8'",
    "'>f4'",
    "'|u1'",
    "'<f2'",
    "'<c8'",
    "'<U3'",
    "[('a', '<f4')]",
    "'",
    "''",
];

/// Rebuilds `bytes` with its header text passed through `f` (length and padding recomputed);
/// `None` when `bytes` has no readable v1 header.
pub fn edit_header(bytes: &[u8], f: impl FnOnce(&str) -> String) -> Option<Vec<u8>> {
    let hlen = u16::from_le_bytes([*bytes.get(8)?, *bytes.get(9)?]) as usize;
    let header = std::str::from_utf8(bytes.get(10..10 + hlen)?).ok()?;
    let mut new = f(header.trim_end()).into_bytes();
    while !(10 + new.len() + 1).is_multiple_of(64) {
        new.push(b' ');
    }
    new.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&u16::try_from(new.len()).ok()?.to_le_bytes());
    out.extend_from_slice(&new);
    out.extend_from_slice(&bytes[10 + hlen..]);
    Some(out)
}

/// `header` with the value of `'key'` replaced by `value` (the value ends at the next
/// top-level `,` or `}`).
fn replace_value(header: &str, key: &str, value: &str) -> String {
    let Some(k) = header.find(&format!("'{key}': ")) else {
        return header.to_string();
    };
    let start = k + key.len() + 4;
    let mut depth = 0i32;
    let end = header[start..]
        .char_indices()
        .find(|&(_, c)| {
            depth += i32::from(c == '(' || c == '[') - i32::from(c == ')' || c == ']');
            depth <= 0 && (c == ',' || c == '}')
        })
        .map_or(header.len(), |(i, _)| start + i);
    format!("{}{value}{}", &header[..start], &header[end..])
}

/// One `.npy`-aware edit: shape, dtype or order rewritten; the header length or version field
/// set to an interesting value; the data truncated; a value set to NaN or infinity.
pub fn mutate_npy(rng: &mut Rng, b: &mut Vec<u8>) {
    let edited = match rng.below(7) {
        0 | 1 => {
            let shape = *rng.pick(&SHAPES);
            edit_header(b, |h| replace_value(h, "shape", shape))
        }
        2 => {
            let descr = *rng.pick(&DESCRS);
            edit_header(b, |h| replace_value(h, "descr", descr))
        }
        3 => edit_header(b, |h| replace_value(h, "fortran_order", "True")),
        4 => {
            let (at, width) = *rng.pick(&[(8usize, 2usize), (8, 4), (6, 1)]);
            put_le(b, at, width, *rng.pick(&INTERESTING));
            None
        }
        5 => {
            let cut = rng.below(b.len() + 1);
            b.truncate(cut.max(b.len().saturating_sub(16)));
            None
        }
        _ => {
            let hlen = b
                .get(8..10)
                .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]) as usize);
            let body = 10 + hlen;
            if b.len() >= body + 4 {
                let at = body + 4 * rng.below((b.len() - body) / 4);
                let v = *rng.pick(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
                put_le(b, at, 4, u64::from(v.to_bits()));
            }
            None
        }
    };
    if let Some(e) = edited {
        *b = e;
    }
}

impl Target for Npy {
    fn name(&self) -> &'static str {
        "npy"
    }

    fn file_name(&self) -> &'static str {
        "fuzz.npy"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for shape in [vec![], vec![3], vec![2, 3], vec![2, 0, 4]] {
            let n: usize = shape.iter().product();
            let data = (0..n).map(|i| i as f32 - 1.5).collect();
            out.push(npy_bytes(&NpyArray { shape, data }).expect("valid seed"));
        }
        let a = NpyArrayF64 {
            shape: vec![2, 2],
            data: vec![0.1, -2.0, 1e300, 4.0],
        };
        out.push(npy_bytes_f64(&a).expect("valid seed"));
        // The integer dtypes, as numpy writes them.
        for (descr, body) in [
            (
                "'<i4'",
                [1i32, -2, 3]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<_>>(),
            ),
            (
                "'<i8'",
                [5i64, -6, 7].iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
        ] {
            let empty = npy_bytes(&NpyArray {
                shape: vec![0],
                data: vec![],
            })
            .expect("valid seed");
            let head = edit_header(&empty, |h| replace_value(h, "shape", "(3,)")).expect("seed");
            let mut b = edit_header(&head, |h| replace_value(h, "descr", descr)).expect("seed");
            b.extend_from_slice(&body);
            out.push(b);
        }
        out
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>) {
        mutate_npy(rng, input);
    }

    fn load(&self, bytes: &[u8], path: &Path) -> Result<(), String> {
        parse_npy(bytes, path, "data").map_err(|e| e.to_string())?;
        parse_npy_f64(bytes, path, "data").map_err(|e| e.to_string())?;
        Ok(())
    }

    fn bound(&self, len: usize) -> usize {
        10 * len + 4096
    }
}
