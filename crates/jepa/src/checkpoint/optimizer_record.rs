//! `optimizer.bpk` in a canonical byte order.
//!
//! burn's optimiser record lists each parameter's state tensors (AdamW: `{id}.momentum.moment_1`,
//! `{id}.momentum.moment_2`, …) in the iteration order of a hash map, which changes from process
//! to process: two runs with the same seed, hence the same weights, moments and parameter
//! identifiers ([`crate::param_ids`]), would still write different files. The record is
//! therefore re-emitted with its tensors sorted by name (burnpack's reader returns them so), with
//! the same scalars and metadata; burn's loader finds tensors by name, so it reads the file as
//! before.

use burn::optim::ModuleOptimizer;
use burn_pack::{Reader, Writer};

/// The optimiser's state as burnpack bytes, tensors in name order.
pub(crate) fn optimizer_bytes(optimizer: &ModuleOptimizer) -> Result<Vec<u8>, String> {
    let raw = optimizer
        .to_record()
        .into_bytes()
        .map_err(|e| format!("optimizer state: {e:?}"))?;
    let reader = Reader::from_bytes(raw).map_err(|e| format!("optimizer state: {e:?}"))?;
    let scalars = reader.scalars().clone();
    let metadata = reader.metadata().clone();
    let tensors = reader
        .into_tensors()
        .map_err(|e| format!("optimizer state: {e:?}"))?;
    let mut writer = Writer::new(tensors);
    for (key, value) in &scalars {
        writer = writer.with_scalar(key, *value);
    }
    for (key, value) in &metadata {
        writer = writer.with_metadata(key, value);
    }
    let bytes = writer
        .into_bytes()
        .map_err(|e| format!("optimizer state: {e:?}"))?;
    Ok(bytes.to_vec())
}
