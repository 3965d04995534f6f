//! PNG encoding of RGB8 images (through the `png` crate), written atomically.

use std::path::Path;

use crate::atomic::write_atomic;
use crate::error::IoError;

/// Encodes a `w × h` RGB8 image (`rgb` row-major from the top-left, 3 bytes per pixel) as an
/// 8-bit RGB PNG and writes it atomically ([`write_atomic`]).
pub fn write_png(path: &Path, w: usize, h: usize, rgb: &[u8]) -> Result<(), IoError> {
    let mut buf = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut buf, w as u32, h as u32);
        enc.set_color(::png::ColorType::Rgb);
        enc.set_depth(::png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| IoError::bad(path, format!("PNG: {e}")))?;
        writer
            .write_image_data(rgb)
            .map_err(|e| IoError::bad(path, format!("PNG: {e}")))?;
    }
    write_atomic(path, &buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_decodable_png_and_names_the_file_on_bad_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.png");
        let rgb: Vec<u8> = (0..2 * 3 * 3).map(|i| i as u8 * 10).collect();
        write_png(&path, 2, 3, &rgb).unwrap();
        let mut reader = ::png::Decoder::new(std::fs::File::open(&path).unwrap())
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2, 3));
        assert_eq!(&buf[..rgb.len()], &rgb[..]);
        let e = write_png(&path, 4, 4, &rgb).unwrap_err().to_string();
        assert!(e.contains("p.png") && e.contains("PNG"), "{e}");
    }
}
