//! Animated GIFs of RGB8 frames ([`write_gif`]), through the `gif` crate's encoder.
//!
//! The pictures of `ami` are drawn in a handful of flat colours, so the file has one global
//! palette made of the frames' distinct colours in order of first appearance (frame 0 first,
//! row-major), and every pixel keeps its exact colour. Frames with more than 256 distinct
//! colours overall are refused rather than dithered. The animation loops forever.

use std::collections::HashMap;
use std::path::Path;

use crate::error::IoError;

/// Frames of one animation: all `width × height` RGB8, row-major from the top-left.
#[derive(Debug, Clone, PartialEq)]
pub struct Animation {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Display time of each frame, in hundredths of a second.
    pub delay_cs: u16,
    /// `3 · width · height` bytes per frame.
    pub frames: Vec<Vec<u8>>,
}

/// Writes `anim` as an animated GIF to `path`, atomically (module docs). Errors name the file:
/// no frame, a frame of the wrong size, more than 256 colours, an image over 65535 px a side.
pub fn write_gif(path: &Path, anim: &Animation) -> Result<(), IoError> {
    let bytes = gif_bytes(anim).map_err(|msg| IoError::bad(path, msg))?;
    crate::write_atomic(path, &bytes)
}

/// The GIF file of `anim` in memory (see [`write_gif`]).
pub fn gif_bytes(anim: &Animation) -> Result<Vec<u8>, String> {
    let (w, h) = (anim.width, anim.height);
    let (Ok(w16), Ok(h16)) = (u16::try_from(w), u16::try_from(h)) else {
        return Err(format!("{w}×{h} px is larger than a GIF allows (65535)"));
    };
    if anim.frames.is_empty() || w == 0 || h == 0 {
        return Err("an animation needs at least one non-empty frame".into());
    }
    let mut palette: Vec<u8> = Vec::new();
    let mut index: HashMap<[u8; 3], u8> = HashMap::new();
    let mut indexed = Vec::with_capacity(anim.frames.len());
    for (k, frame) in anim.frames.iter().enumerate() {
        if frame.len() != 3 * w * h {
            return Err(format!(
                "frame {k} has {} bytes, expected 3·{w}·{h}",
                frame.len()
            ));
        }
        let mut px = Vec::with_capacity(w * h);
        // Runs of one colour are the rule in these pictures: the previous pixel's index
        // saves most look-ups.
        let mut last: Option<([u8; 3], u8)> = None;
        for rgb in frame.chunks_exact(3) {
            let c = [rgb[0], rgb[1], rgb[2]];
            if let Some((lc, li)) = last {
                if lc == c {
                    px.push(li);
                    continue;
                }
            }
            let i = match index.get(&c) {
                Some(&i) => i,
                None => {
                    let i = u8::try_from(index.len())
                        .map_err(|_| format!("more than 256 colours (frame {k})"))?;
                    index.insert(c, i);
                    palette.extend_from_slice(&c);
                    i
                }
            };
            last = Some((c, i));
            px.push(i);
        }
        indexed.push(px);
    }
    // A GIF palette has a power-of-two size of at least 2 entries.
    let size = (palette.len() / 3).max(2).next_power_of_two();
    palette.resize(3 * size, 0);
    let mut out = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut out, w16, h16, &palette).map_err(|e| e.to_string())?;
        enc.set_repeat(gif::Repeat::Infinite)
            .map_err(|e| e.to_string())?;
        for px in &indexed {
            let mut frame = gif::Frame::from_indexed_pixels(w16, h16, px.clone(), None);
            frame.delay = anim.delay_cs;
            enc.write_frame(&frame).map_err(|e| e.to_string())?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (usize, usize, Vec<Vec<u8>>) {
        let mut opts = gif::DecodeOptions::new();
        opts.set_color_output(gif::ColorOutput::RGBA);
        let mut d = opts.read_info(bytes).unwrap();
        let (w, h) = (d.width() as usize, d.height() as usize);
        let mut frames = Vec::new();
        while let Some(f) = d.read_next_frame().unwrap() {
            let rgb: Vec<u8> = f
                .buffer
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            frames.push(rgb);
        }
        (w, h, frames)
    }

    #[test]
    fn frames_round_trip_with_their_exact_colours() {
        let (w, h) = (5, 3);
        let frames: Vec<Vec<u8>> = (0..4u8)
            .map(|k| {
                (0..w * h)
                    .flat_map(|i| [k * 40, (i as u8) * 10, 200 - k])
                    .collect()
            })
            .collect();
        let anim = Animation {
            width: w,
            height: h,
            delay_cs: 7,
            frames: frames.clone(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.gif");
        write_gif(&path, &anim).unwrap();
        let (dw, dh, got) = decode(&std::fs::read(&path).unwrap());
        assert_eq!((dw, dh), (w, h));
        assert_eq!(got, frames);
    }

    #[test]
    fn bad_animations_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.gif");
        let mut anim = Animation {
            width: 2,
            height: 2,
            delay_cs: 1,
            frames: Vec::new(),
        };
        let err = write_gif(&path, &anim).unwrap_err().to_string();
        assert!(
            err.contains("b.gif") && err.contains("at least one"),
            "{err}"
        );
        anim.frames = vec![vec![0; 11]];
        let err = write_gif(&path, &anim).unwrap_err().to_string();
        assert!(err.contains("frame 0 has 11 bytes"), "{err}");
        anim.width = 200;
        anim.height = 2;
        anim.frames = vec![(0..400usize)
            .flat_map(|i| [(i % 256) as u8, (i / 256) as u8, 0])
            .collect()];
        let err = write_gif(&path, &anim).unwrap_err().to_string();
        assert!(err.contains("more than 256 colours"), "{err}");
        assert!(!path.exists());
    }
}
