//! The SSL losses by name, on named arrays with parameters given as strings: what
//! `ami ssl loss NAME --input KEY=FILE.npy --param KEY=VALUE` calls. Every check that is not
//! about files lives here: the loss name, the input and parameter names, the parameter values
//! and the shapes.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::{
    barlow_twins, byol, ijepa, infonce, nt_xent, simsiam, sinkhorn, vicreg, BarlowTwinsParams,
    InfoNceParams, NtXentParams, SinkhornParams, SslLoss, VicregParams,
};
use crate::error::{invalid, EnergyError, Result};
use crate::matrix::Matrix;

/// The SSL losses of [`crate::ssl`], by their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslLossKind {
    /// [`vicreg()`](super::vicreg()): `vicreg`.
    Vicreg,
    /// [`barlow_twins()`](super::barlow_twins()): `barlow-twins`.
    BarlowTwins,
    /// [`byol()`](super::byol()): `byol`.
    Byol,
    /// [`simsiam()`](super::simsiam()): `simsiam`.
    SimSiam,
    /// [`nt_xent()`](super::nt_xent()): `nt-xent`.
    NtXent,
    /// [`infonce()`](super::infonce()): `infonce`.
    InfoNce,
    /// [`ijepa()`](super::ijepa()): `ijepa`.
    Ijepa,
    /// [`sinkhorn()`](super::sinkhorn()): `sinkhorn` (assignments, no loss).
    Sinkhorn,
}

impl SslLossKind {
    /// Every loss, in the documentation's order.
    pub const ALL: [SslLossKind; 8] = [
        Self::Vicreg,
        Self::BarlowTwins,
        Self::Byol,
        Self::SimSiam,
        Self::NtXent,
        Self::InfoNce,
        Self::Ijepa,
        Self::Sinkhorn,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Vicreg => "vicreg",
            Self::BarlowTwins => "barlow-twins",
            Self::Byol => "byol",
            Self::SimSiam => "simsiam",
            Self::NtXent => "nt-xent",
            Self::InfoNce => "infonce",
            Self::Ijepa => "ijepa",
            Self::Sinkhorn => "sinkhorn",
        }
    }

    /// The loss called `name`; an unknown name is an error listing the known ones.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| EnergyError::UnknownName {
                kind: "SSL loss".into(),
                name: name.into(),
                known: Self::ALL.map(Self::name).join(", "),
            })
    }

    /// The input arrays it reads, all required.
    pub fn inputs(self) -> &'static [&'static str] {
        match self {
            Self::Vicreg => &["x", "y"],
            Self::BarlowTwins | Self::NtXent => &["z1", "z2"],
            Self::Byol => &["p1", "p2", "t1", "t2"],
            Self::SimSiam => &["p1", "p2", "z1", "z2"],
            Self::InfoNce => &["q", "k"],
            Self::Ijepa => &["pred", "target"],
            Self::Sinkhorn => &["scores"],
        }
    }

    /// Its parameters with their defaults (as the command line would write them).
    pub fn params(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Vicreg => &[("sim_coeff", "25"), ("std_coeff", "25"), ("cov_coeff", "1")],
            Self::BarlowTwins => &[("lambd", "0.0051")],
            Self::NtXent => &[("temperature", "0.5")],
            Self::InfoNce => &[("temperature", "0.07")],
            Self::Sinkhorn => &[("epsilon", "0.05"), ("iters", "3")],
            Self::Byol | Self::SimSiam | Self::Ijepa => &[],
        }
    }
}

impl fmt::Display for SslLossKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SslLossKind {
    type Err = EnergyError;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s)
    }
}

/// A dense C-order array of any rank (what a `.npy` file holds).
#[derive(Debug, Clone, PartialEq)]
pub struct SslArray {
    /// Shape; `[]` is a scalar.
    pub shape: Vec<usize>,
    /// Values, `shape.iter().product()` of them.
    pub data: Vec<f64>,
}

impl SslArray {
    /// Wraps `data`; fails unless it has exactly as many values as `shape` calls for.
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Result<Self> {
        let n = shape.iter().try_fold(1usize, |n, &s| n.checked_mul(s));
        if n != Some(data.len()) {
            return Err(EnergyError::Shape {
                what: "array data",
                found: format!("{} values", data.len()),
                expected: format!(
                    "the {} values of shape {shape:?}",
                    shape.iter().product::<usize>()
                ),
            });
        }
        Ok(Self { shape, data })
    }

    fn from_matrix(shape: &[usize], m: Matrix) -> Self {
        Self {
            shape: shape.to_vec(),
            data: m.into_vec(),
        }
    }
}

/// What [`evaluate`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct SslOutput {
    /// The loss; `None` for `sinkhorn`, which computes assignments, not a loss.
    pub loss: Option<f64>,
    /// The named terms, unweighted (empty for the losses without terms).
    pub terms: Vec<(&'static str, f64)>,
    /// `∂loss/∂input` for each input that receives a gradient, shaped like the input.
    pub grads: Vec<(&'static str, SslArray)>,
    /// `sinkhorn`'s assignments `Q [B, K]`; `None` for the losses.
    pub q: Option<SslArray>,
}

impl SslOutput {
    fn from_loss(l: SslLoss, shape_of: impl Fn(&str) -> Vec<usize>) -> Self {
        let grads = l
            .grads
            .into_iter()
            .map(|(name, g)| (name, SslArray::from_matrix(&shape_of(name), g)))
            .collect();
        Self {
            loss: Some(l.value),
            terms: l.terms,
            grads,
            q: None,
        }
    }
}

/// The named inputs of one evaluation, checked against the loss's input names.
struct Inputs<'a> {
    kind: SslLossKind,
    arrays: BTreeMap<&'static str, &'a SslArray>,
}

impl<'a> Inputs<'a> {
    fn new(kind: SslLossKind, given: &'a [(String, SslArray)]) -> Result<Self> {
        let known = kind.inputs();
        let mut arrays = BTreeMap::new();
        for (name, a) in given {
            let Some(&key) = known.iter().find(|k| **k == name) else {
                return Err(EnergyError::UnknownName {
                    kind: format!("input of `{kind}`"),
                    name: name.clone(),
                    known: known.join(", "),
                });
            };
            if arrays.insert(key, a).is_some() {
                return Err(EnergyError::Duplicate {
                    kind: "input",
                    name: name.clone(),
                });
            }
        }
        if let Some(missing) = known.iter().find(|k| !arrays.contains_key(*k)) {
            return Err(EnergyError::MissingInput {
                owner: kind.name(),
                input: missing,
                inputs: known.join(", "),
            });
        }
        Ok(Self { kind, arrays })
    }

    fn shape(&self, name: &str) -> Vec<usize> {
        self.arrays[name].shape.clone()
    }

    /// Input `name` as `[N, D]`; any other rank is an error.
    fn matrix(&self, name: &'static str) -> Result<Matrix> {
        let a = self.arrays[name];
        if a.shape.len() != 2 {
            return Err(EnergyError::Shape {
                what: name,
                found: format!("{:?}", a.shape),
                expected: format!("a 2-D array [N, D] (`{}` takes no other rank)", self.kind),
            });
        }
        Matrix::new(a.shape[0], a.shape[1], a.data.clone())
    }

    /// Input `name` of shape `[..., D]` as `[M, D]`, `M` the product of the leading axes.
    fn rows(&self, name: &'static str) -> Result<Matrix> {
        let a = self.arrays[name];
        let Some((&d, lead)) = a.shape.split_last() else {
            return Err(EnergyError::Shape {
                what: name,
                found: "[] (a scalar)".into(),
                expected: "an array [..., D] with at least one axis".into(),
            });
        };
        Matrix::new(lead.iter().product(), d, a.data.clone())
    }
}

/// The parameters of one evaluation: names checked against the loss's, values parsed on use.
struct Params<'a> {
    given: BTreeMap<&'a str, &'a str>,
}

impl<'a> Params<'a> {
    fn new(kind: SslLossKind, given: &'a [(String, String)]) -> Result<Self> {
        let known: Vec<&str> = kind.params().iter().map(|(n, _)| *n).collect();
        let mut map = BTreeMap::new();
        for (name, value) in given {
            if !known.contains(&name.as_str()) {
                return Err(EnergyError::UnknownName {
                    kind: format!("parameter of `{kind}`"),
                    name: name.clone(),
                    known: if known.is_empty() {
                        "none (it has no parameters)".into()
                    } else {
                        known.join(", ")
                    },
                });
            }
            if map.insert(name.as_str(), value.as_str()).is_some() {
                return Err(EnergyError::Duplicate {
                    kind: "parameter",
                    name: name.clone(),
                });
            }
        }
        Ok(Self { given: map })
    }

    /// Parameter `name` as a number, `default` when not given.
    fn real(&self, name: &'static str, default: f64) -> Result<f64> {
        match self.given.get(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| invalid(name, format!("{v:?}"), "a number")),
        }
    }

    /// Parameter `name` as a whole number ≥ 0, `default` when not given.
    fn count(&self, name: &'static str, default: usize) -> Result<usize> {
        match self.given.get(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| invalid(name, format!("{v:?}"), "a whole number >= 0")),
        }
    }
}

/// Evaluates loss `kind` on the named `inputs` with the `params` given as strings (the others
/// keep their defaults, [`SslLossKind::params`]).
///
/// # Errors
/// An unknown, repeated or missing input; an unknown or repeated parameter, or a value that
/// does not parse or is out of range; and every error of the loss itself (shapes, non-finite
/// values, rows that cannot be normalised), each naming the input or parameter.
pub fn evaluate(
    kind: SslLossKind,
    inputs: &[(String, SslArray)],
    params: &[(String, String)],
) -> Result<SslOutput> {
    let inp = Inputs::new(kind, inputs)?;
    let prm = Params::new(kind, params)?;
    let m = |name| inp.matrix(name);
    let loss = match kind {
        SslLossKind::Vicreg => {
            let d = VicregParams::default();
            let p = VicregParams {
                sim_coeff: prm.real("sim_coeff", d.sim_coeff)?,
                std_coeff: prm.real("std_coeff", d.std_coeff)?,
                cov_coeff: prm.real("cov_coeff", d.cov_coeff)?,
            };
            vicreg(&m("x")?, &m("y")?, &p)?
        }
        SslLossKind::BarlowTwins => {
            let lambd = prm.real("lambd", BarlowTwinsParams::default().lambd)?;
            barlow_twins(&m("z1")?, &m("z2")?, &BarlowTwinsParams { lambd })?
        }
        SslLossKind::Byol => byol(&m("p1")?, &m("p2")?, &m("t1")?, &m("t2")?)?,
        SslLossKind::SimSiam => simsiam(&m("p1")?, &m("p2")?, &m("z1")?, &m("z2")?)?,
        SslLossKind::NtXent => {
            let temperature = prm.real("temperature", NtXentParams::default().temperature)?;
            nt_xent(&m("z1")?, &m("z2")?, &NtXentParams { temperature })?
        }
        SslLossKind::InfoNce => {
            let temperature = prm.real("temperature", InfoNceParams::default().temperature)?;
            infonce(&m("q")?, &m("k")?, &InfoNceParams { temperature })?
        }
        SslLossKind::Ijepa => {
            let (pred, target) = (inp.rows("pred")?, inp.rows("target")?);
            if inp.shape("pred") != inp.shape("target") {
                return Err(EnergyError::Shape {
                    what: "target",
                    found: format!("{:?}", inp.shape("target")),
                    expected: format!("{:?} (the shape of `pred`)", inp.shape("pred")),
                });
            }
            ijepa(&pred, &target)?
        }
        SslLossKind::Sinkhorn => {
            let d = SinkhornParams::default();
            let p = SinkhornParams {
                epsilon: prm.real("epsilon", d.epsilon)?,
                iters: prm.count("iters", d.iters)?,
            };
            let q = sinkhorn(&m("scores")?, &p)?;
            return Ok(SslOutput {
                loss: None,
                terms: vec![],
                grads: vec![],
                q: Some(SslArray::from_matrix(&inp.shape("scores"), q)),
            });
        }
    };
    Ok(SslOutput::from_loss(loss, |name| inp.shape(name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::testing::mat;

    fn arr(rows: usize, cols: usize, seed: f64) -> SslArray {
        SslArray::new(vec![rows, cols], mat(rows, cols, seed, 1.0).into_vec()).unwrap()
    }

    fn inputs(kind: SslLossKind, rows: usize, cols: usize) -> Vec<(String, SslArray)> {
        let names = kind.inputs().iter().enumerate();
        names
            .map(|(i, n)| (n.to_string(), arr(rows, cols, 0.3 + i as f64 * 0.41)))
            .collect()
    }

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_known() {
        for k in SslLossKind::ALL {
            assert_eq!(k.name().parse::<SslLossKind>().unwrap(), k);
        }
        let e = SslLossKind::from_name("vicregl").unwrap_err().to_string();
        assert!(e.contains("unknown SSL loss `vicregl`"), "{e}");
        assert!(
            e.contains("vicreg, barlow-twins, byol, simsiam, nt-xent, infonce, ijepa, sinkhorn")
        );
    }

    #[test]
    fn every_loss_evaluates_with_its_defaults() {
        for k in SslLossKind::ALL {
            let out = evaluate(k, &inputs(k, 4, 3), &[]).unwrap();
            assert_eq!(out.loss.is_some(), k != SslLossKind::Sinkhorn, "{k}");
            assert_eq!(out.q.is_some(), k == SslLossKind::Sinkhorn, "{k}");
            for (name, g) in &out.grads {
                assert!(k.inputs().contains(name), "{k}: {name}");
                assert_eq!(g.shape, vec![4, 3], "{k}: {name}");
            }
        }
    }

    #[test]
    fn every_param_is_read_and_checked() {
        for k in SslLossKind::ALL {
            for (name, default) in k.params() {
                let inp = inputs(k, 4, 3);
                let with = |v: &str| evaluate(k, &inp, &[(name.to_string(), v.to_string())]);
                // The documented default gives the same result as no parameter.
                assert_eq!(
                    with(default).unwrap(),
                    evaluate(k, &inp, &[]).unwrap(),
                    "{k}"
                );
                let e = with("abc").unwrap_err().to_string();
                assert!(e.contains(&format!("`{name}` = \"abc\"")), "{k}: {e}");
                let e = with("-1").unwrap_err().to_string();
                assert!(e.contains(name), "{k}: {e}");
            }
        }
        let inp = inputs(SslLossKind::Vicreg, 4, 3);
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        let a = evaluate(SslLossKind::Vicreg, &inp, &p("sim_coeff", "1")).unwrap();
        let b = evaluate(SslLossKind::Vicreg, &inp, &[]).unwrap();
        assert_ne!(a.loss, b.loss, "a given parameter is used");
        let inp = inputs(SslLossKind::Sinkhorn, 4, 3);
        let e = evaluate(SslLossKind::Sinkhorn, &inp, &p("iters", "2.5")).unwrap_err();
        assert!(e.to_string().contains("a whole number"), "{e}");
    }

    #[test]
    fn unknown_missing_and_repeated_names_are_errors() {
        let k = SslLossKind::Vicreg;
        let mut inp = inputs(k, 4, 3);
        inp[1].0 = "z".into();
        let e = evaluate(k, &inp, &[]).unwrap_err().to_string();
        assert_eq!(e, "unknown input of `vicreg` `z`; known: x, y");
        let e = evaluate(k, &inp[..1], &[]).unwrap_err().to_string();
        assert_eq!(e, "`vicreg` needs input `y` (its inputs: x, y)");
        let twice = vec![inp[0].clone(), inp[0].clone()];
        let e = evaluate(k, &twice, &[]).unwrap_err().to_string();
        assert_eq!(e, "input `x` is given twice");
        let inp = inputs(k, 4, 3);
        let tau = vec![("temperature".to_string(), "0.1".to_string())];
        let e = evaluate(k, &inp, &tau).unwrap_err().to_string();
        assert!(e.contains("unknown parameter of `vicreg` `temperature`; known: sim_coeff"));
        let lam = vec![("lambd".to_string(), "0.1".to_string()); 2];
        let bt = inputs(SslLossKind::BarlowTwins, 4, 3);
        let e = evaluate(SslLossKind::BarlowTwins, &bt, &lam).unwrap_err();
        assert_eq!(e.to_string(), "parameter `lambd` is given twice");
        let e = evaluate(SslLossKind::Byol, &inputs(SslLossKind::Byol, 4, 3), &tau).unwrap_err();
        assert!(e.to_string().contains("none (it has no parameters)"));
    }

    #[test]
    fn ranks_and_shapes() {
        // 2-D losses refuse other ranks.
        let k = SslLossKind::Vicreg;
        let mut inp = inputs(k, 4, 3);
        inp[0].1 = SslArray::new(vec![12], inp[0].1.data.clone()).unwrap();
        let e = evaluate(k, &inp, &[]).unwrap_err().to_string();
        assert!(
            e.contains("`x` has shape [12]; expected a 2-D array"),
            "{e}"
        );
        // I-JEPA takes [..., D] and returns the gradient in the input's shape.
        let k = SslLossKind::Ijepa;
        let a = |seed| SslArray::new(vec![2, 3, 4], mat(6, 4, seed, 1.0).into_vec()).unwrap();
        let inp = vec![("pred".into(), a(0.2)), ("target".into(), a(0.5))];
        let out = evaluate(k, &inp, &[]).unwrap();
        assert_eq!(out.grads[0].1.shape, vec![2, 3, 4]);
        let flat = ijepa(&mat(6, 4, 0.2, 1.0), &mat(6, 4, 0.5, 1.0)).unwrap();
        assert_eq!(out.loss, Some(flat.value));
        let mut bad = inp.clone();
        bad[1].1 = SslArray::new(vec![3, 2, 4], a(0.5).data).unwrap();
        let e = evaluate(k, &bad, &[]).unwrap_err().to_string();
        assert!(
            e.contains("`target` has shape [3, 2, 4]; expected [2, 3, 4]"),
            "{e}"
        );
        bad[1].1 = SslArray::new(vec![], vec![1.0]).unwrap();
        let e = evaluate(k, &bad, &[]).unwrap_err().to_string();
        assert!(e.contains("scalar"), "{e}");
        assert!(SslArray::new(vec![2, 2], vec![0.0; 3]).is_err());
    }
}
