//! numpy `.npy` arrays, written by hand.
//!
//! Format v1.0: the magic `\x93NUMPY`, version bytes `1 0`, a little-endian u16 header length
//! `L`, then `L` bytes of a Python dict literal
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (…), }` padded with spaces so that
//! `10 + L` is a multiple of 64 (the last byte is `\n`), then the raw C-order data.
//!
//! We write `<f4` (little-endian float32, [`write_npy`]) or `<f8` ([`write_npy_f64`]). We read
//! versions 1–3 (u32 header length from version 2 on), C order only, and the dtypes `<f4`,
//! `<f8`, `<i4`, `<i8`, either converted to f32 ([`read_npy`]: `<f8` rounds to nearest,
//! integers are exact up to 2²⁴ in magnitude and rounded beyond) or to f64
//! ([`read_npy_f64`]: floats exact, integers exact up to 2⁵³).

use std::path::Path;

use crate::atomic::write_atomic;
use crate::error::IoError;

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
        check_len(&self.shape, self.data.len())
    }
}

/// `Ok` when `shape` calls for exactly `len` values.
fn check_len(shape: &[usize], len: usize) -> Result<(), String> {
    match NpyArray::numel(shape) {
        Some(n) if n == len => Ok(()),
        n => Err(format!(
            "shape {shape:?} needs {} values, the data has {len}",
            n.map_or("too many".to_string(), |n| n.to_string()),
        )),
    }
}

/// A dense C-order array of f64 values (the lossless read path, [`read_npy_f64`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArrayF64 {
    /// Shape (C order); `[]` is a scalar.
    pub shape: Vec<usize>,
    /// Values, `shape.iter().product()` of them.
    pub data: Vec<f64>,
}

impl NpyArrayF64 {
    /// Checks that `data` has exactly as many values as `shape` calls for.
    pub fn check(&self) -> Result<(), String> {
        check_len(&self.shape, self.data.len())
    }
}

/// Serialises one array as `.npy` v1.0 bytes (`<f4`); fails if data and shape disagree.
pub fn npy_bytes(a: &NpyArray) -> Result<Vec<u8>, String> {
    a.check()?;
    let mut out = npy_header(&a.shape, "<f4", 4 * a.data.len())?;
    for v in &a.data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// Serialises one array as `.npy` v1.0 bytes (`<f8`); fails if data and shape disagree.
pub fn npy_bytes_f64(a: &NpyArrayF64) -> Result<Vec<u8>, String> {
    a.check()?;
    let mut out = npy_header(&a.shape, "<f8", 8 * a.data.len())?;
    for v in &a.data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// Magic, version 1.0 and the padded header; `capacity` reserves room for the data bytes.
fn npy_header(shape: &[usize], descr: &str, capacity: usize) -> Result<Vec<u8>, String> {
    let shape = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let hlen = u16::try_from(header.len()).map_err(|_| "shape too long for a v1.0 header")?;
    let mut out = Vec::with_capacity(10 + header.len() + capacity);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&hlen.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    Ok(out)
}

/// Parses `.npy` bytes; errors name `path` and the array `what`.
///
/// Checked before the values are allocated: magic, version, a UTF-8 header inside the bytes
/// with `descr` and `shape`, C order, a shape whose element count does not overflow, a
/// supported dtype, and exactly `count × width` data bytes after the header. So a header that
/// claims a huge shape fails without allocating; the allocation is at most the data bytes
/// present plus 8 × the header length (the parsed shape and messages) plus 1 KiB, i.e. at most
/// 9 × `bytes.len()` + 1 KiB.
pub fn parse_npy(bytes: &[u8], path: &Path, what: &str) -> Result<NpyArray, IoError> {
    let (descr, shape, n, body) = parse_header(bytes, path, what)?;
    let data = decode(body, descr, n).map_err(|m| bad_array(path, what, m))?;
    Ok(NpyArray { shape, data })
}

/// Parses `.npy` bytes into f64 values (`<f8` exact, `<f4` widened exactly, integers exact up
/// to 2⁵³ in magnitude); errors name `path` and the array `what`.
///
/// The checks are [`parse_npy`]'s; the allocation is at most twice the data bytes present
/// (`<f4` widened) plus 8 × the header length plus 1 KiB, i.e. at most 10 × `bytes.len()` +
/// 1 KiB.
pub fn parse_npy_f64(bytes: &[u8], path: &Path, what: &str) -> Result<NpyArrayF64, IoError> {
    let (descr, shape, n, body) = parse_header(bytes, path, what)?;
    let data = decode_f64(body, descr, n).map_err(|m| bad_array(path, what, m))?;
    Ok(NpyArrayF64 { shape, data })
}

fn bad_array(path: &Path, what: &str, m: String) -> IoError {
    IoError::bad(path, format!("array `{what}`: {m}"))
}

/// The parsed header of a `.npy` file: (descr, shape, number of values, data bytes).
type Header<'a> = (&'a str, Vec<usize>, usize, &'a [u8]);

/// Validates magic, version and header.
fn parse_header<'a>(bytes: &'a [u8], path: &Path, what: &str) -> Result<Header<'a>, IoError> {
    let bad = |m: String| bad_array(path, what, m);
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
    Ok((descr, shape, n, &bytes[hstart + hlen..]))
}

/// Decodes `n` little-endian values of dtype `descr` into f32.
fn decode(body: &[u8], descr: &str, n: usize) -> Result<Vec<f32>, String> {
    let width = check_body(body, descr, n)?;
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

/// Decodes `n` little-endian values of dtype `descr` into f64 (exact for floats).
fn decode_f64(body: &[u8], descr: &str, n: usize) -> Result<Vec<f64>, String> {
    let width = check_body(body, descr, n)?;
    let chunks = body.chunks_exact(width);
    Ok(match descr {
        "<f4" => chunks
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        "<i4" => chunks
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        "<f8" => chunks.map(|c| f64::from_le_bytes(eight(c))).collect(),
        _ => chunks
            .map(|c| i64::from_le_bytes(eight(c)) as f64)
            .collect(),
    })
}

/// The value width of a supported dtype, after checking the body holds exactly `n` values.
fn check_body(body: &[u8], descr: &str, n: usize) -> Result<usize, String> {
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
    Ok(width)
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
pub fn read_npy(path: &Path) -> Result<NpyArray, IoError> {
    let bytes = std::fs::read(path).map_err(IoError::io(path))?;
    parse_npy(&bytes, path, "data")
}

/// Reads a single `.npy` file as f64 without loss (errors call the array `data`).
pub fn read_npy_f64(path: &Path) -> Result<NpyArrayF64, IoError> {
    let bytes = std::fs::read(path).map_err(IoError::io(path))?;
    parse_npy_f64(&bytes, path, "data")
}

/// Writes a single `.npy` file (`<f8`) atomically.
pub fn write_npy_f64(path: &Path, a: &NpyArrayF64) -> Result<(), IoError> {
    let bytes = npy_bytes_f64(a).map_err(|m| IoError::bad(path, m))?;
    write_atomic(path, &bytes)
}

/// Writes a single `.npy` file (`<f4`) atomically.
pub fn write_npy(path: &Path, a: &NpyArray) -> Result<(), IoError> {
    let bytes = npy_bytes(a).map_err(|m| IoError::bad(path, m))?;
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

    #[test]
    fn f64_path_is_lossless_for_every_dtype() {
        let a = NpyArrayF64 {
            shape: vec![2, 2],
            data: vec![0.1, -1e-300, std::f64::consts::PI, 1e300],
        };
        let b = npy_bytes_f64(&a).unwrap();
        let text = std::str::from_utf8(&b[10..128]).unwrap();
        assert!(text.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }"));
        assert_eq!(parse_npy_f64(&b, Path::new("x.npy"), "x").unwrap(), a);
        // The f32 reader of the same bytes rounds (0.1 is not an f32).
        let f = parse_npy(&b, Path::new("x.npy"), "x").unwrap();
        assert_ne!(f.data[0] as f64, 0.1);
        // <f4 widens exactly; integers are exact.
        let f4 = npy_bytes(&NpyArray {
            shape: vec![2],
            data: vec![0.1, -2.5],
        })
        .unwrap();
        let w = parse_npy_f64(&f4, Path::new("y.npy"), "y").unwrap();
        assert_eq!(w.data, vec![0.1f32 as f64, -2.5]);
        let body: Vec<u8> = [(1i64 << 53), -7]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            decode_f64(&body, "<i8", 2).unwrap(),
            vec![9007199254740992.0, -7.0]
        );
        let body: Vec<u8> = [3i32, -4].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(decode_f64(&body, "<i4", 2).unwrap(), vec![3.0, -4.0]);
    }

    #[test]
    fn f64_path_reports_bad_files_with_the_path() {
        let err = parse_npy_f64(b"not numpy", Path::new("bad.npy"), "data").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("bad.npy") && msg.contains("bad magic"),
            "{msg}"
        );
        let mut b = npy_bytes_f64(&NpyArrayF64 {
            shape: vec![3],
            data: vec![1.0, 2.0, 3.0],
        })
        .unwrap();
        b.truncate(b.len() - 4);
        let msg = parse_npy_f64(&b, Path::new("t.npy"), "data")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("truncated"), "{msg}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let a = NpyArrayF64 {
            shape: vec![1, 2],
            data: vec![0.3, 0.7],
        };
        write_npy_f64(&p, &a).unwrap();
        assert_eq!(read_npy_f64(&p).unwrap(), a);
        assert!(read_npy_f64(&dir.path().join("missing.npy")).is_err());
    }
}
