//! Independent jobs (episodes, relabelling passes) spread over one worker per core.
//!
//! Each worker runs inside its own one-thread rayon pool, so the tensor backend and the
//! planning kernel do not split a worker's work over cores the other workers already use,
//! and builds its own state (world model, planner, environment) once. Jobs are taken in
//! order from a shared counter; results come back in item order, so they do not depend on
//! the number of workers as long as every job is independent of the others.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::error::AgentError;

/// The number of workers for `jobs` jobs: one per core, at most one per job, at least one.
pub fn worker_count(jobs: usize) -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(jobs)
        .max(1)
}

/// `f(state, item)` for every item on `workers` threads, each with its own `state` from
/// `init`; results in item order. `done(results)` is called after every job with the results
/// so far (`None` where not finished), e.g. to report progress.
pub fn map_on_workers<T, R, S>(
    items: &[T],
    workers: usize,
    init: impl Fn() -> Result<S, AgentError> + Sync,
    f: impl Fn(&mut S, &T) -> Result<R, AgentError> + Sync,
    done: impl Fn(&[Option<R>]) + Sync,
) -> Result<Vec<R>, AgentError>
where
    T: Sync,
    R: Send + Clone,
{
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![None; items.len()]);
    let panicked = || AgentError::WorldModel("a worker panicked".into());
    std::thread::scope(|scope| -> Result<(), AgentError> {
        let handles: Vec<_> = (0..workers.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<(), AgentError> {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(1)
                        .build()
                        .map_err(|e| AgentError::WorldModel(format!("thread pool: {e}")))?;
                    pool.install(|| -> Result<(), AgentError> {
                        let mut state = init()?;
                        loop {
                            let i = next.fetch_add(1, Ordering::SeqCst);
                            let Some(item) = items.get(i) else {
                                return Ok(());
                            };
                            let r = f(&mut state, item)?;
                            let mut res = results.lock().map_err(|_| panicked())?;
                            res[i] = Some(r);
                            done(&res);
                        }
                    })
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| panicked())??;
        }
        Ok(())
    })?;
    results
        .into_inner()
        .map_err(|_| panicked())?
        .into_iter()
        .collect::<Option<_>>()
        .ok_or_else(|| AgentError::WorldModel("a job was not run".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order_whatever_the_number_of_workers() {
        let items: Vec<u64> = (0..37).collect();
        let run = |w| map_on_workers(&items, w, || Ok(10u64), |s, x| Ok(*s * x), |_| {}).unwrap();
        let one = run(1);
        assert_eq!(one, items.iter().map(|x| 10 * x).collect::<Vec<_>>());
        assert_eq!(run(3), one);
        let err = map_on_workers(
            &items,
            2,
            || Ok(()),
            |_, &x| {
                if x == 5 {
                    Err(AgentError::config("job", x, "not 5"))
                } else {
                    Ok(x)
                }
            },
            |_| {},
        );
        assert!(err.unwrap_err().to_string().contains("job"));
    }
}
