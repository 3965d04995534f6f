//! PLDM's 65 × 65 images (module docs of [`crate::pldm`]): the agent's blob on the
//! corner-aligned pixel grid, quantised to uint8 levels, and the wall lines.

use crate::observation::{agent_channel, PixelGrid};

use super::{Layout, BORDER, DOOR_HALF, DOT_STD, IMAGE_RES, SIZE, WALL_HALF};

/// Levels of PLDM's uint8 images.
const LEVELS: f32 = 255.0;

/// The wall channel `[65 · 65]` of `layout` (row i = y, column j = x): 1 on rows and columns 4
/// and 60 and on the wall's columns `wall_x − 1 ..= wall_x + 1` outside the door rows
/// `door_y − 4 ..= door_y + 4` (PLDM's layout: columns 31–33, rows 6–14), else 0
/// (`pldm_envs/wall/wall.py` `_render_walls`). Layouts have integer `wall_x` and `door_y`
/// (PLDM's are; `random-wall` draws integers); fractional ones are truncated.
pub fn wall_image(layout: Layout) -> Vec<f32> {
    let r = IMAGE_RES;
    let lines = [BORDER as usize, (SIZE - BORDER) as usize];
    let wall = (layout.wall_x - WALL_HALF) as usize..=(layout.wall_x + WALL_HALF) as usize;
    let door = (layout.door_y - DOOR_HALF) as usize..=(layout.door_y + DOOR_HALF) as usize;
    let mut out = vec![0f32; r * r];
    for i in 0..r {
        for j in 0..r {
            let border = lines.contains(&i) || lines.contains(&j);
            let central = wall.contains(&j) && !door.contains(&i);
            if border || central {
                out[i * r + j] = 1.0;
            }
        }
    }
    out
}

/// The agent channel `[65 · 65]`: `⌊255·exp(−‖c − p‖²/(2·1.3²))⌋ / 255` at each pixel centre
/// `c` of the corner-aligned grid (pixel `(i, j)` at `(j, i)`).
pub fn agent_image(pos: [f32; 2]) -> Vec<f32> {
    let r = IMAGE_RES;
    let mut out = vec![0f32; r * r];
    agent_channel(&mut out, PixelGrid::CornerAligned, r, SIZE, pos, DOT_STD);
    out.iter_mut()
        .for_each(|v| *v = (*v * LEVELS).floor() / LEVELS);
    out
}

/// The observation `[2, 65, 65]` (flattened) of an agent at `pos` with the wall channel
/// `walls` ([`wall_image`]).
pub fn image_with_walls(pos: [f32; 2], walls: &[f32]) -> Vec<f32> {
    let mut out = agent_image(pos);
    out.extend_from_slice(walls);
    out
}

/// The `[C, H, W]` image `image` (flattened) averaged over `pool × pool` blocks:
/// `[C, ⌊H/pool⌋, ⌊W/pool⌋]`, pixel `(i, j)` the mean of rows `pool·i … pool·i + pool − 1` and
/// columns `pool·j … pool·j + pool − 1` (rows and columns past the last whole block are
/// dropped, as a stride-`pool` average pooling does). `pool = 1` returns the image unchanged.
pub fn block_average(image: &[f32], [c, h, w]: [usize; 3], pool: usize) -> Vec<f32> {
    let k = pool.max(1);
    if k == 1 {
        return image.to_vec();
    }
    let (ph, pw) = (h / k, w / k);
    let scale = 1.0 / (k * k) as f32;
    let mut out = vec![0f32; c * ph * pw];
    for ch in 0..c {
        let plane = &image[ch * h * w..(ch + 1) * h * w];
        for i in 0..ph {
            for j in 0..pw {
                let mut sum = 0f32;
                for r in i * k..(i + 1) * k {
                    sum += plane[r * w + j * k..r * w + (j + 1) * k]
                        .iter()
                        .sum::<f32>();
                }
                out[(ch * ph + i) * pw + j] = sum * scale;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walls_are_lines_at_4_and_60_and_the_central_wall_outside_the_door() {
        let w = wall_image(Layout::PLDM);
        let at = |i: usize, j: usize| w[i * IMAGE_RES + j];
        for k in 0..IMAGE_RES {
            assert_eq!(at(4, k), 1.0);
            assert_eq!(at(60, k), 1.0);
            assert_eq!(at(k, 4), 1.0);
            assert_eq!(at(k, 60), 1.0);
        }
        // Outside the border lines nothing is drawn, except the central wall's columns.
        assert_eq!(at(2, 2), 0.0);
        assert_eq!(at(62, 20), 0.0);
        assert_eq!(at(2, 32), 1.0);
        // The central wall: columns 31..=33, door rows 6..=14 open.
        for i in [5, 15, 30, 59] {
            for j in 31..=33 {
                assert_eq!(at(i, j), 1.0, "({i}, {j})");
            }
            assert_eq!(at(i, 30), 0.0);
            assert_eq!(at(i, 34), 0.0);
        }
        for i in 6..=14 {
            for j in 31..=33 {
                assert_eq!(at(i, j), 0.0, "door ({i}, {j})");
            }
        }
        // Count: 4 lines of 65, minus their 4 crossings, plus 3 columns × (65 − 9 door rows)
        // minus the 3 × 2 pixels already on the horizontal lines.
        let expected = 4 * 65 - 4 + 3 * (65 - 9) - 3 * 2;
        assert_eq!(w.iter().filter(|&&v| v == 1.0).count(), expected);
    }

    #[test]
    fn block_average_means_whole_blocks_and_drops_the_remainder() {
        // One channel 5 × 5 holding 0..25, pooled by 2: blocks of rows/cols {0,1}, {2,3}.
        let img: Vec<f32> = (0..25).map(|v| v as f32).collect();
        let p = block_average(&img, [1, 5, 5], 2);
        assert_eq!(p, vec![3.0, 5.0, 13.0, 15.0]);
        // Two channels keep their order; pool 1 is the identity.
        let two: Vec<f32> = (0..50).map(|v| v as f32).collect();
        let p2 = block_average(&two, [2, 5, 5], 2);
        assert_eq!(&p2[4..], &[28.0, 30.0, 38.0, 40.0]);
        assert_eq!(block_average(&img, [1, 5, 5], 1), img);
        // PLDM's 65 × 65 frame by 4: 16 × 16, and the blob's mass (over the whole blocks) kept.
        let frame = image_with_walls([20.3, 41.8], &wall_image(Layout::PLDM));
        let pooled = block_average(&frame, [2, IMAGE_RES, IMAGE_RES], 4);
        assert_eq!(pooled.len(), 2 * 16 * 16);
        let mass: f32 = frame[..IMAGE_RES * IMAGE_RES].iter().sum();
        let pooled_mass: f32 = pooled[..256].iter().sum::<f32>() * 16.0;
        assert!((mass - pooled_mass).abs() < 1e-3, "{mass} vs {pooled_mass}");
    }

    #[test]
    fn the_blob_peaks_at_the_agents_pixel_with_uint8_levels() {
        // Agent at x = 20.3, y = 41.8: the brightest pixel is row 42, column 20.
        let a = agent_image([20.3, 41.8]);
        let (k, _) = a
            .iter()
            .enumerate()
            .fold((0, -1.0), |m, (k, &v)| if v > m.1 { (k, v) } else { m });
        assert_eq!((k / IMAGE_RES, k % IMAGE_RES), (42, 20));
        // Value there: exp(−(0.3² + 0.2²)/(2·1.69)) = 0.96226 → ⌊245.38⌋ / 255.
        assert_eq!(a[k], 245.0 / 255.0);
        // On a pixel centre exactly: 255/255.
        assert_eq!(agent_image([7.0, 9.0])[9 * IMAGE_RES + 7], 1.0);
        // Far pixels are 0 (255·exp(−d²/3.38) < 1 beyond d ≈ 4.33).
        assert_eq!(a[42 * IMAGE_RES + 25], 0.0);
        assert!(a[42 * IMAGE_RES + 24] > 0.0);
        assert!(a
            .iter()
            .all(|v| ((v * 255.0) - (v * 255.0).round()).abs() < 1e-4));
    }
}
