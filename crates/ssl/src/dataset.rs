//! Image and video sets on disk (the layout `ami data shapes|moving-shapes` writes and
//! `scripts/export_digits.py` exports), validated on load.
//!
//! `FILE.npz` holds `images [N, C, H, W]` (or `videos [N, T, C, H, W]`) with values in
//! [0, 1], `labels [N]` (whole numbers ≥ 0, any numeric dtype) and optionally `factors`
//! (`[N, F]`, or `[N, T, F]` for videos). An optional sidecar `FILE.json` names the factors
//! (`"factors": [...]`) and classes (`"classes": [...]`). Every error names the file and the
//! array or field.

use std::collections::BTreeMap;
use std::path::Path;

use ami_io::{read_npz, NpyArray};

use crate::error::SslError;

/// Largest number of classes accepted.
pub const MAX_CLASSES: usize = 1000;

/// A labelled image set.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// Shape of one image `[C, H, W]`.
    pub shape: [usize; 3],
    /// Pixels `[N, C, H, W]`, C order.
    pub pixels: Vec<f32>,
    /// Class of each image.
    pub labels: Vec<usize>,
    /// Number of classes (`max label + 1`, or the sidecar's count).
    pub classes: usize,
    /// Continuous factors `[N, F]` (empty with `F = 0` when the file has none).
    pub factors: Vec<f32>,
    /// Names of the `F` factors.
    pub factor_names: Vec<String>,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set is empty (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image `C·H·W`.
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        let l = self.image_len();
        &self.pixels[i * l..(i + 1) * l]
    }

    /// The factors of image `i` (`F` values).
    pub fn factor_row(&self, i: usize) -> &[f32] {
        let f = self.factor_names.len();
        &self.factors[i * f..(i + 1) * f]
    }

    /// Loads and validates an image set (see module docs).
    pub fn load(path: &Path) -> Result<ImageSet, SslError> {
        let mut arrays = read_npz(path)?;
        if !arrays.contains_key("images") && arrays.contains_key("videos") {
            return Err(SslError::bad(
                path,
                "images",
                "missing: this is a video set (`videos`); use a video command",
            ));
        }
        let images = take(&mut arrays, path, "images")?;
        let [n, c, h, w] = dims::<4>(&images, path, "images", "[N, C, H, W]")?;
        check_image_dims(path, "images", c, h, w)?;
        check_pixels(&images.data, path, "images")?;
        let side = Sidecar::read(path)?;
        let (labels, classes) = read_labels(&mut arrays, path, n, &side)?;
        let (factors, factor_names) = read_factors(&mut arrays, path, &[n], &side)?;
        Ok(ImageSet {
            shape: [c, h, w],
            pixels: images.data,
            labels,
            classes,
            factors,
            factor_names,
        })
    }
}

/// A labelled video set.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoSet {
    /// Frames per video.
    pub frames: usize,
    /// Shape of one frame `[C, H, W]`.
    pub shape: [usize; 3],
    /// Pixels `[N, T, C, H, W]`, C order.
    pub pixels: Vec<f32>,
    /// Class of each video.
    pub labels: Vec<usize>,
    /// Number of classes.
    pub classes: usize,
    /// Per-frame factors `[N, T, F]`.
    pub factors: Vec<f32>,
    /// Names of the `F` factors.
    pub factor_names: Vec<String>,
}

impl VideoSet {
    /// Number of videos.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set is empty (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of frame `t` of video `i`.
    pub fn frame(&self, i: usize, t: usize) -> &[f32] {
        let l: usize = self.shape.iter().product();
        let k = i * self.frames + t;
        &self.pixels[k * l..(k + 1) * l]
    }

    /// The factors of frame `t` of video `i`.
    pub fn factor_row(&self, i: usize, t: usize) -> &[f32] {
        let f = self.factor_names.len();
        let k = i * self.frames + t;
        &self.factors[k * f..(k + 1) * f]
    }

    /// Loads and validates a video set (see module docs).
    pub fn load(path: &Path) -> Result<VideoSet, SslError> {
        let mut arrays = read_npz(path)?;
        let videos = take(&mut arrays, path, "videos")?;
        let [n, t, c, h, w] = dims::<5>(&videos, path, "videos", "[N, T, C, H, W]")?;
        check_image_dims(path, "videos", c, h, w)?;
        if t < 2 {
            return Err(SslError::bad(
                path,
                "videos",
                format!("{t} frames; expected ≥ 2"),
            ));
        }
        check_pixels(&videos.data, path, "videos")?;
        let side = Sidecar::read(path)?;
        let (labels, classes) = read_labels(&mut arrays, path, n, &side)?;
        let (factors, factor_names) = read_factors(&mut arrays, path, &[n, t], &side)?;
        Ok(VideoSet {
            frames: t,
            shape: [c, h, w],
            pixels: videos.data,
            labels,
            classes,
            factors,
            factor_names,
        })
    }
}

/// The optional sidecar's names.
#[derive(Default)]
struct Sidecar {
    factors: Option<Vec<String>>,
    classes: Option<Vec<String>>,
}

impl Sidecar {
    fn read(path: &Path) -> Result<Sidecar, SslError> {
        let side = path.with_extension("json");
        let Ok(text) = std::fs::read_to_string(&side) else {
            return Ok(Sidecar::default());
        };
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| SslError::bad(&side, "json", e.to_string()))?;
        let names = |key: &str| -> Result<Option<Vec<String>>, SslError> {
            match v.get(key) {
                None => Ok(None),
                Some(a) => a
                    .as_array()
                    .and_then(|a| a.iter().map(|s| s.as_str().map(String::from)).collect())
                    .map(Some)
                    .ok_or_else(|| SslError::bad(&side, key, "expected an array of strings")),
            }
        };
        Ok(Sidecar {
            factors: names("factors")?,
            classes: names("classes")?,
        })
    }
}

fn take(a: &mut BTreeMap<String, NpyArray>, path: &Path, key: &str) -> Result<NpyArray, SslError> {
    a.remove(key).ok_or_else(|| {
        let have: Vec<&str> = a.keys().map(String::as_str).collect();
        SslError::bad(
            path,
            key,
            format!("missing (arrays present: {})", have.join(", ")),
        )
    })
}

fn dims<const D: usize>(
    a: &NpyArray,
    path: &Path,
    key: &str,
    form: &str,
) -> Result<[usize; D], SslError> {
    let bad = || SslError::bad(path, key, format!("shape {:?}; expected {form}", a.shape));
    let d: [usize; D] = a.shape.clone().try_into().map_err(|_| bad())?;
    if d.contains(&0) {
        return Err(bad());
    }
    Ok(d)
}

fn check_image_dims(path: &Path, key: &str, c: usize, h: usize, w: usize) -> Result<(), SslError> {
    if !(c == 1 || c == 3) || h < 4 || w < 4 {
        return Err(SslError::bad(
            path,
            key,
            format!(
                "images of {c} channels × {h} × {w}; expected 1 or 3 channels of at least 4 × 4"
            ),
        ));
    }
    Ok(())
}

fn check_pixels(data: &[f32], path: &Path, key: &str) -> Result<(), SslError> {
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(SslError::bad(
            path,
            key,
            format!("non-finite value {} at flat index {i}", data[i]),
        ));
    }
    if let Some(i) = data.iter().position(|v| !(-1e-3..=1.0 + 1e-3).contains(v)) {
        return Err(SslError::bad(
            path,
            key,
            format!(
                "value {} at flat index {i}; expected pixels in [0, 1]",
                data[i]
            ),
        ));
    }
    Ok(())
}

fn read_labels(
    a: &mut BTreeMap<String, NpyArray>,
    path: &Path,
    n: usize,
    side: &Sidecar,
) -> Result<(Vec<usize>, usize), SslError> {
    let l = take(a, path, "labels")?;
    if l.shape != [n] {
        return Err(SslError::bad(
            path,
            "labels",
            format!("shape {:?}; expected [{n}]", l.shape),
        ));
    }
    let mut labels = Vec::with_capacity(n);
    for (i, &v) in l.data.iter().enumerate() {
        if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && (v as usize) < MAX_CLASSES) {
            return Err(SslError::bad(
                path,
                "labels",
                format!("value {v} at index {i}; expected a whole number in [0, {MAX_CLASSES})"),
            ));
        }
        labels.push(v as usize);
    }
    let seen = labels.iter().max().map_or(0, |m| m + 1);
    let classes = side.classes.as_ref().map_or(seen, |c| c.len().max(seen));
    Ok((labels, classes))
}

fn read_factors(
    a: &mut BTreeMap<String, NpyArray>,
    path: &Path,
    lead: &[usize],
    side: &Sidecar,
) -> Result<(Vec<f32>, Vec<String>), SslError> {
    let Some(f) = a.remove("factors") else {
        return Ok((vec![], vec![]));
    };
    let ok = f.shape.len() == lead.len() + 1 && f.shape[..lead.len()] == *lead;
    if !ok {
        return Err(SslError::bad(
            path,
            "factors",
            format!(
                "shape {:?}; expected {lead:?} followed by the factor count",
                f.shape
            ),
        ));
    }
    if let Some(i) = f.data.iter().position(|v| !v.is_finite()) {
        return Err(SslError::bad(
            path,
            "factors",
            format!("non-finite value at flat index {i}"),
        ));
    }
    let k = f.shape[lead.len()];
    let names = match &side.factors {
        Some(names) if names.len() == k => names.clone(),
        Some(names) => {
            return Err(SslError::bad(
                &path.with_extension("json"),
                "factors",
                format!(
                    "{} names for {k} factors in {}",
                    names.len(),
                    path.display()
                ),
            ))
        }
        None => (0..k).map(|j| format!("factor{j}")).collect(),
    };
    Ok((f.data, names))
}
