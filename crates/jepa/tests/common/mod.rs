//! The reference JEPA of `tests/fixtures/jepa_loss.json` (written by `fixtures/jepa_loss.py`,
//! numpy float64): its configuration, weights, batch, loss terms and finite-difference
//! gradients, and the same model rebuilt as a [`Jepa`]. Shared by the test binaries (each uses
//! only some of it).
#![allow(dead_code)]

use std::collections::BTreeMap;

use ami_jepa::burn::module::Param;
use ami_jepa::burn::tensor::{Device, Tensor, TensorData};
use ami_jepa::mlp::Mlp;
use ami_jepa::{Jepa, JepaConfig, ObjectiveConfig};
use serde::Deserialize;

/// Named parameters: `name -> (shape, values)`, weights `[in, out]` as burn stores them.
pub type Params = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// One finite-difference gradient entry of the fixture.
#[derive(Debug, Deserialize)]
pub struct GradientEntry {
    /// Parameter name, e.g. `encoder.layers.0.weight`.
    pub param: String,
    /// Index into the parameter (`[row, col]` for weights, `[j]` for biases).
    pub index: Vec<usize>,
    /// `∂term/∂param[index]` per term name, and `total`.
    #[serde(flatten)]
    pub by_term: BTreeMap<String, f64>,
}

/// The parsed fixture.
pub struct Reference {
    pub model: JepaConfig,
    pub objective: ObjectiveConfig,
    pub params: Params,
    /// `obs [B, k+1, obs_dim]` as `(shape, values)`.
    pub obs: ([usize; 3], Vec<f32>),
    /// `actions [B, k, A]` as `(shape, values)`.
    pub actions: ([usize; 3], Vec<f32>),
    /// The five unweighted terms and `total`, in float64.
    pub terms: BTreeMap<String, f64>,
    pub gradients: Vec<GradientEntry>,
}

#[derive(Deserialize)]
struct Raw {
    model: JepaConfig,
    objective: ObjectiveConfig,
    params: BTreeMap<String, serde_json::Value>,
    obs: Vec<Vec<Vec<f64>>>,
    actions: Vec<Vec<Vec<f64>>>,
    terms: BTreeMap<String, f64>,
    gradients: Vec<GradientEntry>,
}

/// A nested JSON array of numbers as `(shape, values)`; the fixture's values are exact f32.
fn flatten(v: &serde_json::Value) -> (Vec<usize>, Vec<f32>) {
    match v.as_array() {
        Some(items) if items.first().is_some_and(|x| x.is_array()) => {
            let parts: Vec<_> = items.iter().map(flatten).collect();
            let mut shape = vec![parts.len()];
            shape.extend_from_slice(&parts[0].0);
            (shape, parts.into_iter().flat_map(|p| p.1).collect())
        }
        Some(items) => (
            vec![items.len()],
            items
                .iter()
                .map(|x| x.as_f64().expect("a number") as f32)
                .collect(),
        ),
        None => panic!("expected an array, got {v}"),
    }
}

fn batch(v: &[Vec<Vec<f64>>]) -> ([usize; 3], Vec<f32>) {
    let shape = [v.len(), v[0].len(), v[0][0].len()];
    let values = v.iter().flatten().flatten().map(|x| *x as f32).collect();
    (shape, values)
}

/// Loads `tests/fixtures/jepa_loss.json`.
pub fn reference() -> Reference {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jepa_loss.json");
    let text = std::fs::read_to_string(path).expect(path);
    let raw: Raw = serde_json::from_str(&text).expect(path);
    Reference {
        model: raw.model,
        objective: raw.objective,
        params: raw
            .params
            .iter()
            .map(|(k, v)| (k.clone(), flatten(v)))
            .collect(),
        obs: batch(&raw.obs),
        actions: batch(&raw.actions),
        terms: raw.terms,
        gradients: raw.gradients,
    }
}

fn set_mlp(mlp: &mut Mlp, prefix: &str, params: &Params, device: &Device) -> usize {
    for (i, layer) in mlp.layers.iter_mut().enumerate() {
        let name = format!("{prefix}.layers.{i}.weight");
        let (shape, w) = params.get(&name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(shape[..], layer.weight.val().dims()[..], "{name}");
        layer.weight = Param::from_data(TensorData::new(w.clone(), [shape[0], shape[1]]), device);
        let name = format!("{prefix}.layers.{i}.bias");
        let (shape, b) = params.get(&name).unwrap_or_else(|| panic!("{name}"));
        layer.bias = Some(Param::from_data(
            TensorData::new(b.clone(), [shape[0]]),
            device,
        ));
    }
    2 * mlp.layers.len()
}

impl Reference {
    /// The fixture's model with `params` (normally [`Reference::params`]) on `device`.
    pub fn jepa_with(&self, params: &Params, device: &Device) -> Jepa {
        let mut jepa = self.model.init(device).expect("valid fixture config");
        let mut used = set_mlp(&mut jepa.encoder, "encoder", params, device);
        used += set_mlp(&mut jepa.predictor, "predictor", params, device);
        used += set_mlp(&mut jepa.idm, "idm", params, device);
        assert_eq!(used, params.len(), "every fixture parameter is placed");
        jepa
    }

    /// The fixture's model on `device`.
    pub fn jepa(&self, device: &Device) -> Jepa {
        self.jepa_with(&self.params, device)
    }

    /// `(obs, actions)` as tensors on `device`.
    pub fn batch(&self, device: &Device) -> (Tensor<3>, Tensor<3>) {
        let obs = Tensor::from_data(TensorData::new(self.obs.1.clone(), self.obs.0), device);
        let act = Tensor::from_data(
            TensorData::new(self.actions.1.clone(), self.actions.0),
            device,
        );
        (obs, act)
    }
}

/// The MLP holding parameter `name` (`encoder.layers.0.weight` → `jepa.encoder`) and the
/// layer index.
pub fn layer_of<'a>(jepa: &'a Jepa, name: &str) -> (&'a Mlp, usize) {
    let mut parts = name.split('.');
    let mlp = match parts.next() {
        Some("encoder") => &jepa.encoder,
        Some("predictor") => &jepa.predictor,
        Some("idm") => &jepa.idm,
        other => panic!("unknown module {other:?} in {name}"),
    };
    let layer = parts.nth(1).and_then(|i| i.parse().ok()).expect(name);
    (mlp, layer)
}

/// Flat offset of `index` in a tensor of `shape` (row-major).
pub fn offset(shape: &[usize], index: &[usize]) -> usize {
    index.iter().zip(shape).fold(0, |acc, (i, n)| acc * n + i)
}
