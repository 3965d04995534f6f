//! Planning with sub-goals on the graph of the data ([`DataGraph`]): a shortest route along
//! the places the reward-free data visited gives the sub-goal, any flat planner reaches it.
//!
//! At every call: the goal's distance field (Dijkstra on the graph, once per goal), the route
//! from the current representation `s₀` ([`DataGraph::route`]), and as sub-goal the first
//! waypoint at least `reach = subgoal_steps · μ₁` along it (`μ₁`: the data's mean
//! representation step), or the goal itself when the route is shorter than that or there is
//! none. Level 1 — the configured `[planner]` with `low_horizon` planned actions — minimises
//! the task's cost re-aimed at the sub-goal ([`Cost::toward`]: the immutable terms kept, one
//! goal-distance term). Where the goal distance in representation space has a local minimum
//! (the wall between the agent and its goal), the route goes around it through the door the
//! data walked through; no true position is used.
//!
//! Where the graph has **no route** from `s₀` to the goal (the data never joined the two
//! places, e.g. PLDM's data without door crossings, `data.door_crossing_rate = 0`), what
//! the planner does is `hierarchy.graph.no_route`: `"goal"` (default) plans straight toward
//! the goal; `"imagined"` hands the call to a [`super::ImaginedGraphPlanner`] (routes on a
//! graph of the world model's own random walks), which can find a way the data never
//! walked if the model has learned one. Calls with a route keep the data graph's sub-goal.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Plan, Planner};
use crate::cost::Cost;
use crate::data_graph::{DataGraph, GoalField};
use crate::error::AgentError;
use crate::world_model::WorldModel;

/// `[hierarchy.graph]`: the data graph and the hand-over to level 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphConfig {
    /// A node every this many steps of each training trajectory (default 4).
    pub stride: usize,
    /// Links join nodes closer than this many mean steps `μ₁` (default 1.5).
    pub link_radius: f32,
    /// A link (and an attachment of the agent or goal) is kept only when its straight segment
    /// stays within this many `μ₁` of a seen state (default 0.5).
    pub line_radius: f32,
    /// The sub-goal is the first waypoint this many `μ₁` along the route (default 12).
    pub subgoal_steps: f32,
    /// Level-1 planning horizon toward the sub-goal, in planned actions (default 8).
    pub low_horizon: usize,
    /// What a call does when the graph has no route to the goal (module docs; default
    /// `"goal"`).
    pub no_route: NoRoute,
}

/// `hierarchy.graph.no_route`: the plan when the data graph has no route to the goal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoRoute {
    /// Plan straight toward the goal.
    #[default]
    Goal,
    /// Search a graph of the world model's imagined walks (`[hierarchy.imagined]`).
    Imagined,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            stride: 4,
            link_radius: 1.5,
            line_radius: 0.5,
            subgoal_steps: 12.0,
            low_horizon: 8,
            no_route: NoRoute::Goal,
        }
    }
}

impl GraphConfig {
    /// Checks the settings (errors name the key).
    pub fn validate(&self) -> Result<(), AgentError> {
        for (k, v) in [
            ("hierarchy.graph.stride", self.stride),
            ("hierarchy.graph.low_horizon", self.low_horizon),
        ] {
            if v == 0 {
                return Err(AgentError::config(k, 0, ">= 1"));
            }
        }
        for (k, v) in [
            ("hierarchy.graph.link_radius", self.link_radius),
            ("hierarchy.graph.line_radius", self.line_radius),
            ("hierarchy.graph.subgoal_steps", self.subgoal_steps),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(AgentError::config(k, v, "a finite value > 0"));
            }
        }
        Ok(())
    }
}

/// The sub-goal from `s0` toward `goal` on `graph`: the first waypoint at least `reach` along
/// the route ([`crate::data_graph::Route::ahead`]), or `None` when there is no route.
/// `field` caches the goal's distance field and is recomputed when the goal changes.
pub(crate) fn route_subgoal(
    graph: &DataGraph,
    field: &mut Option<GoalField>,
    s0: &[f32],
    goal: &[f32],
    reach: f32,
) -> Result<Option<Vec<f32>>, AgentError> {
    if field.as_ref().is_none_or(|f| f.goal != goal) {
        *field = Some(graph.field(goal)?);
    }
    Ok(field
        .as_ref()
        .and_then(|f| graph.route(s0, f))
        .map(|r| r.ahead(reach).to_vec()))
}

/// The planner of the module docs.
pub struct GraphPlanner {
    cfg: GraphConfig,
    low: Box<dyn Planner>,
    graph: Arc<DataGraph>,
    field: Option<GoalField>,
    subgoal: Option<Vec<f32>>,
    /// The planner of the calls without a route (`no_route = "imagined"`).
    no_route: Option<Box<dyn Planner>>,
    /// Whether the last call was handed to `no_route`.
    handed_over: bool,
}

impl std::fmt::Debug for GraphPlanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphPlanner")
            .field("cfg", &self.cfg)
            .field("nodes", &self.graph.len())
            .finish()
    }
}

impl GraphPlanner {
    /// Level 1 = `low` (its horizon is the low horizon), sub-goals from `graph`; calls
    /// without a route plan straight toward the goal.
    pub fn new(
        cfg: GraphConfig,
        low: Box<dyn Planner>,
        graph: Arc<DataGraph>,
    ) -> Result<Self, AgentError> {
        cfg.validate()?;
        Ok(GraphPlanner {
            cfg,
            low,
            graph,
            field: None,
            subgoal: None,
            no_route: None,
            handed_over: false,
        })
    }

    /// Hands the calls without a route to `planner` (`no_route = "imagined"`: the
    /// [`super::ImaginedGraphPlanner`]); its horizon must be the low planner's.
    pub fn with_no_route(mut self, planner: Box<dyn Planner>) -> Result<Self, AgentError> {
        if planner.horizon() != self.low.horizon() {
            return Err(AgentError::config(
                "hierarchy.imagined.low_horizon",
                planner.horizon(),
                "hierarchy.graph.low_horizon (one plan length for both levels 1)",
            ));
        }
        self.no_route = Some(planner);
        Ok(self)
    }

    /// Whether the last call had no route and was handed to the `no_route` planner.
    pub fn handed_over(&self) -> bool {
        self.handed_over
    }
}

impl Planner for GraphPlanner {
    fn plan(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Plan, AgentError> {
        let goal = cost.goal().ok_or_else(|| {
            AgentError::config_source(
                "agent.planner",
                "\"graph\" plans toward the task's goal, and this cost has none",
            )
        })?;
        let reach = self.cfg.subgoal_steps * self.graph.step();
        let route = route_subgoal(&self.graph, &mut self.field, s0, goal, reach)?;
        self.handed_over = false;
        let sub = match (route, self.no_route.as_mut()) {
            (Some(sub), _) => sub,
            (None, None) => goal.to_vec(),
            (None, Some(other)) => {
                self.handed_over = true;
                let plan = other.plan(s0, cost, model)?;
                self.subgoal = other.subgoal().map(<[f32]>::to_vec);
                return Ok(plan);
            }
        };
        let low_cost = cost.toward(sub.clone())?;
        self.subgoal = Some(sub);
        self.low.plan(s0, &low_cost, model)
    }

    fn shift(&mut self, k: usize) {
        self.low.shift(k);
        if let Some(p) = self.no_route.as_mut() {
            p.shift(k);
        }
    }

    fn reset(&mut self) {
        self.low.reset();
        if let Some(p) = self.no_route.as_mut() {
            p.reset();
        }
        self.field = None;
        self.subgoal = None;
        self.handed_over = false;
    }

    fn warm_start(&mut self, actions: &[f32], act_dim: usize) -> Result<(), AgentError> {
        self.low.warm_start(actions, act_dim)
    }

    fn horizon(&self) -> usize {
        self.low.horizon()
    }

    fn subgoal(&self) -> Option<&[f32]> {
        self.subgoal.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::data_graph::{rooms, walled};
    use crate::planner::test_doubles::{cost_to, Recorder, Still};

    #[test]
    fn the_sub_goal_leads_toward_the_door_and_is_the_goal_once_it_is_near() {
        let graph = Arc::new(DataGraph::build(&walled(), 2, 2, 2.5, 1.5).unwrap());
        let seen = Rc::new(RefCell::new(Vec::new()));
        // μ₁ = 0.25: the sub-goal is 12 · 0.25 = 3 along the route.
        let mut p = GraphPlanner::new(
            GraphConfig::default(),
            Box::new(Recorder(seen.clone())),
            graph,
        )
        .unwrap();
        assert_eq!(p.horizon(), 1);
        let goal = [8.0f32, 8.0];
        let cost = cost_to(&goal);
        // Across the wall from the goal: the sub-goal is down the left room, toward the door
        // (the straight way is through the wall), about 3 from the agent.
        p.plan(&[2.0, 8.0], &cost, &Still).unwrap();
        let sub = seen.borrow()[0].clone();
        assert!(sub[0] <= 4.0 && sub[1] < 6.5, "{sub:?}");
        let far = ((sub[0] - 2.0).powi(2) + (sub[1] - 8.0).powi(2)).sqrt();
        assert!((2.4..=3.6).contains(&far), "{sub:?} is {far} away");
        assert_eq!(p.subgoal(), Some(&sub[..]));
        // In the goal's room, a step away: the sub-goal is the goal itself.
        p.plan(&[7.5, 8.0], &cost, &Still).unwrap();
        assert_eq!(seen.borrow()[1], goal.to_vec());
        // A new goal gets its own field.
        let other = [0.0f32, 10.0];
        p.plan(&[1.0, 10.0], &cost_to(&other), &Still).unwrap();
        assert_eq!(seen.borrow()[2], other.to_vec());
        p.reset();
        assert!(p.subgoal().is_none());
        // A cost without a goal cannot be planned toward.
        let err = p.plan(&[2.0, 8.0], &Cost::new(), &Still).unwrap_err();
        assert!(err.to_string().contains("agent.planner"), "{err}");
    }

    #[test]
    fn calls_without_a_route_go_to_the_no_route_planner_and_the_others_stay() {
        let graph = Arc::new(DataGraph::build(&rooms(false), 2, 2, 2.5, 1.5).unwrap());
        let low = Rc::new(RefCell::new(Vec::new()));
        let other = Rc::new(RefCell::new(Vec::new()));
        let goal = [8.0f32, 8.0];
        let cost = cost_to(&goal);
        // Default ("goal"): without a route, level 1 plans straight toward the goal.
        let mut plain = GraphPlanner::new(
            GraphConfig::default(),
            Box::new(Recorder(low.clone())),
            Arc::clone(&graph),
        )
        .unwrap();
        plain.plan(&[2.0, 8.0], &cost, &Still).unwrap();
        assert_eq!(low.borrow()[0], goal.to_vec());
        assert!(!plain.handed_over());
        // "imagined": the same call goes to the other planner, with the task's own cost.
        let mut p = GraphPlanner::new(
            GraphConfig {
                no_route: NoRoute::Imagined,
                ..GraphConfig::default()
            },
            Box::new(Recorder(low.clone())),
            graph,
        )
        .unwrap()
        .with_no_route(Box::new(Recorder(other.clone())))
        .unwrap();
        p.plan(&[2.0, 8.0], &cost, &Still).unwrap();
        assert_eq!(low.borrow().len(), 1, "level 1 was not called");
        assert_eq!(other.borrow().as_slice(), &[goal.to_vec()]);
        assert!(p.handed_over());
        // In the goal's room, 7 away, the route exists: level 1 gets the data graph's
        // sub-goal (3 along it) again.
        p.plan(&[6.5, 1.0], &cost, &Still).unwrap();
        assert_eq!(other.borrow().len(), 1);
        assert_eq!(low.borrow().len(), 2);
        assert!(!p.handed_over());
        let sub = low.borrow()[1].clone();
        assert!(sub[0] > 6.0 && sub != goal.to_vec(), "{sub:?}");
        p.reset();
        assert!(!p.handed_over());
    }

    /// A planner of horizon `.1` that records its `shift`, `reset` and `warm_start` calls.
    struct Counter(Rc<RefCell<Vec<&'static str>>>, usize);

    impl Planner for Counter {
        fn plan(&mut self, _: &[f32], _: &Cost, _: &dyn WorldModel) -> Result<Plan, AgentError> {
            unreachable!("no call is handed over in this test")
        }
        fn shift(&mut self, _: usize) {
            self.0.borrow_mut().push("shift");
        }
        fn reset(&mut self) {
            self.0.borrow_mut().push("reset");
        }
        fn warm_start(&mut self, _: &[f32], _: usize) -> Result<(), AgentError> {
            self.0.borrow_mut().push("warm_start");
            Ok(())
        }
        fn horizon(&self) -> usize {
            self.1
        }
    }

    #[test]
    fn horizon_and_warm_start_are_level_1s() {
        let graph = Arc::new(DataGraph::build(&rooms(false), 2, 2, 2.5, 1.5).unwrap());
        let calls = Rc::new(RefCell::new(Vec::new()));
        let mut p = GraphPlanner::new(
            GraphConfig::default(),
            Box::new(Counter(calls.clone(), 3)),
            graph,
        )
        .unwrap();
        assert_eq!(p.horizon(), 3);
        p.warm_start(&[0.0; 6], 2).unwrap();
        assert_eq!(calls.borrow().as_slice(), &["warm_start"]);
    }

    #[test]
    fn the_no_route_planner_is_shifted_and_reset_with_level_1() {
        let graph = Arc::new(DataGraph::build(&rooms(false), 2, 2, 2.5, 1.5).unwrap());
        let calls = Rc::new(RefCell::new(Vec::new()));
        let low = Rc::new(RefCell::new(Vec::new()));
        let mut p = GraphPlanner::new(GraphConfig::default(), Box::new(Recorder(low)), graph)
            .unwrap()
            .with_no_route(Box::new(Counter(calls.clone(), 1)))
            .unwrap();
        p.shift(1);
        p.reset();
        assert_eq!(calls.borrow().as_slice(), &["shift", "reset"]);
    }

    #[test]
    fn a_no_route_planner_of_another_horizon_is_refused() {
        struct Long;
        impl Planner for Long {
            fn plan(
                &mut self,
                _: &[f32],
                _: &Cost,
                _: &dyn WorldModel,
            ) -> Result<Plan, AgentError> {
                unreachable!()
            }
            fn shift(&mut self, _: usize) {}
            fn reset(&mut self) {}
            fn horizon(&self) -> usize {
                8
            }
        }
        let graph = Arc::new(DataGraph::build(&rooms(false), 2, 2, 2.5, 1.5).unwrap());
        let low = Rc::new(RefCell::new(Vec::new()));
        let err = GraphPlanner::new(GraphConfig::default(), Box::new(Recorder(low)), graph)
            .unwrap()
            .with_no_route(Box::new(Long))
            .unwrap_err()
            .to_string();
        assert!(err.contains("hierarchy.imagined.low_horizon"), "{err}");
    }

    #[test]
    fn bad_settings_name_their_key() {
        for (cfg, key) in [
            (
                GraphConfig {
                    stride: 0,
                    ..GraphConfig::default()
                },
                "hierarchy.graph.stride",
            ),
            (
                GraphConfig {
                    low_horizon: 0,
                    ..GraphConfig::default()
                },
                "hierarchy.graph.low_horizon",
            ),
            (
                GraphConfig {
                    link_radius: -1.0,
                    ..GraphConfig::default()
                },
                "hierarchy.graph.link_radius",
            ),
            (
                GraphConfig {
                    line_radius: f32::INFINITY,
                    ..GraphConfig::default()
                },
                "hierarchy.graph.line_radius",
            ),
            (
                GraphConfig {
                    subgoal_steps: 0.0,
                    ..GraphConfig::default()
                },
                "hierarchy.graph.subgoal_steps",
            ),
        ] {
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
        GraphConfig::default().validate().unwrap();
    }
}
