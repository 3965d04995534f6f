//! The regression corpus: the nastiest inputs per target, built from the targets' seeds by
//! explicit edits, with the outcome each must have. `tests/corpus.rs` runs the committed files
//! (`corpus/<target>/`, listed in each folder's `EXPECT`); its ignored test `regenerate`
//! rewrites them from [`cases`].

use miniz_oxide::deflate::compress_to_vec;

mod text;

use crate::bytes::put_le;
use crate::targets::npy::edit_header;
use crate::targets::zip::{build, find_sig, Entry};
use crate::targets::{npz, zip};
use crate::{all_targets, Target};

/// One corpus file: its target, name, bytes and the outcome: `None` loads, `Some(needle)`
/// fails with a message containing `needle` (and the file's name).
pub struct Case {
    /// Target name.
    pub target: &'static str,
    /// File name inside `corpus/<target>/`.
    pub file: String,
    /// Contents.
    pub bytes: Vec<u8>,
    /// Expected error text, or `None` for a file that must load.
    pub needle: Option<&'static str>,
}

pub(crate) fn seed(target: &str, k: usize) -> Vec<u8> {
    let t: Box<dyn Target> = crate::target(target).expect("known target");
    t.seeds().swap_remove(k)
}

pub(crate) fn text_edit(b: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8_lossy(b);
    assert!(s.contains(from), "`{from}` not in the seed");
    s.replacen(from, to, 1).into_bytes()
}

/// A safetensors file with its header text edited and the length prefix fixed.
fn st_edit(b: &[u8], from: &str, to: &str) -> Vec<u8> {
    let n = u64::from_le_bytes(b[..8].try_into().expect("prefix")) as usize;
    let header = text_edit(&b[8..8 + n], from, to);
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(&b[8 + n..]);
    out
}

fn shape(h: &str, new: &str) -> String {
    let start = h.find("'shape': ").expect("shape") + 9;
    let end = start + h[start..].find(')').expect("tuple") + 1;
    format!("{}{new}{}", &h[..start], &h[end..])
}

fn npy_cases(out: &mut Vec<Case>) {
    let v = seed("npy", 2); // (2, 3) <f4
    let mut add = |file: &str, bytes: Vec<u8>, needle| {
        out.push(Case {
            target: "npy",
            file: file.into(),
            bytes,
            needle,
        });
    };
    add("valid.npy", v.clone(), None);
    add(
        "huge_shape.npy",
        edit_header(&v, |h| shape(h, "(18446744073709551615,)")).expect("v1"),
        Some("overflow"),
    );
    add(
        "shape_product_overflow.npy",
        edit_header(&v, |h| shape(h, "(4294967296, 4294967296)")).expect("v1"),
        Some("overflows"),
    );
    add(
        "shape_beyond_data.npy",
        edit_header(&v, |h| shape(h, "(1000000, 1000000)")).expect("v1"),
        Some("truncated data"),
    );
    add(
        "negative_shape.npy",
        edit_header(&v, |h| shape(h, "(-1,)")).expect("v1"),
        Some("bad shape"),
    );
    add(
        "wrong_dtype.npy",
        edit_header(&v, |h| h.replace("<f4", "<c8")).expect("v1"),
        Some("dtype '<c8'"),
    );
    add(
        "truncated.npy",
        v[..v.len() - 5].to_vec(),
        Some("truncated"),
    );
    let mut garbled = v.clone();
    garbled[20] = 0xff;
    add("garbled_header.npy", garbled, Some("non-text header"));
    let mut hlen = v.clone();
    put_le(&mut hlen, 8, 2, 0xffff);
    add(
        "header_length_past_end.npy",
        hlen,
        Some("truncated or non-text header"),
    );
    add(
        "fortran.npy",
        edit_header(&v, |h| h.replace("False", "True")).expect("v1"),
        Some("Fortran"),
    );
}

fn npz_cases(out: &mut Vec<Case>) {
    let v = seed("npz", 0);
    let files = npz::entries_of(&v).expect("seed");
    let stored: Vec<Entry> = files
        .iter()
        .map(|(n, d)| Entry::stored(n, d.clone()))
        .collect();
    let mut add = |file: &str, bytes: Vec<u8>, needle| {
        out.push(Case {
            target: "npz",
            file: file.into(),
            bytes,
            needle,
        });
    };
    add("valid.npz", v.clone(), None);
    add("valid_deflated.npz", seed("npz", 1), None);
    add("valid_zip64.npz", seed("npz", 2), None);
    let zeros = vec![0u8; 1 << 20];
    let mut bomb = Entry::deflated("bomb.npy", &[]);
    (bomb.payload, bomb.crc, bomb.size) = (
        compress_to_vec(&zeros, 10),
        crc32fast::hash(&zeros),
        1 << 40,
    );
    bomb.zip64 = true;
    add(
        "zip_bomb_declared_huge.npz",
        build(&[bomb.clone()]),
        Some("zip bomb"),
    );
    (bomb.size, bomb.zip64) = (1000, false);
    add(
        "zip_bomb_expands_past_declared.npz",
        build(&[bomb]),
        Some("expands past"),
    );
    let empty = ami_io::npz_bytes(&[]).expect("empty archive");
    add(
        "end_record_truncated.npz",
        empty[..12].to_vec(),
        Some("not a ZIP archive"),
    );
    let mut lying = stored[0].clone();
    lying.size += 1;
    add(
        "stored_size_lies.npz",
        build(&[lying]),
        Some("is impossible for"),
    );
    let mut cut = Entry::deflated(&files[0].0, &files[0].1);
    cut.payload.truncate(cut.payload.len() / 2);
    add("deflate_truncated.npz", build(&[cut]), Some("ends early"));
    let mut short = Entry::deflated(&files[0].0, &files[0].1);
    short.size += 10;
    add(
        "deflate_shorter_than_declared.npz",
        build(&[short]),
        Some("the directory says"),
    );
    let mut twice = stored.clone();
    twice.push(stored[0].clone());
    add("duplicate_name.npz", build(&twice), Some("appears twice"));
    let mut overlap = build(&stored);
    let central = find_sig(&overlap, 0x0201_4b50);
    put_le(&mut overlap, central[1] + 42, 4, 0);
    add("overlapping_entries.npz", overlap, Some("overlap"));
    add(
        "truncated.npz",
        v[..v.len() / 2].to_vec(),
        Some("truncated ZIP archive"),
    );
    let mut crc = v.clone();
    crc[60] ^= 1;
    add("crc_mismatch.npz", crc, Some("CRC mismatch"));
    let mut count = v.clone();
    let end = *find_sig(&count, 0x0605_4b50).last().expect("end record");
    put_le(&mut count, end + 10, 2, 0xffff);
    add(
        "absurd_entry_count.npz",
        count,
        Some("central directory entry 2 is damaged"),
    );
    let mut offset = v.clone();
    put_le(&mut offset, central[0] + 42, 4, u64::from(u32::MAX));
    add("offset_past_end.npz", offset, Some("bad local header"));
    let huge = edit_header(&files[1].1, |h| shape(h, "(18446744073709551615, 2)")).expect("v1");
    add(
        "inner_huge_shape.npz",
        zip::build(&[Entry::stored("observations.npy", huge)]),
        Some("array `observations`"),
    );
}

fn safetensors_cases(out: &mut Vec<Case>) {
    let v = seed("safetensors", 0);
    let mut add = |file: &str, bytes: Vec<u8>, needle| {
        out.push(Case {
            target: "safetensors",
            file: file.into(),
            bytes,
            needle,
        });
    };
    add("valid.safetensors", v.clone(), None);
    let mut len = v.clone();
    put_le(&mut len, 0, 8, u64::MAX);
    add(
        "header_length_wraps.safetensors",
        len,
        Some("header length"),
    );
    add(
        "offsets_past_end.safetensors",
        st_edit(&v, "[24,36]", "[24,99999999999]"),
        Some("data_offsets"),
    );
    add(
        "shape_overflow.safetensors",
        st_edit(&v, "[3,2]", "[4611686018427387904,4]"),
        Some("overflows"),
    );
    add(
        "shape_mismatch.safetensors",
        st_edit(&v, "[3,2]", "[3,3]"),
        Some("needs 36 bytes"),
    );
    add(
        "wrong_dtype.safetensors",
        st_edit(&v, "\"F32\"", "\"F64\""),
        Some("dtype \"F64\""),
    );
    add(
        "duplicate_name.safetensors",
        st_edit(
            &v,
            "{\"__metadata__\"",
            "{\"encoder.layers.0.bias\":{},\"__metadata__\"",
        ),
        Some("encoder.layers.0.bias"),
    );
    add(
        "overlapping.safetensors",
        st_edit(&v, "[24,36]", "[0,12]"),
        Some("overlap"),
    );
    let mut nan = v.clone();
    let at = nan.len() - 4;
    put_le(&mut nan, at, 4, u64::from(f32::NAN.to_bits()));
    add("nan_value.safetensors", nan, Some("non-finite"));
    add(
        "garbled_header.safetensors",
        st_edit(&v, "{\"__metadata__\"", "{\u{0}__metadata__\""),
        Some("header is not a JSON object"),
    );
}

/// Every corpus case.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    npy_cases(&mut out);
    npz_cases(&mut out);
    safetensors_cases(&mut out);
    text::json_cases(&mut out);
    text::toml_cases(&mut out);
    text::dataset_cases(&mut out);
    debug_assert!(out
        .iter()
        .all(|c| all_targets().iter().any(|t| t.name() == c.target)));
    out
}
