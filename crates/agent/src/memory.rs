//! Short-term memory: the most recent `(s, a, cost)` episodes with their goal (DESIGN.md §1),
//! used to train the critic and to distil the amortised policy.
//!
//! The episode loop records one [`Transition`] per control cycle (one planning call): the
//! encoded state `s_t` the planner started from, the first planned action `a_t` it executed,
//! and the cost `c_t = C(s_{t+1}, a_t)` of the cost module on the encoded state reached at the
//! end of the cycle (a rollout batch of one candidate and one step), so that returns
//! `Σ_k γᵏ c_{t+k}` are in the units the planner minimises. The critic's own term is left out
//! of `c_t`: it is what the critic ([`crate::critic`]) is trained to predict.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::AgentError;

/// One step of experience: the state, the action taken in it and the cost incurred.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// State (or latent) `s_t`, `[D]`.
    pub state: Vec<f32>,
    /// Action `a_t`, `[A]`.
    pub action: Vec<f32>,
    /// Cost observed for this step.
    pub cost: f32,
}

/// An episode: the goal representation and the transitions in time order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Episode {
    /// Encoded goal `s_goal [D]` the episode was planned toward.
    pub goal: Vec<f32>,
    /// Transitions, one per control cycle, in time order.
    pub transitions: Vec<Transition>,
    /// Encoded state after the last transition (`[D]`; empty when no step was taken).
    pub final_state: Vec<f32>,
}

/// Bounded ring buffer of episodes: pushing into a full memory evicts the oldest episode.
#[derive(Debug, Clone, PartialEq)]
pub struct ShortTermMemory {
    capacity: usize,
    episodes: VecDeque<Episode>,
}

impl ShortTermMemory {
    /// A memory holding at most `capacity ≥ 1` episodes.
    pub fn new(capacity: usize) -> Result<Self, AgentError> {
        if capacity == 0 {
            return Err(AgentError::config(
                "memory.capacity",
                capacity,
                "an integer >= 1",
            ));
        }
        Ok(Self {
            capacity,
            episodes: VecDeque::with_capacity(capacity),
        })
    }

    /// Store an episode; returns the evicted oldest episode when the memory was full.
    pub fn push(&mut self, episode: Episode) -> Option<Episode> {
        let evicted = if self.episodes.len() == self.capacity {
            self.episodes.pop_front()
        } else {
            None
        };
        self.episodes.push_back(episode);
        evicted
    }

    /// Number of stored episodes.
    pub fn len(&self) -> usize {
        self.episodes.len()
    }

    /// Whether no episode is stored.
    pub fn is_empty(&self) -> bool {
        self.episodes.is_empty()
    }

    /// Maximum number of episodes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Stored episodes, oldest first.
    pub fn episodes(&self) -> impl ExactSizeIterator<Item = &Episode> + '_ {
        self.episodes.iter()
    }

    /// Total number of transitions over all stored episodes.
    pub fn num_transitions(&self) -> usize {
        self.episodes.iter().map(|e| e.transitions.len()).sum()
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.episodes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn episode(tag: f32, len: usize) -> Episode {
        Episode {
            goal: vec![tag],
            transitions: (0..len)
                .map(|t| Transition {
                    state: vec![tag, t as f32],
                    action: vec![tag],
                    cost: t as f32,
                })
                .collect(),
            final_state: vec![tag, len as f32],
        }
    }

    #[test]
    fn ring_buffer_evicts_oldest() {
        let mut m = ShortTermMemory::new(2).unwrap();
        assert!(m.push(episode(0.0, 3)).is_none());
        assert!(m.push(episode(1.0, 1)).is_none());
        let evicted = m.push(episode(2.0, 2)).unwrap();
        assert_eq!(evicted.transitions[0].state[0], 0.0);
        assert_eq!(m.len(), 2);
        assert_eq!(m.num_transitions(), 3);
        let tags: Vec<f32> = m.episodes().map(|e| e.goal[0]).collect();
        assert_eq!(tags, vec![1.0, 2.0]);
        m.clear();
        assert!(m.is_empty());
    }

    #[test]
    fn zero_capacity_is_rejected() {
        let err = ShortTermMemory::new(0).unwrap_err().to_string();
        assert!(err.contains("memory.capacity"), "{err}");
    }
}
