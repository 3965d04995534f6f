//! Test doubles shared by the planners' unit tests: a level 1 that records the goals it is
//! given and a world model that never moves.

use std::cell::RefCell;
use std::rc::Rc;

use super::{Plan, Planner};
use crate::cost::{Cost, CostKind, GoalDistance};
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

/// A cost with the goal `goal` and one task term, the distance to it (what planners that hand
/// sub-goals to level 1 plan toward).
pub(crate) fn cost_to(goal: &[f32]) -> Cost {
    Cost::new()
        .with_goal(goal.to_vec())
        .with_term(
            CostKind::Task,
            1.0,
            GoalDistance::new(goal.to_vec()).unwrap(),
        )
        .unwrap()
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

/// A 2-D point mass in the box `[0, 10]²`, `s' = clamp(s + a)`, with a wall at
/// `4.5 ≤ x ≤ 5.5` open only in the door `door.0 ≤ y ≤ door.1`: a move that ends in the wall
/// outside the door, or changes sides without starting and ending in the door's rows, leaves
/// the state where it was (as the two-rooms data's blocked moves). `rollouts` counts the calls of `rollout`.
pub(crate) struct Walled {
    pub(crate) door: (f32, f32),
    pub(crate) rollouts: std::cell::Cell<usize>,
}

impl Walled {
    pub(crate) fn new(door: (f32, f32)) -> Self {
        Walled {
            door,
            rollouts: std::cell::Cell::new(0),
        }
    }

    fn step(&self, s: [f32; 2], a: &[f32]) -> [f32; 2] {
        let next = [
            (s[0] + a[0]).clamp(0.0, 10.0),
            (s[1] + a[1]).clamp(0.0, 10.0),
        ];
        let side = |x: f32| (x < 4.5, x > 5.5);
        let through_door = |y: f32| (self.door.0..=self.door.1).contains(&y);
        let changes = side(s[0]) != side(next[0]);
        let in_wall = side(next[0]) == (false, false);
        if (changes && !(through_door(s[1]) && through_door(next[1])))
            || (in_wall && !through_door(next[1]))
        {
            s
        } else {
            next
        }
    }
}

impl WorldModel for Walled {
    fn state_dim(&self) -> usize {
        2
    }
    fn action_dim(&self) -> usize {
        2
    }
    fn rollout(&self, s0: &[f32], a: &[f32], n: usize, h: usize) -> Result<Vec<f32>, AgentError> {
        self.rollouts.set(self.rollouts.get() + 1);
        let mut out = Vec::with_capacity(n * h * 2);
        for walk in a.chunks_exact(h * 2).take(n) {
            let mut s = [s0[0], s0[1]];
            for act in walk.chunks_exact(2) {
                s = self.step(s, act);
                out.extend_from_slice(&s);
            }
        }
        Ok(out)
    }
}
