//! Refusing a dataset that does not fit in memory, before reading it.
//!
//! [`crate::Dataset::load`] reads the whole `.npz` and decodes every array into memory
//! (training shares the decoded observations; it copies only actions and readouts), and
//! generation holds the arrays and then encodes them once more, so a dataset of `A` bytes of
//! float32 arrays stored in a file of `F` bytes (`F = 0` when generating) is given
//!
//! ```text
//! need = F + 2·A,   A = 4·(N·(T+1)·∏obs_shape + N·T·action_dim + N·(T+1)·state_dim)
//! ```
//!
//! (for a load, the second `A` is headroom for what training allocates beside the data).
//!
//! with `N`, `T` and the shapes taken from the JSON sidecar. When `need` exceeds the memory the
//! operating system reports as available (`MemAvailable` in `/proc/meminfo`; elsewhere the check
//! is skipped), the load is refused with a message that says how large the dataset is — before
//! anything large is allocated.

use std::path::Path;

use crate::error::EnvError;

/// Bytes one dataset load needs (see the module docs), saturating at `u64::MAX`.
///
/// `counts` are the element counts of the arrays (observations, actions, states).
pub fn bytes_needed(file_len: u64, counts: &[u64]) -> u64 {
    let elements = counts.iter().fold(0u64, |acc, &c| acc.saturating_add(c));
    file_len.saturating_add(elements.saturating_mul(8))
}

/// Element counts of the arrays of `n` trajectories of `t` steps with per-step sizes
/// `[obs, action, state]`: observations `n·(t+1)·obs`, actions `n·t·action`, states
/// `n·(t+1)·state`, each saturating at `u64::MAX`.
pub fn array_elements(n: u64, t: u64, [obs, action, state]: [u64; 3]) -> [u64; 3] {
    let steps = n.saturating_mul(t.saturating_add(1));
    [
        steps.saturating_mul(obs),
        n.saturating_mul(t).saturating_mul(action),
        steps.saturating_mul(state),
    ]
}

/// `MemAvailable` of `/proc/meminfo` in bytes; `None` where the system does not report it.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    mem_available(&text)
}

/// Parses the `MemAvailable:  N kB` line of a `/proc/meminfo` text.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line.split_whitespace().skip(1);
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => n.checked_mul(1024),
        _ => None,
    }
}

/// Fails naming `path`, the size it needs and the memory available when `need > available`.
pub fn check_fits(path: &Path, need: u64, available: Option<u64>) -> Result<(), EnvError> {
    match available {
        Some(avail) if need > avail => Err(EnvError::bad(
            path,
            format!(
                "the dataset does not fit in memory: loading it needs about {} (the file plus \
                 its float32 arrays twice: decoded, and copied into training windows), but only \
                 {} is available; generate fewer transitions (`ami data … --transitions N`) or \
                 use a machine with more memory",
                human(need),
                human(avail)
            ),
        )),
        _ => Ok(()),
    }
}

/// `bytes` as GiB/MiB/KiB with two decimals (or plain bytes).
pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            return format!("{:.2} {unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_elements_count_every_step_and_saturate() {
        assert_eq!(
            array_elements(2, 3, [5, 7, 11]),
            [2 * 4 * 5, 2 * 3 * 7, 2 * 4 * 11]
        );
        assert_eq!(
            array_elements(u64::MAX, 1, [1, 0, 2]),
            [u64::MAX, 0, u64::MAX]
        );
    }

    #[test]
    fn the_need_is_the_file_plus_twice_the_float32_arrays() {
        assert_eq!(bytes_needed(100, &[10, 20, 30]), 100 + 2 * 4 * 60);
        assert_eq!(bytes_needed(1, &[u64::MAX, 1]), u64::MAX);
    }

    #[test]
    fn mem_available_is_read_in_kilobytes() {
        let text = "MemTotal:       24000000 kB\nMemFree:  1 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(mem_available(text), Some(2048 * 1024));
        assert_eq!(mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(mem_available("MemAvailable: x kB\n"), None);
        assert_eq!(mem_available("MemAvailable: 5 MB\n"), None);
        // This machine reports it (the CI and development machines are Linux).
        if cfg!(target_os = "linux") {
            assert!(available_memory().is_some_and(|b| b > 0));
        }
    }

    #[test]
    fn a_dataset_larger_than_the_memory_is_refused_with_both_sizes() {
        let p = Path::new("big.npz");
        assert!(check_fits(p, 10, Some(10)).is_ok());
        assert!(check_fits(p, u64::MAX, None).is_ok());
        let msg = check_fits(p, 3 << 30, Some(1 << 30))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("big.npz: the dataset does not fit"),
            "{msg}"
        );
        assert!(
            msg.contains("3.00 GiB") && msg.contains("1.00 GiB"),
            "{msg}"
        );
        assert_eq!(human(1536), "1.50 KiB");
        assert_eq!(human(12), "12 bytes");
    }
}
