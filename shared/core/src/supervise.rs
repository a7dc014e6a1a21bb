//! Background work that is never silently gone. A process's relays, consumers, workers and
//! watchers run as [`Task`]s under [`supervise`]: one that ends or panics while the process serves
//! is logged and started again after a backoff (1 s doubling to 30 s); one that keeps failing
//! (five times in a row, each within a minute of its start) makes `supervise` return, and the
//! launcher then takes the process to `NOT_SERVING` and out, so whatever runs it (Kubernetes, the
//! cluster script, systemd) starts a fresh one. Every restart counts in
//! `crm_task_restarts_total{task}`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use futures::future::BoxFuture;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// A piece of background work, by name, that can be started again.
#[derive(Clone)]
pub struct Task {
    name: String,
    run: Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>,
}

impl Task {
    /// `run` makes a fresh run of the work each time it is called (the first start and every
    /// restart). The run is meant to last as long as the process serves.
    pub fn new<F, Fut>(name: impl Into<String>, run: F) -> Task
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Task {
            name: name.into(),
            run: Arc::new(move || Box::pin(run())),
        }
    }

    /// One run of the work, to spawn or await without supervision (tests).
    pub fn run(&self) -> BoxFuture<'static, ()> {
        (self.run)()
    }

    /// Its name, as the logs and `crm_task_restarts_total` show it (`relay crm.iam.events.v1`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task").field("name", &self.name).finish()
    }
}

/// When a stopped task is started again, and when supervision gives up.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// The wait before the first restart; it doubles with every failure in a row.
    pub first_delay: Duration,
    /// The longest wait between restarts.
    pub max_delay: Duration,
    /// A run that lasted this long was healthy: its task's failures in a row start again from 0.
    pub healthy_after: Duration,
    /// Failures in a row after which supervision gives up.
    pub give_up_after: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
            give_up_after: 5,
        }
    }
}

impl Policy {
    fn delays(&self) -> backon::ExponentialBackoff {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .without_max_times()
            .build()
    }
}

/// Why supervision gave up: a task that kept failing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaveUp {
    /// The task's name.
    pub task: String,
    /// Its failures in a row.
    pub failures: u32,
    /// How its last run stopped (`ended`, or `panicked: <message>`).
    pub last: String,
}

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the background task `{}` stopped {} times in a row (last: {})",
            self.task, self.failures, self.last
        )
    }
}

impl std::error::Error for GaveUp {}

struct Slot {
    task: Task,
    failures: u32,
    started: Instant,
    delays: backon::ExponentialBackoff,
}

/// Runs `tasks` and keeps them running: resolves only when one has failed `give_up_after` times
/// in a row. Dropping the future stops every task (the launcher does at shutdown).
pub async fn supervise(tasks: Vec<Task>, policy: Policy) -> GaveUp {
    let mut running = JoinSet::new();
    let mut slots: Vec<Slot> = Vec::with_capacity(tasks.len());
    let mut ids = HashMap::new();
    for (index, task) in tasks.into_iter().enumerate() {
        let _ = restarts(task.name());
        let id = running.spawn((task.run)()).id();
        ids.insert(id, index);
        slots.push(Slot {
            task,
            failures: 0,
            started: Instant::now(),
            delays: policy.delays(),
        });
    }
    loop {
        let Some(joined) = running.join_next_with_id().await else {
            // Nothing to supervise.
            return std::future::pending().await;
        };
        let (id, how) = match joined {
            Ok((id, ())) => (id, "ended".to_owned()),
            Err(e) if e.is_panic() => {
                let id = e.id();
                (id, format!("panicked: {}", panic_message(e.into_panic())))
            }
            // Cancelled: only the runtime shutting down cancels these tasks (nothing else
            // holds their handles); that is no failure, and nothing is started again.
            Err(e) => {
                ids.remove(&e.id());
                continue;
            }
        };
        let Some(index) = ids.remove(&id) else {
            continue;
        };
        let slot = &mut slots[index];
        if slot.started.elapsed() >= policy.healthy_after {
            slot.failures = 0;
            slot.delays = policy.delays();
        }
        slot.failures += 1;
        if slot.failures >= policy.give_up_after {
            tracing::error!(
                task = slot.task.name(),
                failures = slot.failures,
                how = %how,
                "a background task keeps stopping: giving up on it"
            );
            return GaveUp {
                task: slot.task.name().to_owned(),
                failures: slot.failures,
                last: how,
            };
        }
        let delay = slot.delays.next().unwrap_or(policy.max_delay);
        tracing::error!(
            task = slot.task.name(),
            how = %how,
            failures = slot.failures,
            restart_in_ms = delay.as_millis() as u64,
            "a background task stopped while the process serves: starting it again"
        );
        restarts(slot.task.name()).inc();
        slot.started = Instant::now() + delay;
        let run = slot.task.run.clone();
        let id = running
            .spawn(async move {
                tokio::time::sleep(delay).await;
                run().await;
            })
            .id();
        ids.insert(id, index);
    }
}

/// The counter of `task`'s restarts, created at 0 when the task first starts (so an alert's
/// `increase` sees the first restart too).
fn restarts(
    task: &str,
) -> prometheus_client::metrics::counter::Counter<u64, std::sync::atomic::AtomicU64> {
    crate::metrics::TASK_RESTARTS
        .get_or_create(&crate::metrics::TaskLabel {
            task: task.to_owned(),
        })
        .clone()
}

/// A panic's message, when it has one.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "no message".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn quick(give_up_after: u32) -> Policy {
        Policy {
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            healthy_after: Duration::from_secs(3600),
            give_up_after,
        }
    }

    #[tokio::test]
    async fn a_task_that_panics_is_started_again_and_the_others_keep_running() {
        let runs = Arc::new(AtomicU32::new(0));
        let steady = Arc::new(AtomicU32::new(0));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let done_tx = Arc::new(std::sync::Mutex::new(Some(done_tx)));
        let flaky = {
            let runs = runs.clone();
            Task::new("flaky", move || {
                let runs = runs.clone();
                let done_tx = done_tx.clone();
                async move {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    if run < 3 {
                        panic!("run {run} fell over");
                    }
                    // The third run stays up, and says so.
                    if let Some(tx) = done_tx.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                    std::future::pending::<()>().await
                }
            })
        };
        let other = {
            let steady = steady.clone();
            Task::new("steady", move || {
                let steady = steady.clone();
                async move {
                    steady.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<()>().await
                }
            })
        };
        let before = restarts("flaky").get();
        tokio::select! {
            gave_up = supervise(vec![flaky, other], quick(5)) => panic!("gave up: {gave_up}"),
            _ = done_rx => {}
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "two panics, then a run that stays up"
        );
        assert_eq!(
            steady.load(Ordering::SeqCst),
            1,
            "the task that did not fail was never started again"
        );
        assert_eq!(restarts("flaky").get() - before, 2);
    }

    #[tokio::test]
    async fn a_task_that_keeps_stopping_makes_supervision_give_up_naming_it() {
        let runs = Arc::new(AtomicU32::new(0));
        let ending = {
            let runs = runs.clone();
            Task::new("ending", move || {
                let runs = runs.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let steady = Task::new("steady", std::future::pending::<()>);
        let gave_up = supervise(vec![steady, ending], quick(4)).await;
        assert_eq!(
            gave_up,
            GaveUp {
                task: "ending".into(),
                failures: 4,
                last: "ended".into()
            }
        );
        assert_eq!(runs.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_panic_message_is_kept_for_the_log() {
        let task = Task::new("boom", || async { panic!("the relay lost its store") });
        let gave_up = supervise(vec![task], quick(1)).await;
        assert_eq!(gave_up.last, "panicked: the relay lost its store");
    }

    #[tokio::test]
    async fn a_task_that_ran_long_enough_starts_its_failures_again_from_zero() {
        let runs = Arc::new(AtomicU32::new(0));
        let task = {
            let runs = runs.clone();
            Task::new("sometimes", move || {
                let runs = runs.clone();
                async move {
                    // Every run lasts longer than the healthy time, then stops: a failure
                    // each time, but never two in a row.
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(40)).await;
                }
            })
        };
        let policy = Policy {
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            healthy_after: Duration::from_millis(20),
            give_up_after: 2,
        };
        let supervised = supervise(vec![task], policy);
        tokio::pin!(supervised);
        // Runs until the fifth run has started: given up after two stops in a row, it
        // would have stopped at the second.
        loop {
            tokio::select! {
                gave_up = &mut supervised => panic!("gave up: {gave_up}"),
                () = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
            if runs.load(Ordering::SeqCst) >= 5 {
                break;
            }
        }
    }

    #[tokio::test]
    async fn nothing_to_supervise_waits_forever() {
        let waited = tokio::time::timeout(
            Duration::from_millis(20),
            supervise(Vec::new(), Policy::default()),
        )
        .await;
        assert!(waited.is_err());
    }
}
