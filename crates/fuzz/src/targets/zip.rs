//! A minimal ZIP writer for building archives the crate's own writer never makes: deflated
//! entries, ZIP64 extra fields, declared sizes that lie, repeated names.

use miniz_oxide::deflate::compress_to_vec;

/// One entry as it will appear in the archive.
#[derive(Clone)]
pub struct Entry {
    /// File name (`x.npy`).
    pub name: String,
    /// The bytes stored in the archive (already deflated for method 8).
    pub payload: Vec<u8>,
    /// 0 stored, 8 deflated (anything else is written as is).
    pub method: u16,
    /// CRC-32 of the uncompressed bytes.
    pub crc: u32,
    /// Declared uncompressed size.
    pub size: u64,
    /// Write the sizes as 0xFFFFFFFF with a ZIP64 extra field holding the real ones.
    pub zip64: bool,
}

impl Entry {
    /// A stored entry with a correct CRC and size.
    pub fn stored(name: &str, data: Vec<u8>) -> Entry {
        Entry {
            name: name.into(),
            crc: crc32fast::hash(&data),
            size: data.len() as u64,
            payload: data,
            method: 0,
            zip64: false,
        }
    }

    /// A deflated entry with a correct CRC and size.
    pub fn deflated(name: &str, data: &[u8]) -> Entry {
        Entry {
            name: name.into(),
            crc: crc32fast::hash(data),
            size: data.len() as u64,
            payload: compress_to_vec(data, 6),
            method: 8,
            zip64: false,
        }
    }
}

fn header(e: &Entry, offset: Option<u32>) -> Vec<u8> {
    let mut h = Vec::new();
    let sig: u32 = if offset.is_some() {
        0x0201_4b50
    } else {
        0x0403_4b50
    };
    h.extend_from_slice(&sig.to_le_bytes());
    if offset.is_some() {
        h.extend_from_slice(&45u16.to_le_bytes());
    }
    for v in [45u16, 0, e.method, 0, 0x21] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    let clen = e.payload.len() as u64;
    let (size32, clen32) = match e.zip64 {
        true => (u32::MAX, u32::MAX),
        false => (e.size as u32, clen as u32),
    };
    for v in [e.crc, clen32, size32] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    let extra: Vec<u8> = match e.zip64 {
        true => [1u16.to_le_bytes(), 16u16.to_le_bytes()]
            .concat()
            .into_iter()
            .chain(e.size.to_le_bytes())
            .chain(clen.to_le_bytes())
            .collect(),
        false => Vec::new(),
    };
    h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
    h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
    if let Some(offset) = offset {
        h.extend_from_slice(&[0u8; 10]);
        h.extend_from_slice(&offset.to_le_bytes());
    }
    h.extend_from_slice(e.name.as_bytes());
    h.extend_from_slice(&extra);
    h
}

/// The archive of `entries`, in order.
pub fn build(entries: &[Entry]) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for e in entries {
        central.extend(header(e, Some(out.len() as u32)));
        out.extend(header(e, None));
        out.extend_from_slice(&e.payload);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    let n = entries.len() as u16;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// Positions of every occurrence of the little-endian signature `sig` in `b`.
pub fn find_sig(b: &[u8], sig: u32) -> Vec<usize> {
    let s = sig.to_le_bytes();
    b.windows(4)
        .enumerate()
        .filter(|(_, w)| *w == s)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn built_archives_read_back_stored_deflated_and_zip64() {
        let a = ami_io::NpyArray {
            shape: vec![2, 2],
            data: vec![1.0, 2.0, 3.0, 4.0],
        };
        let npy = ami_io::npy::npy_bytes(&a).unwrap();
        let mut z = Entry::deflated("b.npy", &npy);
        z.zip64 = true;
        let archive = build(&[
            Entry::stored("a.npy", npy.clone()),
            Entry::deflated("c.npy", &npy),
            z,
        ]);
        let back = ami_io::parse_npz(&archive, Path::new("t.npz")).unwrap();
        assert_eq!(back.len(), 3);
        assert!(back.values().all(|v| *v == a));
        assert_eq!(find_sig(&archive, 0x0201_4b50).len(), 3);
    }
}
