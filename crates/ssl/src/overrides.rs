//! `--set KEY=VALUE` on any serde settings struct: the settings are turned into JSON, the
//! dotted key is looked up (it must name a leaf that exists), the value is parsed as the same
//! JSON type as the current one (whole number, number, boolean, string, or a comma list of
//! numbers), and the JSON is turned back into the struct (`deny_unknown_fields`). Every error
//! names the key.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::SslError;

/// `cfg` with every `KEY=VALUE` of `sets` applied in order (no range checks: the caller
/// validates).
pub fn apply_sets<T: Serialize + DeserializeOwned>(cfg: T, sets: &[String]) -> Result<T, SslError> {
    let mut v =
        serde_json::to_value(&cfg).map_err(|e| SslError::config("settings", "", e.to_string()))?;
    let keys = {
        let mut out = vec![];
        leaves(&v, "", &mut out);
        out
    };
    for s in sets {
        let (key, value) = s
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| SslError::config(s.as_str(), "", "KEY=VALUE"))?;
        let slot = key
            .split('.')
            .try_fold(&mut v, |node, part| node.get_mut(part))
            .filter(|slot| !slot.is_object())
            .ok_or_else(|| {
                SslError::config(key, value, format!("one of the keys {}", keys.join(", ")))
            })?;
        *slot = parse_like(slot, key, value)?;
    }
    serde_json::from_value(v).map_err(|e| SslError::config("--set", sets.join(" "), e.to_string()))
}

/// The dotted paths of the leaves of a JSON object.
pub fn leaves(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(v, &p, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

/// `value` parsed as the same JSON type as `like`.
fn parse_like(like: &Value, key: &str, value: &str) -> Result<Value, SslError> {
    let bad = |what: &str| SslError::config(key, value, what.to_string());
    let number = |s: &str| -> Result<Value, SslError> {
        let s = s.trim();
        if let Ok(u) = s.parse::<u64>() {
            return Ok(Value::from(u));
        }
        match s.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::from(f)),
            _ => Err(bad("a number, or a comma list of numbers")),
        }
    };
    match like {
        Value::Bool(_) => value
            .parse::<bool>()
            .map(Value::from)
            .map_err(|_| bad("true or false")),
        Value::Number(n) if n.is_u64() => value
            .trim()
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| bad("a whole number ≥ 0")),
        Value::Number(_) => number(value),
        Value::String(_) => Ok(Value::from(value)),
        Value::Array(_) => value
            .split(',')
            .map(number)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::from),
        _ => Err(bad("a value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::ExperimentConfig;

    #[test]
    fn sets_reach_nested_keys_and_errors_name_the_key() {
        let sets = [
            "train.steps=7",
            "encoder.channels=4,8",
            "augment.flip=false",
            "augment.kind=mild",
        ]
        .map(String::from);
        let c = apply_sets(ExperimentConfig::default(), &sets).unwrap();
        assert_eq!(c.train.steps, 7);
        assert_eq!(c.encoder.channels, vec![4, 8]);
        assert!(!c.augment.flip);
        for (s, needle) in [
            ("train.nope=1", "train.nope"),
            ("train=1", "`train`"),
            ("train.steps=1.5", "train.steps"),
            ("augment.kind=wild", "wild"),
            ("train.lr=x", "train.lr"),
        ] {
            let e = apply_sets(ExperimentConfig::default(), &[s.to_string()])
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{s}: {e}");
        }
    }
}
