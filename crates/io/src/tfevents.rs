//! TensorBoard event files (`events.out.tfevents.*`): scalar summaries that `tensorboard`
//! reads, written without TensorFlow or a protobuf library.
//!
//! **Framing (TFRecord).** A file is a sequence of records, each
//! `len: u64 LE | masked_crc32c(len bytes): u32 LE | payload: len bytes |
//! masked_crc32c(payload): u32 LE`, where CRC-32C is the Castagnoli CRC (reflected polynomial
//! `0x82F63B78`, initial value and final xor `0xFFFFFFFF`; `crc32c("123456789") = 0xE3069283`)
//! and `masked(c) = ((c >> 15) | (c << 17)) + 0xA282EAD8` (wrapping, TensorFlow's
//! `crc32c::Mask`).
//!
//! **Payload.** Each payload is a protobuf `tensorflow.Event` encoded by hand with the fields
//! TensorBoard needs for scalars:
//!
//! ```text
//! Event   { double wall_time = 1; int64 step = 2;
//!           oneof what { string file_version = 3; Summary summary = 5; } }
//! Summary { repeated Value value = 1; }
//! Value   { string tag = 1; float simple_value = 2; }
//! ```
//!
//! Wire format: a field is a varint key `field << 3 | wire_type` followed by a varint (type
//! 0: `step`, as two's complement), 8 little-endian bytes (type 1: `wall_time`), a varint
//! length and that many bytes (type 2: strings and embedded messages) or 4 little-endian
//! bytes (type 5: `simple_value`). The first event of a file carries
//! `file_version = "brain.Event:2"`; every later one a `Summary`. The decoder
//! ([`decode_events`]) reads what the encoder writes and skips fields it does not know.

use std::path::Path;

use crate::error::IoError;

/// The `file_version` of the first event of a file (what TensorBoard expects).
pub const FILE_VERSION: &str = "brain.Event:2";

/// One scalar of a summary: a TensorBoard tag (e.g. `loss/total`) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// Tag; `/` groups tags into sections in TensorBoard.
    pub tag: String,
    /// Value (TensorBoard's `simple_value` is a 32-bit float).
    pub value: f32,
}

/// What an event carries.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// `file_version` (the first event of a file).
    FileVersion(String),
    /// A summary of scalars.
    Scalars(Vec<Scalar>),
}

/// One `tensorflow.Event`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub wall_time: f64,
    /// Training step.
    pub step: i64,
    /// File version or scalars.
    pub kind: EventKind,
}

/// CRC-32C (Castagnoli) of `bytes` (module docs).
pub fn crc32c(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = crc32c_table();
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// The byte-wise lookup table of the reflected polynomial `0x82F63B78`.
const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// TensorFlow's masked CRC: `((c >> 15) | (c << 17)) + 0xA282EAD8` with `c = crc32c(bytes)`.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    let c = crc32c(bytes);
    c.rotate_right(15).wrapping_add(0xA282_EAD8)
}

/// `payload` framed as one TFRecord (module docs).
pub fn record(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(payload.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc32c(payload).to_le_bytes());
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, field << 3 | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The protobuf encoding of `event` (module docs), without framing.
pub fn encode_event(event: &Event) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, 1 << 3 | 1);
    out.extend_from_slice(&event.wall_time.to_le_bytes());
    put_varint(&mut out, 2 << 3);
    put_varint(&mut out, event.step as u64);
    match &event.kind {
        EventKind::FileVersion(v) => put_bytes(&mut out, 3, v.as_bytes()),
        EventKind::Scalars(scalars) => {
            let mut summary = Vec::new();
            for s in scalars {
                let mut value = Vec::new();
                put_bytes(&mut value, 1, s.tag.as_bytes());
                put_varint(&mut value, 2 << 3 | 5);
                value.extend_from_slice(&s.value.to_le_bytes());
                put_bytes(&mut summary, 1, &value);
            }
            put_bytes(&mut out, 5, &summary);
        }
    }
    out
}

/// `event` encoded and framed: the bytes to append to an event file.
pub fn event_record(event: &Event) -> Vec<u8> {
    record(&encode_event(event))
}

/// Decodes a whole event file (`path` names it in errors). A record whose length or CRC does
/// not check, a truncated record, or a malformed payload is an error naming its byte offset.
pub fn decode_events(bytes: &[u8], path: &Path) -> Result<Vec<Event>, IoError> {
    let (events, end) = decode_prefix(bytes, path)?;
    if end != bytes.len() {
        return Err(IoError::bad(
            path,
            format!(
                "truncated or corrupt record at byte {end} of {}",
                bytes.len()
            ),
        ));
    }
    Ok(events)
}

/// The events of the longest prefix of `bytes` made of whole records with valid CRCs, and that
/// prefix's length (a file cut short by a killed writer decodes up to its last whole record).
/// A record whose CRCs check but whose payload is not an `Event` is an error.
pub fn decode_prefix(bytes: &[u8], path: &Path) -> Result<(Vec<Event>, usize), IoError> {
    let mut events = Vec::new();
    let mut at = 0usize;
    while let Some(payload) = next_record(&bytes[at..]) {
        let event = decode_event(payload)
            .map_err(|msg| IoError::bad(path, format!("record at byte {at}: {msg}")))?;
        events.push(event);
        at += payload.len() + 16;
    }
    Ok((events, at))
}

/// The payload of the record at the start of `bytes`, if it is whole and its CRCs check.
fn next_record(bytes: &[u8]) -> Option<&[u8]> {
    let len_bytes = bytes.get(..8)?;
    let crc = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?);
    if crc != masked_crc32c(len_bytes) {
        return None;
    }
    let len = usize::try_from(u64::from_le_bytes(len_bytes.try_into().ok()?)).ok()?;
    let end = 12usize.checked_add(len)?;
    let payload = bytes.get(12..end)?;
    let crc = u32::from_le_bytes(bytes.get(end..end.checked_add(4)?)?.try_into().ok()?);
    (crc == masked_crc32c(payload)).then_some(payload)
}

/// A protobuf field: number and value.
enum Field<'a> {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(&'a [u8]),
    Fixed32([u8; 4]),
}

/// Reads the fields of one protobuf message.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.at).ok_or("truncated varint")?;
            self.at += 1;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).ok_or("length overflows")?;
        let s = self.bytes.get(self.at..end).ok_or("truncated field")?;
        self.at = end;
        Ok(s)
    }

    fn next_field(&mut self) -> Result<Option<(u64, Field<'a>)>, String> {
        if self.at == self.bytes.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => Field::Fixed64(self.take(8)?.try_into().map_err(|_| "fixed64")?),
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| "length overflows")?;
                Field::Bytes(self.take(n)?)
            }
            5 => Field::Fixed32(self.take(4)?.try_into().map_err(|_| "fixed32")?),
            t => return Err(format!("unsupported wire type {t}")),
        };
        Ok(Some((key >> 3, field)))
    }
}

fn fields(bytes: &[u8]) -> Fields<'_> {
    Fields { bytes, at: 0 }
}

/// Decodes one `Event` payload (module docs; unknown fields are skipped).
fn decode_event(payload: &[u8]) -> Result<Event, String> {
    let (mut wall_time, mut step, mut kind) = (0.0, 0i64, None);
    let mut f = fields(payload);
    while let Some((number, field)) = f.next_field()? {
        match (number, field) {
            (1, Field::Fixed64(b)) => wall_time = f64::from_le_bytes(b),
            (2, Field::Varint(v)) => step = v as i64,
            (3, Field::Bytes(b)) => {
                let v = std::str::from_utf8(b).map_err(|_| "file_version is not UTF-8")?;
                kind = Some(EventKind::FileVersion(v.to_string()));
            }
            (5, Field::Bytes(b)) => kind = Some(EventKind::Scalars(decode_summary(b)?)),
            _ => {}
        }
    }
    let kind = kind.ok_or("an event with neither file_version nor summary")?;
    Ok(Event {
        wall_time,
        step,
        kind,
    })
}

fn decode_summary(bytes: &[u8]) -> Result<Vec<Scalar>, String> {
    let mut out = Vec::new();
    let mut f = fields(bytes);
    while let Some((number, field)) = f.next_field()? {
        if let (1, Field::Bytes(value)) = (number, field) {
            let (mut tag, mut v) = (None, None);
            let mut g = fields(value);
            while let Some((number, field)) = g.next_field()? {
                match (number, field) {
                    (1, Field::Bytes(b)) => {
                        let t = std::str::from_utf8(b).map_err(|_| "tag is not UTF-8")?;
                        tag = Some(t.to_string());
                    }
                    (2, Field::Fixed32(b)) => v = Some(f32::from_le_bytes(b)),
                    _ => {}
                }
            }
            match (tag, v) {
                (Some(tag), Some(value)) => out.push(Scalar { tag, value }),
                _ => return Err("a summary value without tag or simple_value".into()),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_published_check_values() {
        // The check value of CRC-32C (RFC 3720, B.4), and the iSCSI test vectors.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn a_scalar_event_encodes_to_the_hand_checked_bytes() {
        let e = Event {
            wall_time: 1.5,
            step: 3,
            kind: EventKind::Scalars(vec![Scalar {
                tag: "lr".into(),
                value: 0.5,
            }]),
        };
        // 09 <1.5 f64 LE> | 10 03 | 2a 0b { 0a 09 { 0a 02 "lr" | 15 <0.5 f32 LE> } }
        let mut want = vec![0x09];
        want.extend_from_slice(&1.5f64.to_le_bytes());
        want.extend_from_slice(&[0x10, 0x03, 0x2A, 0x0B, 0x0A, 0x09, 0x0A, 0x02, b'l', b'r']);
        want.extend_from_slice(&[0x15, 0x00, 0x00, 0x00, 0x3F]);
        assert_eq!(encode_event(&e), want);
        let framed = event_record(&e);
        assert_eq!(&framed[..8], &(want.len() as u64).to_le_bytes());
        let c = crc32c(&framed[..8]);
        // TensorFlow's formula as written, against the implementation's rotation.
        #[allow(clippy::manual_rotate)]
        let masked = ((c >> 15) | (c << 17)).wrapping_add(0xA282_EAD8);
        assert_eq!(&framed[8..12], &masked.to_le_bytes());
        assert_eq!(&framed[12..12 + want.len()], &want[..]);
        assert_eq!(framed.len(), want.len() + 16);
    }

    #[test]
    fn events_round_trip_and_a_cut_file_decodes_to_its_whole_records() {
        let events = vec![
            Event {
                wall_time: 1.7e9,
                step: 0,
                kind: EventKind::FileVersion(FILE_VERSION.into()),
            },
            Event {
                wall_time: 1.7e9 + 0.25,
                step: 0,
                kind: EventKind::Scalars(vec![
                    Scalar {
                        tag: "loss/total".into(),
                        value: 1.25,
                    },
                    Scalar {
                        tag: "collapse/mean_std".into(),
                        value: -3e-7,
                    },
                ]),
            },
            Event {
                wall_time: 1.7e9 + 1.0,
                step: 300_000_000_000,
                kind: EventKind::Scalars(Vec::new()),
            },
        ];
        let bytes: Vec<u8> = events.iter().flat_map(event_record).collect();
        let p = Path::new("e.tfevents");
        assert_eq!(decode_events(&bytes, p).unwrap(), events);
        let cut = &bytes[..bytes.len() - 3];
        let (prefix, end) = decode_prefix(cut, p).unwrap();
        assert_eq!(prefix, events[..2]);
        assert_eq!(end, bytes.len() - event_record(&events[2]).len());
        let err = decode_events(cut, p).unwrap_err().to_string();
        assert!(
            err.contains("e.tfevents") && err.contains("truncated"),
            "{err}"
        );
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert_eq!(decode_prefix(&flipped, p).unwrap().0, Vec::new());
    }

    #[test]
    fn a_record_with_valid_crcs_but_a_bad_payload_is_an_error() {
        let p = Path::new("e.tfevents");
        for payload in [
            &[0x0A, 0x05, b'x'][..],
            &[0x0F][..],
            &[0x10, 0x80][..],
            &[][..],
        ] {
            let err = decode_events(&record(payload), p).unwrap_err().to_string();
            assert!(err.contains("record at byte 0"), "{err}");
        }
    }
}
