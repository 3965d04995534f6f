//! `ami._ami.Run`: a trained run ([`TrainedRun`]) — encode, roll out, plan.

use std::path::PathBuf;

use ami_agent::pipeline::TrainedRun;
use numpy::{PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::exceptions::PyFileNotFoundError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::arrays::{output, shape_str, Input};
use crate::errors::{bad_arg, guarded};

/// A trained run directory, loaded once (world model, actor, cost).
#[pyclass(module = "ami._ami", frozen)]
pub struct Run {
    inner: TrainedRun,
}

/// Opens the run directory `path` (written by `ami train`, `ami demo` or `ami.train`).
#[pyfunction]
pub fn load_run(py: Python<'_>, path: PathBuf) -> PyResult<Run> {
    let missing = if !path.is_dir() {
        Some("no such run directory")
    } else if !path.join("config.toml").is_file() {
        Some("not a run directory (no config.toml)")
    } else {
        None
    };
    if let Some(why) = missing {
        return Err(PyFileNotFoundError::new_err(format!(
            "{}: {why}",
            path.display()
        )));
    }
    let inner = py.detach(|| guarded("load_run", || TrainedRun::open(&path)))?;
    Ok(Run { inner })
}

impl Run {
    /// Wraps a run the library has just opened.
    pub fn new(inner: TrainedRun) -> Self {
        Run { inner }
    }

    /// `obs` as `n` observations: `[*obs_shape]` (one, `single`) or `[N, *obs_shape]`.
    fn observations<'a>(
        &self,
        arg: &str,
        obs: &'a PyReadonlyArrayDyn<'_, f32>,
    ) -> PyResult<(Input<'a>, usize, bool)> {
        let input = Input::of(arg, obs)?;
        let tail = self.inner.obs_shape();
        let mut batched = vec![0];
        batched.extend(tail);
        let expected = format!(
            "{} or {}",
            shape_str(&batched).replacen('0', "N", 1),
            shape_str(tail)
        );
        let (lead, n) = input.expect_rows(arg, &[1, 0], tail, &expected)?;
        Ok((input, n, lead == 0))
    }
}

#[pymethods]
impl Run {
    /// The run directory.
    #[getter]
    fn root(&self) -> PathBuf {
        self.inner.root().to_path_buf()
    }

    /// The run's configuration as TOML text (its `config.toml`, as loaded).
    #[getter]
    fn config_toml(&self) -> PyResult<String> {
        guarded("config", || self.inner.config().to_toml())
    }

    /// The run's configuration as JSON text (the same values as `config_toml`).
    #[getter]
    fn config_json(&self) -> PyResult<String> {
        serde_json::to_string(self.inner.config())
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("config: {e}")))
    }

    /// Shape of one observation.
    #[getter]
    fn obs_shape(&self) -> Vec<usize> {
        self.inner.obs_shape().to_vec()
    }

    /// Length A of one action.
    #[getter]
    fn action_dim(&self) -> usize {
        self.inner.action_dim()
    }

    /// Dimension D of the representation.
    #[getter]
    fn repr_dim(&self) -> usize {
        self.inner.repr_dim()
    }

    /// Planned actions per planning call (`agent.horizon`).
    #[getter]
    fn horizon(&self) -> usize {
        self.inner.horizon()
    }

    /// Bound on the Euclidean norm of one action.
    #[getter]
    fn max_action_norm(&self) -> f32 {
        self.inner.max_action_norm()
    }

    /// Encodes `obs` (`[N, *obs_shape]` → `[N, D]`, or `[*obs_shape]` → `[D]`).
    fn encode<'py>(
        &self,
        py: Python<'py>,
        obs: PyReadonlyArrayDyn<'py, f32>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let (input, n, single) = self.observations("obs", &obs)?;
        let data = input.data;
        let s = py.detach(|| guarded("encode", || self.inner.encode(data)))?;
        let d = self.inner.repr_dim();
        let shape = if single { vec![d] } else { vec![n, d] };
        output(py, s, &shape)
    }

    /// Rolls the world model out from `start` (observations, or representations when
    /// `from_repr`) with `actions [N, H, A]` → `[N, H + 1, D]` (row 0 is the start's
    /// representation); unbatched `start` and `actions [H, A]` give `[H + 1, D]`.
    #[pyo3(signature = (start, actions, from_repr))]
    fn rollout<'py>(
        &self,
        py: Python<'py>,
        start: PyReadonlyArrayDyn<'py, f32>,
        actions: PyReadonlyArrayDyn<'py, f32>,
        from_repr: bool,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let (d, a) = (self.inner.repr_dim(), self.inner.action_dim());
        let (s0, n, single) = if from_repr {
            let input = Input::of("start", &start)?;
            let (lead, n) =
                input.expect_rows("start", &[1, 0], &[d], &format!("(N, {d}) or ({d},)"))?;
            (input.data.to_vec(), n, lead == 0)
        } else {
            let (input, n, single) = self.observations("start", &start)?;
            let data = input.data;
            (
                py.detach(|| guarded("encode", || self.inner.encode(data)))?,
                n,
                single,
            )
        };
        let acts = Input::of("actions", &actions)?;
        let lead = if single { 1 } else { 2 };
        let ok =
            acts.shape.len() == lead + 1 && acts.shape[lead] == a && (single || acts.shape[0] == n);
        if !ok {
            let expected = if single {
                format!("(H, {a})")
            } else {
                format!("(N={n}, H, {a})")
            };
            return Err(bad_arg(
                "actions",
                format!("expected shape {expected}, got {}", shape_str(&acts.shape)),
            ));
        }
        let h = acts.shape[lead - 1];
        let data = acts.data;
        let states = py.detach(|| guarded("rollout", || self.inner.rollout(&s0, data, h)))?;
        let shape = if single {
            vec![h + 1, d]
        } else {
            vec![n, h + 1, d]
        };
        output(py, states, &shape)
    }

    /// One planning call from `obs` to the goal observation `goal` (both `[*obs_shape]`)
    /// with the run's actor; the planner's seed offset is `seed` (`None`: `train.seed`, as
    /// in `ami eval`). Returns a dict: `actions [H, A]`, `predicted_states [H, D]`, `cost`,
    /// `cost_breakdown` (list of (term, weighted cost)), `iterations`, `safe`.
    #[pyo3(signature = (obs, goal, seed=None))]
    fn plan<'py>(
        &self,
        py: Python<'py>,
        obs: PyReadonlyArrayDyn<'py, f32>,
        goal: PyReadonlyArrayDyn<'py, f32>,
        seed: Option<u64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let one = |arg: &str, x: &PyReadonlyArrayDyn<'py, f32>| -> PyResult<Vec<f32>> {
            let input = Input::of(arg, x)?;
            let tail = self.inner.obs_shape();
            input.expect_rows(arg, &[0], tail, &shape_str(tail))?;
            Ok(input.data.to_vec())
        };
        let (o, g) = (one("obs", &obs)?, one("goal", &goal)?);
        let seed = seed.unwrap_or(self.inner.config().train.seed);
        let plan = py.detach(|| guarded("plan", || self.inner.plan(&o, &g, seed)))?;
        let (h, a, d) = (
            self.inner.horizon(),
            self.inner.action_dim(),
            self.inner.repr_dim(),
        );
        let rows = plan.actions.len() / a.max(1);
        let out = PyDict::new(py);
        out.set_item("actions", output(py, plan.actions, &[rows, a])?)?;
        let predicted = plan.predicted_states.len() / d.max(1);
        out.set_item(
            "predicted_states",
            output(py, plan.predicted_states, &[predicted, d])?,
        )?;
        out.set_item("cost", plan.cost)?;
        out.set_item("cost_breakdown", PyList::new(py, plan.cost_breakdown)?)?;
        out.set_item("iterations", plan.iterations)?;
        out.set_item("safe", plan.safe)?;
        out.set_item("horizon", h)?;
        Ok(out)
    }
}
