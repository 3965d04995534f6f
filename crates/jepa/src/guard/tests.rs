//! The guard's rules on hand-made collapse diagnostics.

use super::*;

fn c(mean_std: f32, effective_rank: f32) -> Collapse {
    Collapse {
        mean_std,
        effective_rank,
    }
}

#[test]
fn collapse_fires_on_the_patience_th_failed_check_in_a_row_and_a_pass_resets() {
    let cfg = GuardConfig {
        patience: 3,
        check_after: 0,
        ..GuardConfig::default()
    };
    let mut s = GuardState::default();
    let low = c(0.01, 10.0);
    assert_eq!(s.check_collapse(&cfg, 0, &low), None);
    assert_eq!(s.check_collapse(&cfg, 1, &low), None);
    // A passing check resets the count.
    assert_eq!(s.check_collapse(&cfg, 2, &c(0.9, 10.0)), None);
    assert_eq!(s.collapse_streak, 0);
    assert_eq!(s.check_collapse(&cfg, 3, &low), None);
    assert_eq!(s.check_collapse(&cfg, 4, &low), None);
    let d = s
        .check_collapse(&cfg, 5, &low)
        .expect("third failed check in a row");
    assert_eq!(d.step, 5);
    assert_eq!(d.kind, DivergenceKind::Collapse);
    assert_eq!(d.what, "mean_std");
    assert_eq!(d.value, Some(0.01));
    assert_eq!(d.threshold, Some(0.02));
    assert_eq!(d.checks, 3);
    let msg = d.to_string();
    assert!(
        msg.contains("mean_std = 0.0100 < guard.min_std = 0.02") && msg.contains("3 logged"),
        "{msg}"
    );
}

#[test]
fn checks_before_check_after_are_not_counted() {
    let cfg = GuardConfig {
        patience: 1,
        check_after: 200,
        ..GuardConfig::default()
    };
    let mut s = GuardState::default();
    let dead = c(0.0, 0.0);
    for step in [0, 50, 199] {
        assert_eq!(s.check_collapse(&cfg, step, &dead), None, "step {step}");
    }
    assert_eq!(s.collapse_streak, 0);
    assert!(s.check_collapse(&cfg, 200, &dead).is_some());
}

#[test]
fn thresholds_are_strict_and_the_rank_rule_fires_alone() {
    let cfg = GuardConfig {
        patience: 1,
        check_after: 0,
        ..GuardConfig::default()
    };
    // Exactly at the thresholds passes.
    assert_eq!(cfg.below(&c(0.02, 1.5)), None);
    assert_eq!(cfg.below(&c(0.019, 1.5)), Some(("mean_std", 0.019, 0.02)));
    assert_eq!(cfg.below(&c(0.9, 1.2)), Some(("effective_rank", 1.2, 1.5)));
    let d = GuardState::default()
        .check_collapse(&cfg, 7, &c(0.9, 1.2))
        .unwrap();
    assert!(
        d.to_string()
            .contains("effective_rank = 1.2000 < guard.min_effective_rank = 1.5"),
        "{d}"
    );
    // 0 switches a rule off.
    let off = GuardConfig {
        min_std: 0.0,
        min_effective_rank: 0.0,
        ..cfg
    };
    assert_eq!(off.below(&c(0.0, 0.0)), None);
}

#[test]
fn healthy_values_logged_by_the_presets_pass_with_a_margin() {
    // The lowest values logged from step 200 on by healthy tiny / check / default runs
    // (module docs), and the collapsed run's std.
    let cfg = GuardConfig::default();
    for (std, rank) in [
        (0.67, 4.4),
        (0.84, 6.0),
        (0.90, 8.9),
        (0.29, 24.4),
        (0.087, 2.7),
    ] {
        assert_eq!(cfg.below(&c(std, rank)), None);
        assert!(
            cfg.min_std * 4.0 < f64::from(std) && cfg.min_effective_rank * 1.5 < f64::from(rank)
        );
    }
    assert!(cfg.below(&c(0.0015, 9.3)).is_some());
}

#[test]
fn non_finite_errors_become_diagnoses_and_say_what() {
    let e = JepaError::NonFinite {
        step: 12,
        what: "parameter `encoder.layers.0.weight`".into(),
    };
    let d = Divergence::from_error(&e).unwrap();
    assert_eq!((d.step, d.kind), (12, DivergenceKind::NonFinite));
    assert_eq!(
        d.to_string(),
        "parameter `encoder.layers.0.weight` is not finite (NaN or infinite)"
    );
    assert!(Divergence::from_error(&JepaError::config("x", 1, "2")).is_none());
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["kind"], "non_finite");
    assert!(json["value"].is_null());
}

#[test]
fn validation_names_the_field_and_the_expectation() {
    let bad = |cfg: GuardConfig, field: &str| {
        let msg = cfg.validate().unwrap_err().to_string();
        assert!(msg.contains(field), "{msg}");
    };
    let d = GuardConfig::default();
    d.validate().unwrap();
    bad(
        GuardConfig {
            lr_factor: 1.0,
            ..d.clone()
        },
        "guard.lr_factor",
    );
    bad(
        GuardConfig {
            patience: 0,
            ..d.clone()
        },
        "guard.patience",
    );
    bad(
        GuardConfig {
            min_std: f64::NAN,
            ..d.clone()
        },
        "guard.min_std",
    );
    bad(
        GuardConfig {
            min_effective_rank: -1.0,
            ..d
        },
        "guard.min_effective_rank",
    );
}

#[test]
fn the_loss_explodes_above_the_ratio_times_the_first_loss() {
    let cfg = GuardConfig::default();
    let mut s = GuardState::default();
    assert_eq!(s.check_loss(&cfg, 0, 1.25), None);
    assert_eq!(s.first_loss, Some(1.25f32));
    // Healthy runs stayed within 1.6 times their first loss.
    assert_eq!(s.check_loss(&cfg, 1, 2.0), None);
    assert_eq!(
        s.check_loss(&cfg, 2, 12_500.0),
        None,
        "exactly at the limit passes"
    );
    let d = s.check_loss(&cfg, 3, 7.66e27).expect("explosion");
    assert_eq!((d.step, d.kind), (3, DivergenceKind::Explosion));
    assert_eq!(d.threshold, Some(12_500.0));
    assert_eq!(
        d.to_string(),
        "loss explosion: loss = 7.660e27 > guard.max_loss_ratio × the first step's loss = 1.250e4"
    );
    let off = GuardConfig {
        max_loss_ratio: 0.0,
        ..cfg
    };
    assert_eq!(s.check_loss(&off, 4, 1e30), None);
}

#[test]
fn the_learning_rate_scale_round_trips_exactly_through_json() {
    for lr_scale in [1.0, 0.5, 0.1 * 0.1, 0.3 * 0.7 * 0.9, 1e-300] {
        let s = GuardState {
            lr_scale,
            ..GuardState::default()
        };
        let text = serde_json::to_string(&s).unwrap();
        let back: GuardState = serde_json::from_str(&text).unwrap();
        assert_eq!(back.lr_scale.to_bits(), lr_scale.to_bits(), "{text}");
    }
    // A plain number is read too.
    let back: GuardState = serde_json::from_str(r#"{"lr_scale": 0.25}"#).unwrap();
    assert_eq!(back.lr_scale, 0.25);
}
