//! Structure-aware edits of JSON and TOML documents: change a value's type, set numbers to
//! huge, negative, zero or non-finite values, drop or duplicate keys, nest deeply.

use serde_json::Value as Json;
use toml::Value as Toml;

use crate::rng::Rng;

/// Numbers that break counts, sizes and ranges.
const NUMBERS: [f64; 10] = [
    0.0,
    -1.0,
    1.0,
    1e308,
    -1e308,
    1e-320,
    4294967296.0,
    1.8446744073709552e19,
    2.5,
    1e9,
];

/// A JSON or TOML value as a tree whose children are keyed by object/table key or array index.
trait Tree: Sized {
    /// The keyed children of a map or an array; none for a scalar.
    fn children(&self) -> Vec<(String, &Self)>;
    /// The child at `key` of a map or an array.
    fn child_mut(&mut self, key: &str) -> Option<&mut Self>;
    /// Removes the child at `key` of a map or an array (`None` for an index that is not one).
    fn remove_child(&mut self, key: &str) -> Option<()>;
    /// Adds `value()` under `key` when this is a map (`value` is not called otherwise, so the
    /// random stream only advances for an edit that happens).
    fn insert_if_map(&mut self, key: &str, value: impl FnOnce() -> Self);
}

impl Tree for Json {
    fn children(&self) -> Vec<(String, &Self)> {
        match self {
            Json::Object(m) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
            Json::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn child_mut(&mut self, key: &str) -> Option<&mut Self> {
        match self {
            Json::Object(m) => m.get_mut(key),
            Json::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
    }

    fn remove_child(&mut self, key: &str) -> Option<()> {
        match self {
            Json::Object(m) => {
                m.remove(key);
            }
            Json::Array(a) => {
                a.remove(key.parse::<usize>().ok()?);
            }
            _ => {}
        }
        Some(())
    }

    fn insert_if_map(&mut self, key: &str, value: impl FnOnce() -> Self) {
        if let Json::Object(m) = self {
            m.insert(key.into(), value());
        }
    }
}

impl Tree for Toml {
    fn children(&self) -> Vec<(String, &Self)> {
        match self {
            Toml::Table(m) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
            Toml::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn child_mut(&mut self, key: &str) -> Option<&mut Self> {
        match self {
            Toml::Table(m) => m.get_mut(key),
            Toml::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
    }

    fn remove_child(&mut self, key: &str) -> Option<()> {
        match self {
            Toml::Table(m) => {
                m.remove(key);
            }
            Toml::Array(a) => {
                a.remove(key.parse::<usize>().ok()?);
            }
            _ => {}
        }
        Some(())
    }

    fn insert_if_map(&mut self, key: &str, value: impl FnOnce() -> Self) {
        if let Toml::Table(m) = self {
            m.insert(key.into(), value());
        }
    }
}

/// Every value's path (keys and array indices), the root first, depth first.
fn paths<T: Tree>(v: &T, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    for (k, kid) in v.children() {
        at.push(k);
        paths(kid, at, out);
        at.pop();
    }
}

/// The value at `path`.
fn value_at<'a, T: Tree>(v: &'a mut T, path: &[String]) -> Option<&'a mut T> {
    path.iter().try_fold(v, |v, k| v.child_mut(k))
}

/// A uniformly chosen path of `doc`.
fn random_path<T: Tree>(rng: &mut Rng, doc: &T) -> Vec<String> {
    let mut all = Vec::new();
    paths(doc, &mut Vec::new(), &mut all);
    rng.pick(&all).clone()
}

/// Removes the value at the non-empty `path`.
fn remove_at<T: Tree>(doc: &mut T, path: &[String]) -> Option<()> {
    let (last, parent) = path.split_last()?;
    value_at(doc, parent)?.remove_child(last)
}

/// A replacement value: another type, an extreme number, or a nested structure.
fn json_value(rng: &mut Rng) -> Json {
    match rng.below(9) {
        0 => Json::Null,
        1 => Json::Bool(rng.one_in(2)),
        2 => Json::from(*rng.pick(&NUMBERS)),
        3 => Json::from(*rng.pick(&[u64::MAX, i64::MAX as u64, 1 << 40, 0, 1])),
        4 => Json::from(-(rng.below(1 << 20) as i64) - 1),
        5 => Json::String(
            rng.pick(&["", "F64", "<f8", "maze", "x", "\u{0}"])
                .to_string(),
        ),
        6 => Json::Array(
            (0..rng.below(6))
                .map(|_| Json::from(rng.below(1 << 24)))
                .collect(),
        ),
        7 => Json::Object(Default::default()),
        _ => (0..rng.below(200)).fold(Json::from(1), |v, _| Json::Array(vec![v])),
    }
}

/// One structural edit of a JSON document, serialised; `None` when `text` is not JSON.
pub fn mutate_json(rng: &mut Rng, text: &[u8]) -> Option<Vec<u8>> {
    let mut doc: Json = serde_json::from_slice(text).ok()?;
    let path = random_path(rng, &doc);
    match rng.below(6) {
        0 if !path.is_empty() => remove_at(&mut doc, &path)?,
        1 => value_at(&mut doc, &path)?.insert_if_map("unknown_key", || json_value(rng)),
        2 => {
            // Duplicate a key textually (serde_json's map cannot hold one twice).
            let key = path.last()?.clone();
            let mut out = serde_json::to_vec(&doc).ok()?;
            let value = serde_json::to_string(value_at(&mut doc, &path)?).ok()?;
            let pair = format!("{}:{value},", Json::String(key));
            let at = out.iter().position(|&c| c == b'{')? + 1;
            out.splice(at..at, pair.into_bytes());
            return Some(out);
        }
        3 => {
            // A number the JSON grammar lacks but careless writers emit.
            let token = rng
                .pick(&["NaN", "Infinity", "-Infinity", "1e999", "-0"])
                .to_string();
            *value_at(&mut doc, &path)? = Json::String(MARK.into());
            let out = serde_json::to_string(&doc).ok()?;
            return Some(out.replacen(&format!("\"{MARK}\""), &token, 1).into_bytes());
        }
        _ => *value_at(&mut doc, &path)? = json_value(rng),
    }
    serde_json::to_vec_pretty(&doc).ok()
}

const MARK: &str = "\u{1}fuzz-mark\u{1}";

fn toml_value(rng: &mut Rng) -> Toml {
    match rng.below(9) {
        0 => Toml::Boolean(rng.one_in(2)),
        1 => Toml::Float(*rng.pick(&[f64::NAN, f64::INFINITY, -f64::INFINITY, 1e308, -1.0, 0.0])),
        2 => Toml::Integer(*rng.pick(&[i64::MAX, i64::MIN, -1, 0, 1, 1 << 40, 1 << 32])),
        3 => Toml::Integer(rng.below(1 << 20) as i64),
        4 => Toml::String(
            rng.pick(&["", "maze", "mppi", "cem", "beam", "x"])
                .to_string(),
        ),
        5 => Toml::Array(
            (0..rng.below(6))
                .map(|_| Toml::Integer(rng.below(99) as i64))
                .collect(),
        ),
        6 => Toml::Table(Default::default()),
        _ => (0..rng.below(120)).fold(Toml::Integer(1), |v, _| Toml::Array(vec![v])),
    }
}

/// One structural edit of a TOML document, serialised; `None` when `text` is not TOML or the
/// edited tree cannot be written as TOML.
pub fn mutate_toml(rng: &mut Rng, text: &[u8]) -> Option<Vec<u8>> {
    let mut doc: Toml = toml::from_str(std::str::from_utf8(text).ok()?).ok()?;
    let path = random_path(rng, &doc);
    match rng.below(5) {
        0 if !path.is_empty() => remove_at(&mut doc, &path)?,
        1 => value_at(&mut doc, &path)?.insert_if_map("unknown_key", || toml_value(rng)),
        2 => {
            // Duplicate a line (a repeated key or table header is an error in TOML).
            let text = std::str::from_utf8(text).ok()?;
            let lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                return None;
            }
            let i = rng.below(lines.len());
            let mut out = lines[..=i].join("\n");
            out.push('\n');
            out.push_str(&lines[i..].join("\n"));
            return Some(out.into_bytes());
        }
        _ => *value_at(&mut doc, &path)? = toml_value(rng),
    }
    toml::to_string(&doc).ok().map(String::into_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_edits_are_mostly_valid_json_that_differs() {
        let seed = br#"{"a": 1, "b": {"c": [1, 2], "d": "x"}}"#;
        let mut rng = Rng::new(3);
        let (mut parsed, mut changed) = (0, 0);
        for _ in 0..500 {
            let out = mutate_json(&mut rng, seed).unwrap_or_default();
            parsed += usize::from(serde_json::from_slice::<Json>(&out).is_ok());
            let same = serde_json::from_slice::<Json>(&out).ok()
                == serde_json::from_slice::<Json>(seed).ok();
            changed += usize::from(!same);
        }
        assert!(
            parsed > 250 && changed > 400,
            "{parsed} parsed, {changed} changed"
        );
    }

    #[test]
    fn toml_edits_change_the_document() {
        let seed = b"[env]\nkind = \"maze\"\nsize = 3\n[planner]\nkind = \"mppi\"\n";
        let mut rng = Rng::new(4);
        let changed = (0..300)
            .filter(|_| mutate_toml(&mut rng, seed).is_some_and(|o| o != seed))
            .count();
        assert!(changed > 200, "{changed}");
    }
}
