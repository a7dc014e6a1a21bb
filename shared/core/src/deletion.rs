//! The way back from a delete, the same for every record that has one (customers, leads): a
//! deleted record is gone from every read but stays restorable for [`RESTORE_WINDOW`], then a
//! purge removes it for good.

use std::time::Duration;

/// How long a deleted record stays restorable before the purge removes it.
pub const RESTORE_WINDOW: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How often a purge looks for records past their window.
pub const PURGE_EVERY: Duration = Duration::from_secs(60 * 60);

/// Records purged per transaction.
pub const PURGE_BATCH: u32 = 500;

/// Runs `batch` (one transaction purging at most [`PURGE_BATCH`] records deleted more than
/// [`RESTORE_WINDOW`] before the time it is given; how many it purged) at `now()` until one
/// purges fewer; how many in all.
pub async fn purge_due<F, Fut>(now: impl Fn() -> i64, mut batch: F) -> crate::Result<u64>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = crate::Result<u32>>,
{
    let mut total = 0;
    loop {
        let done = batch(now()).await?;
        total += u64::from(done);
        if done < PURGE_BATCH {
            return Ok(total);
        }
    }
}

/// Runs `round` (a [`purge_due`] of deleted `what`) every [`PURGE_EVERY`] while the process
/// serves (a launcher's task), saying what it purged, and trying again after a failure.
pub async fn purge_every<F, Fut>(what: &'static str, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::Result<u64>>,
{
    loop {
        match round().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                purged = n,
                what,
                "deleted records past their restore window are purged"
            ),
            Err(e) => {
                tracing::warn!(error = %e, what, "purging deleted records failed; trying again at the next round")
            }
        }
        tokio::time::sleep(PURGE_EVERY).await;
    }
}

/// [`RESTORE_WINDOW`] in milliseconds.
pub fn window_millis() -> i64 {
    i64::try_from(RESTORE_WINDOW.as_millis()).unwrap_or(i64::MAX)
}

/// Why a record is not restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreRefusal {
    /// It is not deleted.
    NotDeleted,
    /// Its restore window closed at this time (the purge removes it).
    WindowPassed(i64),
}

/// Until when a record deleted at `deleted_at` may be restored (when the purge removes it);
/// `None` while it is live.
pub fn purge_at(deleted_at: Option<i64>) -> Option<i64> {
    deleted_at.map(|at| at.saturating_add(window_millis()))
}

/// Whether a record deleted at `deleted_at` may be restored at `now`.
pub fn restorable(deleted_at: Option<i64>, now: i64) -> Result<(), RestoreRefusal> {
    match purge_at(deleted_at) {
        None => Err(RestoreRefusal::NotDeleted),
        Some(until) if now > until => Err(RestoreRefusal::WindowPassed(until)),
        Some(_) => Ok(()),
    }
}

impl RestoreRefusal {
    /// The refusal as the caller hears it: `NOT_FOUND` for a live `what` (a `customer`, a
    /// `lead`) with that id, `FAILED_PRECONDITION` `RESTORE_WINDOW_PASSED` naming it after its
    /// window.
    pub fn error(self, what: &'static str, id: impl std::fmt::Display, name: &str) -> crate::Error {
        match self {
            RestoreRefusal::NotDeleted => crate::Error::not_found(what, id),
            RestoreRefusal::WindowPassed(_) => crate::Error::new(
                crate::ErrorKind::FailedPrecondition,
                format!(
                    "{name} was deleted more than {} days ago and is being purged: it cannot be restored",
                    RESTORE_WINDOW.as_secs() / 86_400
                ),
            )
            .with_reason("RESTORE_WINDOW_PASSED"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 60 * 60 * 1000;

    #[test]
    fn restorable_for_thirty_days_to_the_millisecond_then_not() {
        assert_eq!(purge_at(Some(10 * DAY)), Some(40 * DAY));
        assert_eq!(purge_at(None), None);
        assert_eq!(restorable(Some(10 * DAY), 40 * DAY), Ok(()));
        assert_eq!(
            restorable(Some(10 * DAY), 40 * DAY + 1),
            Err(RestoreRefusal::WindowPassed(40 * DAY))
        );
        assert_eq!(restorable(None, 0), Err(RestoreRefusal::NotDeleted));
    }
}
