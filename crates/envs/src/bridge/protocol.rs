//! The bridge's framing: one message is
//!
//! ```text
//! u32 header_len | header (UTF-8 JSON object) | u32 payload_len | payload
//! ```
//!
//! (integers little-endian). `header["arrays"]` lists the arrays packed back to back in the
//! payload as `[name, dtype, shape]`, dtype `"f32"` or `"f64"`, values raw little-endian and
//! row-major. The same framing runs both ways; the Python side is
//! `crates/envs/python/ami_env_server.py`.

use std::io::{Read, Write};

use serde_json::{json, Map, Value};

/// Largest header or payload accepted (bytes): a reply bigger than this is malformed, not an
/// allocation to attempt.
pub const MAX_PART_BYTES: usize = 1 << 30;

/// One array of a message, its values widened to f64 (f32 values are exact in f64).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Name (`obs`, `state`, `action`).
    pub name: String,
    /// Whether it travels as f32 (`true`) or f64.
    pub f32: bool,
    /// Shape (row-major).
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f64>,
}

impl Array {
    /// A 1-D f64 array.
    pub fn f64(name: &str, data: Vec<f64>) -> Self {
        Array {
            name: name.into(),
            f32: false,
            shape: vec![data.len()],
            data,
        }
    }

    /// A 1-D f32 array (values rounded to f32 on the wire).
    pub fn f32(name: &str, data: Vec<f64>) -> Self {
        Array {
            f32: true,
            ..Array::f64(name, data)
        }
    }
}

/// A decoded message: the JSON header (without `arrays`) and its arrays in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The header's other fields (`op`, `ok`, `error`, …).
    pub header: Map<String, Value>,
    /// The payload's arrays.
    pub arrays: Vec<Array>,
}

impl Message {
    /// A message with `header` (a JSON object; anything else becomes an empty header) and no
    /// arrays.
    pub fn new(header: Value) -> Self {
        Message {
            header: match header {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            arrays: Vec::new(),
        }
    }

    /// Adds an array.
    pub fn with(mut self, a: Array) -> Self {
        self.arrays.push(a);
        self
    }

    /// The array called `name`.
    pub fn array(&self, name: &str) -> Option<&Array> {
        self.arrays.iter().find(|a| a.name == name)
    }

    /// The framed bytes of this message.
    pub fn encode(&self) -> Vec<u8> {
        let mut header = self.header.clone();
        let specs: Vec<Value> = self
            .arrays
            .iter()
            .map(|a| json!([a.name, if a.f32 { "f32" } else { "f64" }, a.shape]))
            .collect();
        header.insert("arrays".into(), Value::Array(specs));
        let head = Value::Object(header).to_string().into_bytes();
        let mut payload = Vec::new();
        for a in &self.arrays {
            for &v in &a.data {
                if a.f32 {
                    payload.extend_from_slice(&(v as f32).to_le_bytes());
                } else {
                    payload.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        let mut out = Vec::with_capacity(8 + head.len() + payload.len());
        out.extend_from_slice(&(head.len() as u32).to_le_bytes());
        out.extend_from_slice(&head);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Writes the framed message and flushes.
    pub fn write_to(&self, w: &mut dyn Write) -> std::io::Result<()> {
        w.write_all(&self.encode())?;
        w.flush()
    }

    /// Reads one message. `Ok(None)` at a clean end of stream (before the first byte);
    /// `Err` names what is malformed.
    pub fn read_from(r: &mut dyn Read) -> Result<Option<Message>, String> {
        let mut len = [0u8; 4];
        match read_full(r, &mut len)? {
            0 => return Ok(None),
            4 => {}
            n => {
                return Err(format!(
                    "stream ended inside a header length ({n} of 4 bytes)"
                ))
            }
        }
        let head = read_part(r, u32::from_le_bytes(len) as usize, "header")?;
        if read_full(r, &mut len)? != 4 {
            return Err("stream ended before the payload length".into());
        }
        let payload = read_part(r, u32::from_le_bytes(len) as usize, "payload")?;
        let header: Value = serde_json::from_slice(&head)
            .map_err(|e| format!("header is not JSON ({e}): {}", preview(&head)))?;
        let Value::Object(mut header) = header else {
            return Err(format!("header is not a JSON object: {}", preview(&head)));
        };
        let specs = header.remove("arrays").unwrap_or(Value::Array(Vec::new()));
        let arrays = decode_arrays(&specs, &payload)?;
        Ok(Some(Message { header, arrays }))
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> Result<usize, String> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read failed: {e}")),
        }
    }
    Ok(n)
}

fn read_part(r: &mut dyn Read, len: usize, what: &str) -> Result<Vec<u8>, String> {
    if len > MAX_PART_BYTES {
        return Err(format!(
            "{what} length {len} exceeds {MAX_PART_BYTES} bytes"
        ));
    }
    let mut buf = vec![0u8; len];
    let got = read_full(r, &mut buf)?;
    if got != len {
        return Err(format!(
            "stream ended inside the {what} ({got} of {len} bytes)"
        ));
    }
    Ok(buf)
}

/// The first bytes of `b`, for error messages.
fn preview(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(120)]).into_owned()
}

/// Splits `payload` by the `[name, dtype, shape]` list `specs`.
fn decode_arrays(specs: &Value, payload: &[u8]) -> Result<Vec<Array>, String> {
    let Value::Array(specs) = specs else {
        return Err(format!("`arrays` is not a list: {specs}"));
    };
    let mut out = Vec::with_capacity(specs.len());
    let mut offset = 0usize;
    for spec in specs {
        let bad = || format!("array spec {spec} is not [name, \"f32\"|\"f64\", [dims]]");
        let (Some(name), Some(dtype), Some(dims)) = (
            spec.get(0).and_then(Value::as_str),
            spec.get(1).and_then(Value::as_str),
            spec.get(2).and_then(Value::as_array),
        ) else {
            return Err(bad());
        };
        let shape: Vec<usize> = dims
            .iter()
            .map(|d| d.as_u64().map(|d| d as usize))
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        let width = match dtype {
            "f32" => 4,
            "f64" => 8,
            _ => return Err(bad()),
        };
        let bytes = shape
            .iter()
            .try_fold(width, |acc: usize, &d| acc.checked_mul(d))
            .filter(|&b| b <= payload.len() - offset)
            .ok_or_else(|| {
                format!(
                    "array `{name}` {shape:?} needs more than the {} payload bytes left",
                    payload.len() - offset
                )
            })?;
        let chunk = &payload[offset..offset + bytes];
        let data = if width == 4 {
            chunk
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        } else {
            chunk
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk")))
                .collect()
        };
        offset += bytes;
        out.push(Array {
            name: name.into(),
            f32: width == 4,
            shape,
            data,
        });
    }
    if offset != payload.len() {
        return Err(format!(
            "payload has {} bytes, the arrays use {offset}",
            payload.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_header_and_values() {
        let msg = Message::new(json!({"op": "step", "seed": 3}))
            .with(Array::f64("action", vec![0.1, -2.5]))
            .with(Array::f32("obs", vec![1.5, f64::from(0.1f32)]));
        let bytes = msg.encode();
        let back = Message::read_from(&mut bytes.as_slice()).unwrap().unwrap();
        assert_eq!(back, msg);
        assert_eq!(back.header["op"], "step");
        // 4 + header + 4 + 2·8 + 2·4 bytes.
        let head_len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(bytes.len(), 8 + head_len + 24);
        // Values are raw little-endian: the first action value starts the payload.
        let p = 8 + head_len;
        assert_eq!(bytes[p..p + 8], 0.1f64.to_le_bytes());
    }

    #[test]
    fn end_of_stream_and_malformed_messages() {
        assert_eq!(Message::read_from(&mut [].as_slice()).unwrap(), None);
        let err = Message::read_from(&mut [1u8, 0].as_slice()).unwrap_err();
        assert!(err.contains("header length"), "{err}");
        // Not JSON.
        let mut b = 3u32.to_le_bytes().to_vec();
        b.extend(b"abc");
        b.extend(0u32.to_le_bytes());
        let err = Message::read_from(&mut b.as_slice()).unwrap_err();
        assert!(err.contains("not JSON") && err.contains("abc"), "{err}");
        // An array longer than the payload.
        let head = br#"{"arrays":[["obs","f32",[4]]]}"#;
        let mut b = (head.len() as u32).to_le_bytes().to_vec();
        b.extend(head);
        b.extend(8u32.to_le_bytes());
        b.extend([0u8; 8]);
        let err = Message::read_from(&mut b.as_slice()).unwrap_err();
        assert!(err.contains("`obs`"), "{err}");
        // A truncated payload.
        let mut b = (2u32).to_le_bytes().to_vec();
        b.extend(b"{}");
        b.extend(16u32.to_le_bytes());
        b.extend([0u8; 3]);
        let err = Message::read_from(&mut b.as_slice()).unwrap_err();
        assert!(err.contains("3 of 16"), "{err}");
        // A huge length is refused before allocating.
        let b = u32::MAX.to_le_bytes();
        let err = Message::read_from(&mut b.as_slice()).unwrap_err();
        assert!(err.contains("exceeds"), "{err}");
    }
}
