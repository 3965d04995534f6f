//! The generic loop: VICReg on a tiny shapes set lowers its loss and gives a probe above a
//! random-init one; an objective asking for predictor, EMA target and prototypes receives
//! inputs of the right shapes and sees its target move by the schedule; masking objectives are
//! refused.

mod common;

use std::sync::Mutex;

use ami_jepa::burn::module::Module;
use ami_jepa::burn::tensor::{Device, Tensor};
use ami_jepa::ssl::ema::ema_update;
use ami_jepa::{
    objective_by_name, JepaError, MomentumSchedule, SslInputs, SslLoss, SslNeeds, SslObjective,
    TargetBranch,
};
use ami_ssl::experiment::{run, ExperimentConfig, Observer};
use ami_ssl::train::{pretrain, TrainConfig};
use ami_ssl::{AugmentConfig, EncoderConfig, Online, SslError};
use common::shapes;

struct Quiet;

impl Observer for Quiet {
    fn phase(&mut self, _: &str, _: usize) {}
    fn step(&mut self, _: &ami_ssl::StepLog) {}
    fn advance(&mut self) {}
}

#[test]
fn vicreg_lowers_its_loss_and_beats_a_random_init_probe() {
    let data = shapes(600, 5);
    let mut cfg = ExperimentConfig::quick();
    cfg.train.steps = 120;
    cfg.train.batch_size = 64;
    cfg.label_fractions = vec![1.0];
    cfg.supervised.steps = 5;
    let vicreg = objective_by_name("vicreg").unwrap();
    let (r, _) = run(&data, &cfg, vicreg.as_ref(), &Device::flex(), &mut Quiet).unwrap();
    let mean = |s: &[ami_ssl::StepLog]| s.iter().map(|l| l.loss).sum::<f64>() / s.len() as f64;
    let (first, last) = (mean(&r.loss[..10]), mean(&r.loss[110..]));
    assert!(last < 0.95 * first, "loss {first} -> {last}");
    // The ridge probe of the continuous factors (x, y, scale; rotation and hue are what the
    // views make the encoder invariant to): at this size and budget the class probe is not yet
    // reliably above the random-init one (README: it is at the realistic budget), the factors
    // are.
    let mean_r2 = |f: &dyn Fn(&ami_ssl::experiment::FactorRow) -> f64| {
        r.factors[..3].iter().map(f).sum::<f64>() / 3.0
    };
    let (ssl, random) = (mean_r2(&|f| f.ssl_r2), mean_r2(&|f| f.random_init_r2));
    assert!(
        ssl > random + 0.05,
        "{ssl} vs {random}: {:?} {:?}",
        r.factors,
        r.probes
    );
    assert_eq!(r.diagnostics.first().unwrap().step, 0);
    assert_eq!(r.diagnostics.last().unwrap().step, 120);
    assert_eq!(r.loss[0].terms.len(), 3);
}

/// Records the shapes it is given; its loss pulls every prediction towards the other view's
/// target and touches the prototypes so that they get a gradient.
struct Fake {
    seen: Mutex<Vec<Vec<[usize; 2]>>>,
    masking: bool,
}

const K: usize = 5;
const SCHEDULE: MomentumSchedule = MomentumSchedule::Linear {
    start: 0.5,
    end: 1.0,
};

impl SslObjective for Fake {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn needs(&self) -> SslNeeds {
        SslNeeds {
            predictor: true,
            target: TargetBranch::Ema(SCHEDULE),
            prototypes: Some(K),
            masking: self.masking,
        }
    }

    fn loss(&self, i: SslInputs) -> Result<SslLoss, JepaError> {
        let c = i.prototypes.clone().expect("prototypes");
        let norms = c
            .clone()
            .powf_scalar(2.0)
            .sum_dim(1)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(
            norms.iter().all(|n| (n - 1.0).abs() < 1e-4),
            "rows l2-normalised: {norms:?}"
        );
        let mut shapes = vec![];
        for t in i.z.iter().chain(&i.p).chain(&i.t) {
            shapes.push(t.dims());
        }
        shapes.push(c.dims());
        self.seen.lock().unwrap().push(shapes);
        let total = (i.p[0].clone() - i.t[1].clone()).powf_scalar(2.0).mean()
            + (i.p[1].clone() - i.t[0].clone()).powf_scalar(2.0).mean()
            + i.z[0].clone().matmul(c.transpose()).mean() * 1e-3;
        Ok(SslLoss {
            terms: vec![("fake", total.clone())],
            total,
        })
    }
}

#[test]
fn predictor_ema_target_and_prototypes_reach_the_objective_with_the_right_shapes() {
    let data = shapes(40, 5);
    let idx: Vec<usize> = (0..40).collect();
    let cfg = TrainConfig {
        steps: 4,
        batch_size: 6,
        diag_every: 2,
        diag_batch: 16,
        ..TrainConfig::default()
    };
    let enc = EncoderConfig {
        channels: vec![4, 8],
        hidden: 16,
        repr_dim: 8,
        projector: vec![12, 10],
        predictor_hidden: 7,
    };
    let fake = Fake {
        seen: Mutex::new(vec![]),
        masking: false,
    };
    let t = pretrain(
        &data,
        &idx,
        &idx,
        &cfg,
        &enc,
        &AugmentConfig::default(),
        &fake,
        &Device::flex(),
        &mut |_| {},
    )
    .unwrap();
    let seen = fake.seen.lock().unwrap();
    assert_eq!(seen.len(), 4);
    for s in seen.iter() {
        // z_a, z_b, p_a, p_b, t_a, t_b: [B, D_z]; prototypes [K, D_z].
        assert_eq!(s[..6], [[6, 10]; 6]);
        assert_eq!(s[6], [K, 10]);
    }
    for (k, l) in t.log.iter().enumerate() {
        assert_eq!(l.momentum, Some(SCHEDULE.at(k, 4)));
    }
    assert_eq!(
        t.diagnostics.iter().map(|d| d.step).collect::<Vec<_>>(),
        [0, 2, 4]
    );
    let masked = Fake {
        seen: Mutex::new(vec![]),
        masking: true,
    };
    let e = pretrain(
        &data,
        &idx,
        &idx,
        &cfg,
        &enc,
        &AugmentConfig::default(),
        &masked,
        &Device::flex(),
        &mut |_| {},
    );
    assert!(matches!(e, Err(SslError::Unsupported { .. })), "{e:?}");
}

fn flat(m: &Online) -> Vec<f32> {
    let mut out = vec![];
    struct V<'a>(&'a mut Vec<f32>);
    impl ami_jepa::burn::module::ModuleVisitor for V<'_> {
        fn visit_float<const D: usize>(&mut self, p: &ami_jepa::burn::module::Param<Tensor<D>>) {
            self.0
                .extend(p.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    m.visit(&mut V(&mut out));
    out
}

#[test]
fn ema_update_blends_every_parameter_by_the_momentum() {
    let device = Device::flex();
    let enc = EncoderConfig {
        channels: vec![2],
        hidden: 3,
        repr_dim: 2,
        projector: vec![2],
        predictor_hidden: 2,
    };
    let xi = ami_ssl::encoder::seeded(&device, 1, |d| Online::new(&enc, [1, 4, 4], d));
    let theta = ami_ssl::encoder::seeded(&device, 2, |d| Online::new(&enc, [1, 4, 4], d));
    let (a, b) = (flat(&xi), flat(&theta));
    assert_ne!(a, b);
    let m = SCHEDULE.at(1, 4); // 0.625
    let mixed = flat(&ema_update(xi, &theta, m).unwrap());
    for ((x, t), y) in a.iter().zip(&b).zip(&mixed) {
        let want = m as f32 * x + (1.0 - m as f32) * t;
        assert!((y - want).abs() < 1e-6, "{y} vs {want}");
    }
}

#[test]
fn video_jepa_trains_and_reports_probe_and_prediction_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.npz");
    ami_envs::MovingShapesConfig::default()
        .generate(24, 2)
        .unwrap()
        .save(&p)
        .unwrap();
    let data = ami_ssl::VideoSet::load(&p).unwrap();
    let mut cfg = ami_ssl::video::VideoConfig::quick();
    cfg.steps = 10;
    let vicreg = objective_by_name("vicreg").unwrap();
    let mut steps = 0;
    let r = ami_ssl::video::run_video(
        &data,
        &cfg,
        vicreg.as_ref(),
        &Device::flex(),
        &mut |_, _| steps += 1,
    )
    .unwrap();
    assert_eq!((steps, r.loss.len()), (10, 10));
    // 5 test videos × (8 − 2) clips (t from 1 to 6).
    assert_eq!(r.clips, [19 * 6, 5 * 6]);
    assert_eq!(
        r.factors
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        ["x", "y", "vx", "vy"]
    );
    assert!(r.prediction_error.is_finite() && r.copy_last_error.is_finite());
    let mut bad = cfg.clone();
    bad.context = 8;
    let e = ami_ssl::video::run_video(
        &data,
        &bad,
        vicreg.as_ref(),
        &Device::flex(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("context + horizon"), "{e}");
}
