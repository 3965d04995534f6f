//! Scores of how well an energy separates two sets.

use crate::error::{EnergyError, Result};

/// Area under the ROC curve of scores where **higher means "negative"**:
/// `AUROC = P(s⁻ > s⁺) + ½·P(s⁻ = s⁺)` over all pairs of a positive score `s⁺` and a negative
/// score `s⁻` (the Mann–Whitney U statistic divided by `n⁺n⁻`). For an energy, pass the
/// energies of the data as `positive` and of the off-data probes as `negative`: 1 means every
/// probe has a higher energy than every data point, 0.5 means no separation.
/// Equal to scikit-learn's `roc_auc_score(labels, scores)` with label 1 for `negative`.
pub fn auroc(positive: &[f64], negative: &[f64]) -> Result<f64> {
    if positive.is_empty() || negative.is_empty() {
        return Err(EnergyError::Shape {
            what: "AUROC scores",
            found: format!(
                "[{}] positive, [{}] negative",
                positive.len(),
                negative.len()
            ),
            expected: "at least one score on each side".into(),
        });
    }
    for (what, v) in [("positive", positive), ("negative", negative)] {
        if let Some((i, &x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(EnergyError::NonFinite {
                what,
                row: i,
                col: 0,
                value: x,
            });
        }
    }
    // Sort all scores; the rank sum of the negatives (ties get their mean rank) gives U.
    let mut all: Vec<(f64, bool)> = positive
        .iter()
        .map(|&s| (s, false))
        .chain(negative.iter().map(|&s| (s, true)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        let negatives = all[i..=j].iter().filter(|s| s.1).count();
        rank_sum += mean_rank * negatives as f64;
        i = j + 1;
    }
    let (np, nn) = (positive.len() as f64, negative.len() as f64);
    Ok((rank_sum - nn * (nn + 1.0) / 2.0) / (np * nn))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force over all pairs.
    fn pairs(pos: &[f64], neg: &[f64]) -> f64 {
        let mut s = 0.0;
        for p in pos {
            for n in neg {
                s += if n > p {
                    1.0
                } else if n == p {
                    0.5
                } else {
                    0.0
                };
            }
        }
        s / (pos.len() * neg.len()) as f64
    }

    #[test]
    fn equals_the_pair_count() {
        assert_eq!(auroc(&[0.0, 1.0], &[2.0, 3.0]).unwrap(), 1.0);
        assert_eq!(auroc(&[2.0, 3.0], &[0.0, 1.0]).unwrap(), 0.0);
        // One tie, one win, two losses... by hand: pairs (1,1)=½, (1,0.5)=0, (2,1)=0, (2,0.5)=0,
        // (0,1)=1, (0,0.5)=1 → 2.5/6.
        let (p, n) = ([1.0, 2.0, 0.0], [1.0, 0.5]);
        assert!((auroc(&p, &n).unwrap() - 2.5 / 6.0).abs() < 1e-15);
        let p: Vec<f64> = (0..37).map(|i| ((i * 7919) % 23) as f64 * 0.5).collect();
        let n: Vec<f64> = (0..29).map(|i| ((i * 104729) % 19) as f64 * 0.6).collect();
        assert!((auroc(&p, &n).unwrap() - pairs(&p, &n)).abs() < 1e-12);
    }

    #[test]
    fn bad_scores_are_errors() {
        assert!(auroc(&[], &[1.0]).is_err());
        assert!(auroc(&[f64::NAN], &[1.0]).is_err());
    }
}
