//! Axis-aligned rectangles and the segment–rectangle entry test (slab method).

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
        let (mut t0, mut t1) = (0f32, 1f32);
        for (pi, di, lo, hi) in [
            (p[0], d[0], self.x0, self.x1),
            (p[1], d[1], self.y0, self.y1),
        ] {
            if di == 0.0 {
                if pi < lo || pi > hi {
                    return None;
                }
            } else {
                let (a, b) = ((lo - pi) / di, (hi - pi) / di);
                let (a, b) = if a < b { (a, b) } else { (b, a) };
                t0 = t0.max(a);
                t1 = t1.min(b);
                if t0 > t1 {
                    return None;
                }
            }
        }
        Some(t0)
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
    fn distance_by_hand() {
        assert_eq!(R.distance([1.5, 2.0]), 0.0);
        assert_eq!(R.distance([4.0, 2.0]), 2.0);
        assert_eq!(R.distance([5.0, 7.0]), 5.0);
    }
}
