//! The embedded bus: with no Kafka, the outbox itself is the log. The relay marks events
//! published; each consumer group keeps a cursor (its last handled `seq`) in the producer's store
//! and walks the outbox from it. Nothing lives only in memory, so a crash loses nothing: after a
//! restart a group resumes from its cursor, and the processed-event record in its own store
//! deduplicates the events it had handled but not yet passed.

use std::time::Duration;

use crate::consumer::{Consumer, deliver_batch};
use crate::outbox::OutboxLog;

/// Events read per round.
const BATCH: i64 = 1000;

/// Marks the outbox's events published as soon as they are committed (the log is the table),
/// and prunes old ones every hour.
pub async fn relay(log: OutboxLog, retention: Duration, poll: Duration) {
    let mut last_prune = tokio::time::Instant::now();
    loop {
        match log.pending(BATCH).await {
            Ok(batch) if !batch.is_empty() => {
                let seqs: Vec<i64> = batch.iter().map(|e| e.seq).collect();
                if let Err(e) = log
                    .mark_published(&seqs, chrono::Utc::now().timestamp_millis())
                    .await
                {
                    tracing::warn!(topic = log.topic(), error = %e, "could not mark events published; retrying");
                    tokio::time::sleep(poll * 10).await;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(topic = log.topic(), error = %e, "could not read the outbox; retrying")
            }
        }
        if last_prune.elapsed() > Duration::from_secs(3600) {
            last_prune = tokio::time::Instant::now();
            match log.prune(retention).await {
                Ok(n) if n > 0 => {
                    tracing::info!(topic = log.topic(), pruned = n, "pruned published events")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(topic = log.topic(), error = %e, "could not prune the outbox")
                }
            }
        }
        tokio::time::sleep(poll).await;
    }
}

/// How long after an append in this process the consumers look again while they find nothing
/// new (the append's transaction has not committed yet): about 30 ms in all, then the poll.
const NUDGED: [Duration; 5] = [
    Duration::from_millis(1),
    Duration::from_millis(2),
    Duration::from_millis(4),
    Duration::from_millis(8),
    Duration::from_millis(16),
];

/// Delivers the outbox's events to `consumer`, in order, from its cursor: as soon as they are
/// committed when they are appended in this process, else within `poll`.
pub async fn consume(log: OutboxLog, consumer: Consumer, poll: Duration) {
    let mut appends = crate::outbox::appends();
    // After an append: how many of the quick looks are done.
    let mut nudged: Option<usize> = None;
    loop {
        if let Err(e) = crate::redrive(&consumer, log.topic()).await {
            tracing::warn!(consumer = %consumer.name, error = %e, "could not redrive parked events");
        }
        let cursor = match log.cursor(&consumer.name).await {
            Ok(cursor) => cursor,
            Err(e) => {
                tracing::warn!(consumer = %consumer.name, error = %e, "could not read the cursor; retrying");
                tokio::time::sleep(poll * 10).await;
                continue;
            }
        };
        let batch = match log.read_after(cursor, BATCH).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(consumer = %consumer.name, error = %e, "could not read the outbox; retrying");
                tokio::time::sleep(poll * 10).await;
                continue;
            }
        };
        if batch.is_empty() {
            match nudged {
                Some(i) if i < NUDGED.len() => {
                    tokio::time::sleep(NUDGED[i]).await;
                    nudged = Some(i + 1);
                }
                _ => {
                    nudged = None;
                    tokio::select! {
                        changed = appends.changed() => {
                            if changed.is_ok() {
                                nudged = Some(0);
                            }
                        }
                        () = tokio::time::sleep(poll) => {}
                    }
                }
            }
            continue;
        }
        nudged = None;
        let events: Vec<_> = batch.iter().map(|e| (&e.envelope, None)).collect();
        let passed = match deliver_batch(&consumer, log.topic(), &events).await {
            Ok(_) => batch.last().map(|e| e.seq),
            Err(e) => {
                // The consumer's store failed: the batch comes again.
                tracing::warn!(consumer = %consumer.name, error = %e, "consumer store failed; retrying");
                tokio::time::sleep(poll * 10).await;
                None
            }
        };
        if let Some(seq) = passed
            && let Err(e) = log.set_cursor(&consumer.name, seq).await
        {
            // Handled events come again and are deduplicated by their processed record.
            tracing::warn!(consumer = %consumer.name, error = %e, "could not move the cursor");
        }
    }
}
