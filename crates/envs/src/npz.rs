//! numpy-compatible `.npy` / `.npz` I/O, written by hand.
//!
//! * `.npy` v1.0: magic `\x93NUMPY`, version, little-endian u16 header length, a Python dict
//!   literal `{'descr': '<f4', 'fortran_order': False, 'shape': (…), }` padded with spaces to a
//!   multiple of 64 bytes (newline last), then the raw C-order data. Reading accepts v1–v3,
//!   dtypes `<f4` and `<f8` (converted to f32), C order only.
//! * `.npz`: a ZIP archive of `name.npy` entries. We write stored entries (as `np.savez`); we
//!   read stored and deflated ones (as `np.savez_compressed`). CRC-32 is checked.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::EnvError;

/// A dense array of f32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Shape (C order).
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

/// Serialises one array as `.npy` bytes (`<f4`).
pub fn npy_bytes(a: &NpyArray) -> Vec<u8> {
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
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * a.data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in &a.data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Parses `.npy` bytes; `what` names the array in errors.
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
    if dict_value(header, "fortran_order")
        .map(|v| v.trim() == "True")
        .unwrap_or(false)
    {
        return Err(bad(
            "Fortran-ordered arrays are not supported (save with C order)".into(),
        ));
    }
    let shape_txt =
        dict_value(header, "shape").ok_or_else(|| bad("header has no 'shape'".into()))?;
    let shape = shape_txt
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad(format!("bad shape {shape_txt}")))?;
    let n: usize = shape.iter().product();
    let body = &bytes[hstart + hlen..];
    let data: Vec<f32> = match descr {
        "<f4" => {
            check_len(body, n * 4).map_err(bad)?;
            body.chunks_exact(4)
                .take(n)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }
        "<f8" => {
            check_len(body, n * 8).map_err(bad)?;
            body.chunks_exact(8)
                .take(n)
                .map(|c| {
                    f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect()
        }
        other => {
            return Err(bad(format!(
                "dtype '{other}' is not supported (expected '<f4' or '<f8')"
            )))
        }
    };
    Ok(NpyArray { shape, data })
}

fn check_len(body: &[u8], need: usize) -> Result<(), String> {
    if body.len() < need {
        Err(format!(
            "truncated data: {} bytes, expected {need}",
            body.len()
        ))
    } else {
        Ok(())
    }
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

/// Reads a single `.npy` file.
pub fn read_npy(path: &Path) -> Result<NpyArray, EnvError> {
    let bytes = std::fs::read(path).map_err(|source| EnvError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_npy(&bytes, path, "data")
}

/// Writes a single `.npy` file atomically.
pub fn write_npy(path: &Path, a: &NpyArray) -> Result<(), EnvError> {
    crate::atomic::write_atomic(path, &npy_bytes(a))
}

/// Writes `arrays` as an uncompressed `.npz` archive, atomically.
pub fn write_npz(path: &Path, arrays: &[(&str, &NpyArray)]) -> Result<(), EnvError> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, a) in arrays {
        let data = npy_bytes(a);
        let fname = format!("{name}.npy");
        if data.len() > u32::MAX as usize {
            return Err(EnvError::bad(
                path,
                format!("array `{name}` exceeds 4 GiB (zip64 not supported)"),
            ));
        }
        let crc = crc32fast::hash(&data);
        let offset = out.len() as u32;
        let fields = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&sig.to_le_bytes());
            if central {
                h.extend_from_slice(&20u16.to_le_bytes());
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // version needed
            h.extend_from_slice(&0u16.to_le_bytes()); // flags
            h.extend_from_slice(&0u16.to_le_bytes()); // method: stored
            h.extend_from_slice(&0u16.to_le_bytes()); // time
            h.extend_from_slice(&0x21u16.to_le_bytes()); // date 1980-01-01
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(fname.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                h.extend_from_slice(&[0u8; 6]); // comment len, disk start, internal attrs
                h.extend_from_slice(&0u32.to_le_bytes()); // external attrs
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(fname.as_bytes());
            h
        };
        out.extend(fields(0x0403_4b50, false));
        out.extend_from_slice(&data);
        central.extend(fields(0x0201_4b50, true));
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&(arrays.len() as u16).to_le_bytes());
    out.extend_from_slice(&(arrays.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    crate::atomic::write_atomic(path, &out)
}

fn u16_at(b: &[u8], i: usize) -> Option<usize> {
    b.get(i..i + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]) as usize)
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads every `.npy` entry of an `.npz` archive (stored or deflated).
pub fn read_npz(path: &Path) -> Result<BTreeMap<String, NpyArray>, EnvError> {
    let b = std::fs::read(path).map_err(|source| EnvError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let not_zip = || {
        EnvError::bad(
            path,
            "not a .npz file (no ZIP end-of-central-directory record)",
        )
    };
    let eocd = (0..b.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(&b, i) == Some(0x0605_4b50))
        .ok_or_else(not_zip)?;
    let entries = u16_at(&b, eocd + 10).ok_or_else(not_zip)?;
    let mut pos = u32_at(&b, eocd + 16).ok_or_else(not_zip)? as usize;
    let corrupt = |m: &str| EnvError::bad(path, format!("corrupt ZIP archive: {m}"));
    let mut out = BTreeMap::new();
    for _ in 0..entries {
        if u32_at(&b, pos) != Some(0x0201_4b50) {
            return Err(corrupt("bad central directory entry"));
        }
        let method = u16_at(&b, pos + 10).ok_or_else(|| corrupt("truncated"))?;
        let crc = u32_at(&b, pos + 16).ok_or_else(|| corrupt("truncated"))?;
        let csize = u32_at(&b, pos + 20).ok_or_else(|| corrupt("truncated"))? as usize;
        let nlen = u16_at(&b, pos + 28).ok_or_else(|| corrupt("truncated"))?;
        let elen = u16_at(&b, pos + 30).ok_or_else(|| corrupt("truncated"))?;
        let clen = u16_at(&b, pos + 32).ok_or_else(|| corrupt("truncated"))?;
        let local = u32_at(&b, pos + 42).ok_or_else(|| corrupt("truncated"))? as usize;
        let name = b
            .get(pos + 46..pos + 46 + nlen)
            .map(|n| String::from_utf8_lossy(n).to_string())
            .ok_or_else(|| corrupt("truncated name"))?;
        pos += 46 + nlen + elen + clen;
        let lname = u16_at(&b, local + 26).ok_or_else(|| corrupt("truncated local header"))?;
        let lextra = u16_at(&b, local + 28).ok_or_else(|| corrupt("truncated local header"))?;
        let start = local + 30 + lname + lextra;
        let raw = b
            .get(start..start + csize)
            .ok_or_else(|| corrupt(&format!("entry {name} extends past the end of the file")))?;
        let data = match method {
            0 => raw.to_vec(),
            8 => miniz_oxide::inflate::decompress_to_vec(raw)
                .map_err(|_| corrupt(&format!("entry {name}: bad deflate stream")))?,
            m => {
                return Err(corrupt(&format!(
                    "entry {name}: compression method {m} not supported"
                )))
            }
        };
        if crc32fast::hash(&data) != crc {
            return Err(corrupt(&format!("entry {name}: CRC mismatch")));
        }
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        let arr = parse_npy(&data, path, &key)?;
        out.insert(key, arr);
    }
    Ok(out)
}
