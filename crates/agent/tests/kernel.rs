//! The dense CPU kernel against burn's generic path: the JEPA world model's rollout (residual
//! predictor, action scale, action repeat 2). (The gradient plan's tests are in `ami-bench`.)

use ami_agent::{JepaWorldModel, Perception, WorldModel};
use ami_jepa::burn::tensor::{Device, Distribution, Tensor};
use ami_jepa::{Jepa, JepaConfig};

/// `|a − b| ≤ tol · max|b|` elementwise.
fn assert_close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "[{i}] {x} vs {y} (scale {scale})"
        );
    }
}

fn small_jepa(dev: &Device) -> Jepa {
    dev.seed(31);
    let cfg = JepaConfig {
        obs_dim: 4,
        action_dim: 2,
        repr_dim: 9,
        encoder_hidden: vec![16],
        predictor_hidden: vec![21, 13],
        idm_hidden: vec![8],
        action_scale: 0.25,
        ..JepaConfig::default()
    };
    cfg.init(dev).unwrap()
}

fn normal(n: usize, dev: &Device) -> Vec<f32> {
    Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), dev)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

#[test]
fn fast_jepa_rollout_equals_burn_rollout_with_action_repeat() {
    let dev = Device::flex();
    let jepa = small_jepa(&dev);
    let fast = JepaWorldModel::new(jepa.clone(), dev.clone(), 4, 9, 2, 2).unwrap();
    let generic = JepaWorldModel::generic(jepa, dev.clone(), 4, 9, 2, 2).unwrap();
    assert!(fast.is_fast() && !generic.is_fast());
    let s0 = fast.encode(&[0.3, -0.2, 0.9, 0.1]).unwrap();
    let (n, h) = (7, 5);
    let actions = normal(n * h * 2, &dev);
    let want = generic.rollout(&s0, &actions, n, h).unwrap();
    let got = fast.rollout(&s0, &actions, n, h).unwrap();
    assert_close(&got, &want, 1e-4);
    // The states move (the comparison is not trivially between constants).
    assert!(want
        .iter()
        .zip(s0.iter().cycle())
        .any(|(x, y)| (x - y).abs() > 1e-2));
}
