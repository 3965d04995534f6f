//! numpy `.npz` archives, written by hand: a ZIP archive of `name.npy` entries.
//!
//! We write stored (uncompressed) entries, as `np.savez` does, with CRC-32, a fixed
//! 1980-01-01 timestamp (so equal arrays give identical bytes) and no ZIP64 (arrays < 4 GiB).
//! We read stored and deflated entries (`np.savez_compressed`), including the ZIP64 extra field
//! numpy adds, and check each entry's CRC-32. Everything is read through the central
//! directory; offsets and sizes are bounds-checked, so bad files give errors, never panics.

use std::collections::BTreeMap;
use std::path::Path;

use crate::atomic::write_atomic;
use crate::error::IoError;
use crate::npy::{npy_bytes, parse_npy, NpyArray};

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const END_SIG: u32 = 0x0605_4b50;
/// Size of the end-of-central-directory record without its comment.
const END_LEN: usize = 22;
/// DOS date of 1980-01-01.
const DOS_DATE: u16 = 0x21;
/// Marker meaning "the real value is in the ZIP64 extra field".
const ZIP64_MARK: u32 = u32::MAX;

/// Writes `arrays` as an uncompressed `.npz` archive (entries `name.npy`), atomically.
pub fn write_npz(path: &Path, arrays: &[(&str, &NpyArray)]) -> Result<(), IoError> {
    let too_big = |what: &str| IoError::bad(path, format!("{what} exceeds 4 GiB (no ZIP64)"));
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, a) in arrays {
        let data = npy_bytes(a).map_err(|m| IoError::bad(path, format!("array `{name}`: {m}")))?;
        let fname = format!("{name}.npy");
        let size = u32::try_from(data.len()).map_err(|_| too_big(&format!("array `{name}`")))?;
        let offset = u32::try_from(out.len()).map_err(|_| too_big("the archive"))?;
        let entry = Entry {
            crc: crc32fast::hash(&data),
            size,
            name: fname.as_bytes(),
        };
        out.extend(entry.header(None));
        out.extend_from_slice(&data);
        central.extend(entry.header(Some(offset)));
    }
    let count =
        u16::try_from(arrays.len()).map_err(|_| IoError::bad(path, "more than 65535 arrays"))?;
    let cd_offset = u32::try_from(out.len()).map_err(|_| too_big("the archive"))?;
    let cd_len = central.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&END_SIG.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]); // disk numbers
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    write_atomic(path, &out)
}

/// One stored entry, for writing its local (`offset = None`) or central header.
struct Entry<'a> {
    crc: u32,
    size: u32,
    name: &'a [u8],
}

impl Entry<'_> {
    fn header(&self, offset: Option<u32>) -> Vec<u8> {
        let mut h = Vec::with_capacity(46 + self.name.len());
        let sig = if offset.is_some() {
            CENTRAL_SIG
        } else {
            LOCAL_SIG
        };
        h.extend_from_slice(&sig.to_le_bytes());
        if offset.is_some() {
            h.extend_from_slice(&20u16.to_le_bytes()); // version made by
        }
        for v in [20u16, 0, 0, 0, DOS_DATE] {
            // version needed, flags, method (stored), time, date
            h.extend_from_slice(&v.to_le_bytes());
        }
        for v in [self.crc, self.size, self.size] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // extra length
        if let Some(offset) = offset {
            h.extend_from_slice(&[0u8; 6]); // comment length, disk start, internal attributes
            h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
            h.extend_from_slice(&offset.to_le_bytes());
        }
        h.extend_from_slice(self.name);
        h
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<usize> {
    b.get(i..i.checked_add(2)?)
        .map(|s| u16::from_le_bytes([s[0], s[1]]) as usize)
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i.checked_add(4)?)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    let s = b.get(i..i.checked_add(8)?)?;
    Some(u64::from_le_bytes([
        s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
    ]))
}

/// What the central directory says about one entry.
struct CentralEntry {
    name: String,
    method: usize,
    crc: u32,
    compressed: usize,
    uncompressed: usize,
    local: usize,
}

/// Parses the central-directory entry at `pos`; returns it and the position of the next one.
fn central_entry(b: &[u8], pos: usize) -> Option<(CentralEntry, usize)> {
    if u32_at(b, pos)? != CENTRAL_SIG {
        return None;
    }
    let (nlen, elen, clen) = (
        u16_at(b, pos + 28)?,
        u16_at(b, pos + 30)?,
        u16_at(b, pos + 32)?,
    );
    let name = String::from_utf8_lossy(b.get(pos + 46..pos + 46 + nlen)?).to_string();
    let extra = b.get(pos + 46 + nlen..pos + 46 + nlen + elen)?;
    let mut fields = [
        u32_at(b, pos + 24)?,
        u32_at(b, pos + 20)?,
        u32_at(b, pos + 42)?,
    ]
    .map(|v| v as u64);
    // ZIP64 extra (id 1): the 8-byte values of the fields marked 0xFFFFFFFF, in the order
    // uncompressed size, compressed size, local header offset.
    let mut i = 0;
    while let (Some(id), Some(len)) = (u16_at(extra, i), u16_at(extra, i + 2)) {
        if id == 1 {
            let mut at = i + 4;
            for f in fields.iter_mut().filter(|f| **f == ZIP64_MARK as u64) {
                *f = u64_at(extra, at)?;
                at += 8;
            }
        }
        i += 4 + len;
    }
    let [uncompressed, compressed, local] = fields.map(|v| usize::try_from(v).ok());
    let entry = CentralEntry {
        name,
        method: u16_at(b, pos + 10)?,
        crc: u32_at(b, pos + 16)?,
        compressed: compressed?,
        uncompressed: uncompressed?,
        local: local?,
    };
    Some((entry, pos + 46 + nlen + elen + clen))
}

/// Reads every `.npy` entry of an `.npz` archive (stored or deflated), keyed by array name.
pub fn read_npz(path: &Path) -> Result<BTreeMap<String, NpyArray>, IoError> {
    let b = std::fs::read(path).map_err(IoError::io(path))?;
    let Some(eocd) = (0..=b.len().saturating_sub(END_LEN))
        .rev()
        .find(|&i| u32_at(&b, i) == Some(END_SIG) && i + END_LEN <= b.len())
    else {
        let msg = if u32_at(&b, 0) == Some(LOCAL_SIG) {
            "truncated ZIP archive (no end-of-central-directory record)"
        } else {
            "not a .npz file (not a ZIP archive)"
        };
        return Err(IoError::bad(path, msg));
    };
    let corrupt = |m: String| IoError::bad(path, format!("corrupt ZIP archive: {m}"));
    let entries = u16_at(&b, eocd + 10).unwrap_or(0);
    let mut pos = u32_at(&b, eocd + 16).unwrap_or(u32::MAX) as usize;
    let mut out = BTreeMap::new();
    for k in 0..entries {
        let (e, next) = central_entry(&b, pos)
            .ok_or_else(|| corrupt(format!("central directory entry {k} is damaged")))?;
        pos = next;
        let data = entry_data(&b, &e).map_err(|m| corrupt(format!("entry {}: {m}", e.name)))?;
        let key = e.name.strip_suffix(".npy").unwrap_or(&e.name).to_string();
        out.insert(key.clone(), parse_npy(&data, path, &key)?);
    }
    Ok(out)
}

/// The uncompressed, CRC-checked bytes of one entry.
fn entry_data(b: &[u8], e: &CentralEntry) -> Result<Vec<u8>, String> {
    if u32_at(b, e.local) != Some(LOCAL_SIG) {
        return Err("bad local header".into());
    }
    let (lname, lextra) = u16_at(b, e.local + 26)
        .zip(u16_at(b, e.local + 28))
        .ok_or("truncated local header")?;
    let start = e.local + 30 + lname + lextra;
    let raw = b
        .get(start..start.saturating_add(e.compressed))
        .ok_or("data extends past the end of the file (truncated?)")?;
    let data = match e.method {
        0 => raw.to_vec(),
        8 => miniz_oxide::inflate::decompress_to_vec_with_limit(raw, e.uncompressed)
            .map_err(|_| "bad deflate stream")?,
        m => return Err(format!("compression method {m} not supported")),
    };
    if data.len() != e.uncompressed {
        return Err(format!(
            "{} bytes, the directory says {}",
            data.len(),
            e.uncompressed
        ));
    }
    if crc32fast::hash(&data) != e.crc {
        return Err("CRC mismatch".into());
    }
    Ok(data)
}
