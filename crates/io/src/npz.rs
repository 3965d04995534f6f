//! numpy `.npz` archives, written by hand: a ZIP archive of `name.npy` entries.
//!
//! We write stored (uncompressed) entries, as `np.savez` does, with CRC-32, a fixed
//! 1980-01-01 timestamp (so equal arrays give identical bytes) and no ZIP64 (arrays < 4 GiB).
//! We read stored and deflated entries (`np.savez_compressed`), including the ZIP64 extra field
//! numpy adds, and check each entry's CRC-32. Everything is read through the central
//! directory; offsets and sizes are bounds-checked, so bad files give errors, never panics.
//!
//! Reading is bounded before anything is inflated ([`parse_npz`]): entries may not share or
//! overlap their data, names may not repeat, and an entry's declared uncompressed size may not
//! exceed [`MAX_DEFLATE_RATIO`] times its compressed size plus [`DEFLATE_SLACK`] bytes (deflate
//! cannot do better, so no honest archive is refused, and a zip bomb is).

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
/// The largest expansion deflate can encode: a 258-byte match costs at least 2 bits, so one
/// compressed byte yields at most 1032 bytes.
pub const MAX_DEFLATE_RATIO: usize = 1032;
/// Bytes allowed above `MAX_DEFLATE_RATIO × compressed size` (block headers of tiny streams).
pub const DEFLATE_SLACK: usize = 1024;

/// Writes `arrays` as an uncompressed `.npz` archive (entries `name.npy`), atomically.
pub fn write_npz(path: &Path, arrays: &[(&str, &NpyArray)]) -> Result<(), IoError> {
    let out = npz_bytes(arrays).map_err(|m| IoError::bad(path, m))?;
    write_atomic(path, &out)
}

/// The bytes [`write_npz`] writes; fails if an array's data and shape disagree or the archive
/// would need ZIP64.
pub fn npz_bytes(arrays: &[(&str, &NpyArray)]) -> Result<Vec<u8>, String> {
    let too_big = |what: &str| format!("{what} exceeds 4 GiB (no ZIP64)");
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, a) in arrays {
        let data = npy_bytes(a).map_err(|m| format!("array `{name}`: {m}"))?;
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
    let count = u16::try_from(arrays.len()).map_err(|_| "more than 65535 arrays")?;
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
    Ok(out)
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

/// Reads every `.npy` entry of an `.npz` archive (stored or deflated), keyed by array name
/// ([`parse_npz`] of the file's bytes).
pub fn read_npz(path: &Path) -> Result<BTreeMap<String, NpyArray>, IoError> {
    let b = std::fs::read(path).map_err(IoError::io(path))?;
    parse_npz(&b, path)
}

/// Parses the bytes of an `.npz` archive; errors name `path` and the entry or array at fault.
///
/// Checked before any entry is inflated: the end record and every central-directory entry lie
/// inside the file, the local data ranges of the entries are disjoint, no name repeats, and each
/// declared uncompressed size is at most `MAX_DEFLATE_RATIO × compressed + DEFLATE_SLACK`
/// (stored entries: equal to the compressed size). A deflated entry is inflated into a buffer
/// of exactly its declared size, so a stream that would expand past it fails without growing.
///
/// Allocation bound: the inflated bytes of all entries together are at most 1100 × the file's
/// size (disjoint ranges, ≥ 30 header bytes per entry); each entry's inflated buffer is freed
/// once its array is decoded, and decoded arrays are no larger than their bytes, so the peak
/// is at most 2200 × the file's size plus 64 KiB.
pub fn parse_npz(b: &[u8], path: &Path) -> Result<BTreeMap<String, NpyArray>, IoError> {
    let Some(eocd) = (0..=b.len().saturating_sub(END_LEN))
        .rev()
        .find(|&i| u32_at(b, i) == Some(END_SIG) && i + END_LEN <= b.len())
    else {
        let msg = if u32_at(b, 0) == Some(LOCAL_SIG) {
            "truncated ZIP archive (no end-of-central-directory record)"
        } else {
            "not a .npz file (not a ZIP archive)"
        };
        return Err(IoError::bad(path, msg));
    };
    let corrupt = |m: String| IoError::bad(path, format!("corrupt ZIP archive: {m}"));
    let count = u16_at(b, eocd + 10).unwrap_or(0);
    let mut pos = u32_at(b, eocd + 16).unwrap_or(u32::MAX) as usize;
    let mut entries = Vec::new();
    for k in 0..count {
        let (e, next) = central_entry(b, pos)
            .ok_or_else(|| corrupt(format!("central directory entry {k} is damaged")))?;
        pos = next;
        entries.push(e);
    }
    let located = locate_entries(b, &entries).map_err(corrupt)?;
    let mut out = BTreeMap::new();
    for (e, raw) in entries.iter().zip(located) {
        let data = entry_data(raw, e).map_err(|m| corrupt(format!("entry `{}`: {m}", e.name)))?;
        let key = e.name.strip_suffix(".npy").unwrap_or(&e.name).to_string();
        let array = parse_npy(&data, path, &key)?;
        drop(data);
        if out.insert(key.clone(), array).is_some() {
            return Err(corrupt(format!("array `{key}` appears twice")));
        }
    }
    Ok(out)
}

/// The compressed bytes of each entry, after checking the local headers, that the data ranges
/// are disjoint and inside the file, that names do not repeat and that the declared sizes are
/// possible.
fn locate_entries<'a>(b: &'a [u8], entries: &[CentralEntry]) -> Result<Vec<&'a [u8]>, String> {
    let mut ranges = Vec::with_capacity(entries.len());
    for e in entries {
        let at = |m: &str| format!("entry `{}`: {m}", e.name);
        if u32_at(b, e.local) != Some(LOCAL_SIG) {
            return Err(at("bad local header"));
        }
        let (lname, lextra) = u16_at(b, e.local + 26)
            .zip(u16_at(b, e.local + 28))
            .ok_or_else(|| at("truncated local header"))?;
        let start = e.local + 30 + lname + lextra;
        let end = start
            .checked_add(e.compressed)
            .filter(|&end| end <= b.len())
            .ok_or_else(|| at("data extends past the end of the file (truncated?)"))?;
        let limit = match e.method {
            0 => e.compressed,
            _ => e
                .compressed
                .saturating_mul(MAX_DEFLATE_RATIO)
                .saturating_add(DEFLATE_SLACK),
        };
        if e.uncompressed > limit {
            return Err(at(&format!(
                "declared uncompressed size {} is impossible for {} compressed bytes (zip bomb?)",
                e.uncompressed, e.compressed
            )));
        }
        ranges.push((e.local, end, e.name.as_str()));
    }
    let mut sorted: Vec<_> = ranges.iter().collect();
    sorted.sort_unstable();
    for w in sorted.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format!(
                "entries `{}` and `{}` overlap in the file",
                w[0].2, w[1].2
            ));
        }
    }
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("entry `{}` appears twice", w[0]));
    }
    Ok(ranges
        .iter()
        .zip(entries)
        .map(|(&(_, end, _), e)| &b[end - e.compressed..end])
        .collect())
}

/// The uncompressed, CRC-checked bytes of one entry from its compressed bytes `raw`.
fn entry_data<'a>(raw: &'a [u8], e: &CentralEntry) -> Result<std::borrow::Cow<'a, [u8]>, String> {
    // A stored entry is read where it lies in the file's bytes (no copy: a dataset's frames
    // are gigabytes).
    let data = match e.method {
        0 => std::borrow::Cow::Borrowed(raw),
        8 => std::borrow::Cow::Owned(inflate_exact(raw, e.uncompressed)?),
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

/// Inflates a raw deflate stream into a buffer of exactly `size` bytes; a stream that is
/// damaged, ends early or would produce more fails.
fn inflate_exact(raw: &[u8], size: usize) -> Result<Vec<u8>, String> {
    use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
    use miniz_oxide::inflate::TINFLStatus;
    let mut out = vec![0u8; size];
    let mut state = Box::<DecompressorOxide>::default();
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let (status, _, written) = decompress(&mut state, raw, &mut out, 0, flags);
    match status {
        TINFLStatus::Done if written == size => Ok(out),
        TINFLStatus::Done => Err(format!("{written} bytes, the directory says {size}")),
        TINFLStatus::HasMoreOutput => Err(format!(
            "deflate stream expands past the declared {size} bytes"
        )),
        TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
            Err("deflate stream ends early (truncated?)".into())
        }
        _ => Err("bad deflate stream".into()),
    }
}
