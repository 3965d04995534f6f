//! `ami-io`: the file formats of `ami`, with no dependency on the rest of the workspace.
//!
//! * [`atomic`] — [`write_atomic`]: every output file is written to a temporary file beside
//!   it, synced, and renamed over it, so readers see the old or the complete new file.
//! * [`npy`] — numpy `.npy` arrays (`<f4`/`<f8` written; `<f4`, `<f8`, `<i4`, `<i8` read).
//! * [`npz`] — numpy `.npz` archives (stored entries written; stored and deflated read).
//! * [`mod@png`] — [`write_png`]: RGB8 images as PNG.
//! * [`raster`] — the one drawing [`Canvas`](raster::Canvas) (pixels, discs, rings, lines,
//!   borders, 5×7 text) and plot [`Panel`](raster::Panel)s on it, saved through [`write_png`].
//! * [`tfevents`] — TensorBoard event files (TFRecord framing, CRC-32C, hand-encoded
//!   `Event`/`Summary` protobufs of scalars) and their decoder.
//! * [`animation`] — [`write_gif`]: animated GIFs of RGB8 frames (exact palette).
//! * [`svg`] — minimal SVG line charts (panels of named series, linear or log y axis).
//! * [`scatter`] — a minimal SVG scatter chart (marker groups, a highlighted curve, log x).
//!
//! Errors are one enum, [`IoError`]; each message names the file and the array or field at
//! fault.

pub mod animation;
pub mod atomic;
pub mod error;
pub mod npy;
pub mod npz;
pub mod png;
pub mod raster;
pub mod scatter;
pub mod svg;
pub mod tfevents;

pub use crate::png::write_png;
pub use animation::{write_gif, Animation};
pub use atomic::write_atomic;
pub use error::IoError;
pub use npy::{read_npy, read_npy_f64, write_npy, write_npy_f64, NpyArray, NpyArrayF64};
pub use npz::{npz_bytes, parse_npz, read_npz, write_npz};
