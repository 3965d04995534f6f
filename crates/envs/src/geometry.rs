//! Axis-aligned rectangles, the segment–rectangle entry test (slab method, with the face
//! entered), and the move rule of the point agent shared by `two-rooms`, `maze` and `pldm`
//! ([`move_point`]).

/// A closed axis-aligned rectangle `[x0, x1] × [y0, y1]` (arena px; y grows upward).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rect {
    /// Left edge.
    pub x0: f32,
    /// Bottom edge.
    pub y0: f32,
    /// Right edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
}

impl Rect {
    /// Whether `p` lies in the closed rectangle (edges count as inside).
    pub fn contains(&self, p: [f32; 2]) -> bool {
        p[0] >= self.x0 && p[0] <= self.x1 && p[1] >= self.y0 && p[1] <= self.y1
    }

    /// Euclidean distance from `p` to the rectangle (0 inside it).
    pub fn distance(&self, p: [f32; 2]) -> f32 {
        let dx = (self.x0 - p[0]).max(0.0).max(p[0] - self.x1);
        let dy = (self.y0 - p[1]).max(0.0).max(p[1] - self.y1);
        (dx * dx + dy * dy).sqrt()
    }

    /// Earliest `t ∈ [0, 1]` at which `p + t·d` lies in the rectangle, or `None`.
    ///
    /// Slab method: on each axis with `d_i ≠ 0` the segment is inside the slab for
    /// `t ∈ [min(t_lo, t_hi), max(t_lo, t_hi)]` with `t_lo = (lo − p_i)/d_i`,
    /// `t_hi = (hi − p_i)/d_i`; on an axis with `d_i = 0` it is inside for all t or none.
    /// The entry time is the largest lower bound, provided it does not exceed the smallest
    /// upper bound (intersected with `[0, 1]`).
    pub fn entry(&self, p: [f32; 2], d: [f32; 2]) -> Option<f32> {
        self.entry_face(p, d).map(|(t, _)| t)
    }

    /// [`Rect::entry`] and the face the segment enters through: [`Face::Vertical`] (a side
    /// `x = x0` or `x = x1`) when the x slab is entered last, [`Face::Horizontal`] (`y = y0` or
    /// `y = y1`) when the y slab is (the y face on a tie, e.g. through a corner; a segment
    /// starting inside is reported as entering at `t = 0` through the face whose slab it
    /// entered last, the x one if it is inside both from the start).
    pub fn entry_face(&self, p: [f32; 2], d: [f32; 2]) -> Option<(f32, Face)> {
        let (mut t0, mut t1) = (0f32, 1f32);
        let (mut last, mut face) = (f32::NEG_INFINITY, Face::Vertical);
        for (pi, di, lo, hi, axis) in [
            (p[0], d[0], self.x0, self.x1, Face::Vertical),
            (p[1], d[1], self.y0, self.y1, Face::Horizontal),
        ] {
            if di == 0.0 {
                if pi < lo || pi > hi {
                    return None;
                }
            } else {
                let (a, b) = ((lo - pi) / di, (hi - pi) / di);
                let (a, b) = if a < b { (a, b) } else { (b, a) };
                if a >= last {
                    (last, face) = (a, axis);
                }
                t0 = t0.max(a);
                t1 = t1.min(b);
                if t0 > t1 {
                    return None;
                }
            }
        }
        Some((t0, face))
    }
}

/// Which kind of face of a [`Rect`] a segment enters through ([`Rect::entry_face`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// A side `x = const`.
    Vertical,
    /// A side `y = const`.
    Horizontal,
}

/// Distance (px) by which a blocked move stops short of the obstacle it would enter.
pub const STOP_BACKOFF: f32 = 1e-3;

/// The point agent's move rule among closed rectangular `obstacles`, from the free position
/// `p` with the finite action `a` (checking both is the caller's job).
///
/// 1. `a` is clipped to `‖a‖ ≤ max_step` by scaling (`a ← a·max_step/‖a‖`, direction kept;
///    the norm is computed in f64 so finite f32 components cannot overflow it).
/// 2. The agent moves along `p → p + t·a`, `t ∈ [0, 1]`. Let `t*` be the earliest time the
///    segment enters any obstacle ([`Rect::entry`], minimum over the rectangles). Without an
///    entry, and with `p + a` free, the agent lands on `p + a`.
/// 3. Otherwise it stops at the entry point moved back by [`STOP_BACKOFF`] along the segment:
///    `p + max(t* − STOP_BACKOFF/‖a‖, 0)·a` (no sliding along walls); should rounding leave
///    that point not free, it stays at `p`. The result is therefore free whenever `p` is.
pub fn move_point(
    p: [f32; 2],
    a: [f32; 2],
    max_step: f32,
    obstacles: &[Rect],
    is_free: impl Fn([f32; 2]) -> bool,
) -> [f32; 2] {
    let norm = (a[0] as f64).hypot(a[1] as f64);
    let a = if norm > max_step as f64 {
        let s = max_step as f64 / norm;
        [(a[0] as f64 * s) as f32, (a[1] as f64 * s) as f32]
    } else {
        a
    };
    let t = obstacles
        .iter()
        .filter_map(|r| r.entry(p, a))
        .fold(1.0f32, f32::min);
    let end = [p[0] + a[0], p[1] + a[1]];
    if t >= 1.0 && is_free(end) {
        return end;
    }
    let len = a[0].hypot(a[1]).max(f32::MIN_POSITIVE);
    let back = (t - STOP_BACKOFF / len).max(0.0);
    let q = [p[0] + back * a[0], p[1] + back * a[1]];
    if is_free(q) {
        q
    } else {
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Rect = Rect {
        x0: 1.0,
        y0: 1.0,
        x1: 2.0,
        y1: 3.0,
    };

    #[test]
    fn entry_times_by_hand() {
        assert_eq!(R.entry([0.0, 2.0], [2.0, 0.0]), Some(0.5));
        assert_eq!(R.entry([0.0, 0.0], [2.0, 2.0]), Some(0.5)); // through the corner (1, 1)
        assert_eq!(R.entry([0.0, 2.0], [0.5, 0.0]), None); // stops short
        assert_eq!(R.entry([0.0, 4.0], [3.0, 0.0]), None); // passes above
        assert_eq!(R.entry([1.5, 2.0], [1.0, 0.0]), Some(0.0)); // starts inside
        assert_eq!(R.entry([1.5, 5.0], [0.0, -4.0]), Some(0.5)); // vertical
    }

    #[test]
    fn entry_faces_by_hand() {
        use Face::{Horizontal, Vertical};
        assert_eq!(R.entry_face([0.0, 2.0], [2.0, 0.0]), Some((0.5, Vertical)));
        assert_eq!(
            R.entry_face([1.5, 5.0], [0.0, -4.0]),
            Some((0.5, Horizontal))
        );
        assert_eq!(
            R.entry_face([1.5, 0.0], [0.5, 2.0]),
            Some((0.5, Horizontal))
        );
        assert_eq!(
            R.entry_face([0.0, 0.0], [2.0, 2.0]),
            Some((0.5, Horizontal))
        ); // corner tie
        assert_eq!(R.entry_face([0.0, 4.0], [3.0, 0.0]), None);
    }

    #[test]
    fn distance_by_hand() {
        assert_eq!(R.distance([1.5, 2.0]), 0.0);
        assert_eq!(R.distance([4.0, 2.0]), 2.0);
        assert_eq!(R.distance([5.0, 7.0]), 5.0);
    }
}
