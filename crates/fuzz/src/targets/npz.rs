//! `.npz` archives: `ami_io::parse_npz` (bound: 2200 × the input + 64 KiB, as documented).

use std::path::Path;
use std::sync::OnceLock;

use ami_io::npy::npy_bytes;
use ami_io::{npz_bytes, parse_npz, NpyArray};
use miniz_oxide::deflate::compress_to_vec;

use super::npy::mutate_npy;
use super::zip::{build, find_sig, Entry};
use crate::bytes::{put_le, INTERESTING};
use crate::rng::Rng;
use crate::Target;

/// The `.npz` target.
pub struct Npz {
    /// Deflated runs of zeros (1 MiB and 16 MiB): zip-bomb payloads, made once.
    bombs: OnceLock<[(Vec<u8>, u64, u32); 2]>,
}

impl Npz {
    /// The target (bomb payloads are compressed on first use).
    pub fn new() -> Self {
        Npz {
            bombs: OnceLock::new(),
        }
    }

    fn bombs(&self) -> &[(Vec<u8>, u64, u32); 2] {
        self.bombs.get_or_init(|| {
            [1usize << 20, 1 << 24].map(|n| {
                let zeros = vec![0u8; n];
                (
                    compress_to_vec(&zeros, 10),
                    n as u64,
                    crc32fast::hash(&zeros),
                )
            })
        })
    }
}

impl Default for Npz {
    fn default() -> Self {
        Npz::new()
    }
}

/// The archive's entries as `(file name, .npy bytes)`, if it parses.
pub fn entries_of(b: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let arrays = parse_npz(b, Path::new("x.npz")).ok()?;
    arrays
        .iter()
        .map(|(k, a)| Some((format!("{k}.npy"), npy_bytes(a).ok()?)))
        .collect()
}

/// Offsets of the fields of a central entry, local header and end record: (offset, width).
const CENTRAL_FIELDS: [(usize, usize); 8] = [
    (10, 2),
    (16, 4),
    (20, 4),
    (24, 4),
    (28, 2),
    (30, 2),
    (32, 2),
    (42, 4),
];
const LOCAL_FIELDS: [(usize, usize); 5] = [(8, 2), (18, 4), (22, 4), (26, 2), (28, 2)];
const END_FIELDS: [(usize, usize); 5] = [(8, 2), (10, 2), (12, 4), (16, 4), (20, 2)];

/// Sets one field of a random record with signature `sig` to an interesting value.
fn poke(rng: &mut Rng, b: &mut [u8], sig: u32, fields: &[(usize, usize)]) {
    let at = find_sig(b, sig);
    if at.is_empty() {
        return;
    }
    let base = *rng.pick(&at);
    let (off, width) = *rng.pick(fields);
    let v = match rng.below(3) {
        0 => *rng.pick(&INTERESTING),
        1 => rng.below(b.len() + 64) as u64,
        _ => base as u64,
    };
    put_le(b, base + off, width, v);
}

impl Npz {
    /// An edit that rebuilds the archive from its entries.
    fn rebuild(&self, rng: &mut Rng, mut files: Vec<(String, Vec<u8>)>) -> Vec<u8> {
        let k = rng.below(files.len().max(1));
        let mut entries: Vec<Entry> = files
            .iter()
            .map(|(n, d)| Entry::stored(n, d.clone()))
            .collect();
        match rng.below(8) {
            0 | 1 if !files.is_empty() => {
                mutate_npy(rng, &mut files[k].1);
                entries[k] = Entry::stored(&files[k].0, files[k].1.clone());
            }
            2 => {
                for (e, (n, d)) in entries.iter_mut().zip(&files) {
                    if rng.one_in(2) {
                        *e = Entry::deflated(n, d);
                    }
                }
            }
            3 => {
                let (payload, n, crc) = rng.pick(self.bombs()).clone();
                let size = *rng.pick(&[n, 100, u32::MAX as u64 - 1, 1 << 40, n + 1, n - 1]);
                let mut e = Entry::deflated("bomb.npy", &[]);
                (e.payload, e.size, e.zip64) = (payload, size, rng.one_in(2));
                e.crc = crc;
                entries.push(e);
            }
            4 if !entries.is_empty() => {
                let dup = entries[k].clone();
                entries.push(dup);
            }
            5 => {
                let n = 50 + rng.below(500);
                let tiny = npy_bytes(&NpyArray {
                    shape: vec![1],
                    data: vec![0.5],
                })
                .unwrap_or_default();
                entries.extend((0..n).map(|i| Entry::stored(&format!("a{i}.npy"), tiny.clone())));
            }
            6 => {
                for e in &mut entries {
                    e.zip64 = true;
                    if rng.one_in(3) {
                        e.size = *rng.pick(&INTERESTING);
                    }
                }
            }
            _ if !entries.is_empty() => {
                entries.remove(k);
            }
            _ => {}
        }
        let mut out = build(&entries);
        if rng.one_in(8) {
            // Point one central entry at another's data (overlapping entries).
            let central = find_sig(&out, 0x0201_4b50);
            if central.len() >= 2 {
                let from = u32::from_le_bytes(
                    out[central[0] + 42..central[0] + 46]
                        .try_into()
                        .unwrap_or([0; 4]),
                );
                put_le(&mut out, central[1] + 42, 4, u64::from(from));
            }
        }
        out
    }
}

impl Target for Npz {
    fn name(&self) -> &'static str {
        "npz"
    }

    fn file_name(&self) -> &'static str {
        "fuzz.npz"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let a = NpyArray {
            shape: vec![2, 3],
            data: vec![0.0, 1.0, 2.0, -1.0, 0.5, 9.0],
        };
        let b = NpyArray {
            shape: vec![2, 2],
            data: vec![1.0; 4],
        };
        let stored = npz_bytes(&[("observations", &a), ("actions", &b)]).expect("valid seed");
        let files = entries_of(&stored).expect("seed reads back");
        let deflated: Vec<Entry> = files.iter().map(|(n, d)| Entry::deflated(n, d)).collect();
        let mut zip64 = deflated.clone();
        zip64.iter_mut().for_each(|e| e.zip64 = true);
        let empty = npz_bytes(&[]).expect("valid seed");
        vec![stored, build(&deflated), build(&zip64), empty]
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>) {
        match rng.below(5) {
            0 => poke(rng, input, 0x0201_4b50, &CENTRAL_FIELDS),
            1 => poke(rng, input, 0x0403_4b50, &LOCAL_FIELDS),
            2 => poke(rng, input, 0x0605_4b50, &END_FIELDS),
            _ => match entries_of(input) {
                Some(files) => *input = self.rebuild(rng, files),
                None => poke(rng, input, 0x0201_4b50, &CENTRAL_FIELDS),
            },
        }
    }

    fn load(&self, bytes: &[u8], path: &Path) -> Result<(), String> {
        parse_npz(bytes, path).map(drop).map_err(|e| e.to_string())
    }

    fn bound(&self, len: usize) -> usize {
        2200 * len + 65536
    }
}
