//! numpy `.npy` arrays, written by hand.
//!
//! Format v1.0: the magic `\x93NUMPY`, version bytes `1 0`, a little-endian u16 header length
//! `L`, then `L` bytes of a Python dict literal
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (…), }` padded with spaces so that
//! `10 + L` is a multiple of 64 (the last byte is `\n`), then the raw C-order data.
//!
//! We write `<f4` (little-endian float32) only. We read versions 1–3 (u32 header length from
//! version 2 on), C order only, and the dtypes `<f4`, `<f8`, `<i4`, `<i8`, converted to f32:
//! `<f8` rounds to nearest, integers are exact up to 2²⁴ in magnitude and rounded beyond.

use std::path::Path;

use crate::atomic::write_atomic;
use crate::error::EnvError;

/// A dense C-order array of f32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Shape (C order); `[]` is a scalar.
    pub shape: Vec<usize>,
    /// Values, `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

impl NpyArray {
    /// Number of elements the shape calls for, or `None` on overflow.
    pub fn numel(shape: &[usize]) -> Option<usize> {
        shape.iter().try_fold(1usize, |n, &s| n.checked_mul(s))
    }

    /// Checks that `data` has exactly as many values as `shape` calls for.
    pub fn check(&self) -> Result<(), String> {
        match Self::numel(&self.shape) {
            Some(n) if n == self.data.len() => Ok(()),
            n => Err(format!(
                "shape {:?} needs {} values, the data has {}",
                self.shape,
                n.map_or("too many".to_string(), |n| n.to_string()),
                self.data.len()
            )),
        }
    }
}

/// Serialises one array as `.npy` v1.0 bytes (`<f4`); fails if data and shape disagree.
pub fn npy_bytes(a: &NpyArray) -> Result<Vec<u8>, String> {
    a.check()?;
    let shape = match a.shape.len() {
        1 => format!("({},)", a.shape[0]),
        _ => format!(
            "({})",
            a.shape
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let hlen = u16::try_from(header.len()).map_err(|_| "shape too long for a v1.0 header")?;
    let mut out = Vec::with_capacity(10 + header.len() + 4 * a.data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&hlen.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in &a.data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// Parses `.npy` bytes; errors name `path` and the array `what`.
pub fn parse_npy(bytes: &[u8], path: &Path, what: &str) -> Result<NpyArray, EnvError> {
    let bad = |m: String| EnvError::bad(path, format!("array `{what}`: {m}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy array (bad magic)".into()));
    }
    let (hlen, hstart) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(format!("unsupported .npy version {v}"))),
    };
    let header = bytes
        .get(hstart..hstart + hlen)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated or non-text header".into()))?;
    let descr = dict_value(header, "descr").ok_or_else(|| bad("header has no 'descr'".into()))?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    if dict_value(header, "fortran_order").is_some_and(|v| v == "True") {
        return Err(bad(
            "Fortran-ordered arrays are not supported (save with C order)".into(),
        ));
    }
    let shape_txt =
        dict_value(header, "shape").ok_or_else(|| bad("header has no 'shape'".into()))?;
    let shape = parse_shape(shape_txt).ok_or_else(|| bad(format!("bad shape {shape_txt}")))?;
    let n = NpyArray::numel(&shape).ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    let body = &bytes[hstart + hlen..];
    let data = decode(body, descr, n).map_err(bad)?;
    Ok(NpyArray { shape, data })
}

/// Decodes `n` little-endian values of dtype `descr` into f32.
fn decode(body: &[u8], descr: &str, n: usize) -> Result<Vec<f32>, String> {
    let width = match descr {
        "<f4" | "<i4" => 4,
        "<f8" | "<i8" => 8,
        other => {
            return Err(format!(
                "dtype '{other}' is not supported (expected '<f4', '<f8', '<i4' or '<i8')"
            ))
        }
    };
    let need = n
        .checked_mul(width)
        .ok_or_else(|| format!("{n} values of {width} bytes overflow"))?;
    if body.len() != need {
        return Err(format!(
            "{} data: {} bytes, expected {need} for {n} values of dtype '{descr}'",
            if body.len() < need {
                "truncated"
            } else {
                "excess"
            },
            body.len()
        ));
    }
    let chunks = body.chunks_exact(width);
    Ok(match descr {
        "<f4" => chunks
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        "<i4" => chunks
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        "<f8" => chunks
            .map(|c| f64::from_le_bytes(eight(c)) as f32)
            .collect(),
        _ => chunks
            .map(|c| i64::from_le_bytes(eight(c)) as f32)
            .collect(),
    })
}

fn eight(c: &[u8]) -> [u8; 8] {
    [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]
}

/// Parses a Python tuple of non-negative integers: `()`, `(3,)`, `(2, 3)`.
fn parse_shape(txt: &str) -> Option<Vec<usize>> {
    let inner = txt.strip_prefix('(')?.strip_suffix(')')?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>().ok())
        .collect()
}

/// The text of `'key': value` in a Python dict literal (value up to the next top-level comma).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(rest[..i].trim()),
            _ => {}
        }
    }
    None
}

/// Reads a single `.npy` file (errors call the array `data`).
pub fn read_npy(path: &Path) -> Result<NpyArray, EnvError> {
    let bytes = std::fs::read(path).map_err(|source| EnvError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_npy(&bytes, path, "data")
}

/// Writes a single `.npy` file (`<f4`) atomically.
pub fn write_npy(path: &Path, a: &NpyArray) -> Result<(), EnvError> {
    let bytes = npy_bytes(a).map_err(|m| EnvError::bad(path, m))?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(a: &NpyArray) -> NpyArray {
        let b = npy_bytes(a).unwrap();
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0, "header not padded to 64 bytes");
        assert_eq!(b[10 + hlen - 1], b'\n');
        parse_npy(&b, Path::new("x.npy"), "x").unwrap()
    }

    #[test]
    fn round_trips_scalars_vectors_and_tensors() {
        for shape in [vec![], vec![3], vec![2, 3], vec![2, 0, 4], vec![1, 2, 3, 4]] {
            let n: usize = shape.iter().product();
            let a = NpyArray {
                data: (0..n).map(|i| i as f32 * 0.25 - 1.0).collect(),
                shape,
            };
            assert_eq!(round_trip(&a), a);
        }
    }

    #[test]
    fn header_text_matches_numpy() {
        let a = NpyArray {
            shape: vec![3],
            data: vec![0.0; 3],
        };
        let b = npy_bytes(&a).unwrap();
        let text = std::str::from_utf8(&b[10..128]).unwrap();
        assert!(text.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"));
    }

    #[test]
    fn mismatched_data_and_shape_are_rejected() {
        let a = NpyArray {
            shape: vec![2, 2],
            data: vec![0.0; 3],
        };
        assert!(npy_bytes(&a).unwrap_err().contains("needs 4 values"));
    }

    #[test]
    fn integer_and_double_dtypes_convert_to_f32() {
        let body: Vec<u8> = [-3i64, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(decode(&body, "<i8", 2).unwrap(), vec![-3.0, 7.0]);
        let body: Vec<u8> = [1.5f64, -0.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(decode(&body, "<f8", 2).unwrap(), vec![1.5, -0.25]);
        assert!(decode(&body, "<f8", 3).unwrap_err().contains("truncated"));
        assert!(decode(&body, ">f8", 2).unwrap_err().contains("'>f8'"));
    }
}
