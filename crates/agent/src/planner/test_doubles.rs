//! Test doubles shared by the planners' unit tests: a level 1 that records the goals it is
//! given and a world model that never moves.

use std::cell::RefCell;
use std::rc::Rc;

use super::{Plan, Planner};
use crate::cost::Cost;
use crate::error::AgentError;
use crate::world_model::WorldModel;

/// Level 1 that records the goal of every cost it was given and plans zeros (horizon 1).
pub(crate) struct Recorder(pub(crate) Rc<RefCell<Vec<Vec<f32>>>>);

impl Planner for Recorder {
    fn plan(&mut self, _s0: &[f32], cost: &Cost, _m: &dyn WorldModel) -> Result<Plan, AgentError> {
        self.0.borrow_mut().push(cost.goal().unwrap().to_vec());
        Ok(Plan {
            actions: vec![0.0; 2],
            predicted_states: vec![0.0; 2],
            cost: 0.0,
            cost_breakdown: Vec::new(),
            iterations: 1,
            safe: true,
        })
    }
    fn shift(&mut self, _k: usize) {}
    fn reset(&mut self) {}
    fn horizon(&self) -> usize {
        1
    }
}

/// A 2-D world model in which nothing moves.
pub(crate) struct Still;

impl WorldModel for Still {
    fn state_dim(&self) -> usize {
        2
    }
    fn action_dim(&self) -> usize {
        2
    }
    fn rollout(&self, s0: &[f32], _a: &[f32], n: usize, h: usize) -> Result<Vec<f32>, AgentError> {
        Ok(s0.repeat(n * h))
    }
}
