//! The live watchers of in-app notifications: one broadcast channel per recipient, each watcher
//! a receiver with a bounded buffer. Publishing never waits: a watcher that falls more than the
//! buffer behind loses the oldest and is told to resync; the others are not held up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crm_core::{TenantId, UserId};
use tokio::sync::broadcast;

use crate::domain::notification::Notification;

/// How many notifications a watcher may fall behind before it is told to resync.
pub const BUFFER: usize = 256;

type Key = (TenantId, UserId);

/// The watchers of every recipient in this process.
#[derive(Clone, Default)]
pub struct Hub {
    channels: Arc<Mutex<HashMap<Key, broadcast::Sender<Arc<Notification>>>>>,
}

impl Hub {
    /// A new watcher of `user`'s notifications.
    pub fn watch(&self, tenant: TenantId, user: UserId) -> broadcast::Receiver<Arc<Notification>> {
        let mut channels = self
            .channels
            .lock()
            .expect("the hub's lock is never poisoned");
        channels
            .entry((tenant, user))
            .or_insert_with(|| broadcast::channel(BUFFER).0)
            .subscribe()
    }

    /// Sends `n` to its recipient's watchers; how many there were.
    pub fn publish(&self, n: &Notification) -> usize {
        let Some(user) = n.recipient_user_id else {
            return 0;
        };
        let mut channels = self
            .channels
            .lock()
            .expect("the hub's lock is never poisoned");
        let key = (n.tenant_id, user);
        let Some(sender) = channels.get(&key) else {
            return 0;
        };
        match sender.send(Arc::new(n.clone())) {
            Ok(watching) => watching,
            Err(_) => {
                // Every watcher has gone: forget the channel.
                channels.remove(&key);
                0
            }
        }
    }

    /// How many watchers there are in all.
    pub fn watchers(&self) -> usize {
        let channels = self
            .channels
            .lock()
            .expect("the hub's lock is never poisoned");
        channels
            .values()
            .map(broadcast::Sender::receiver_count)
            .sum()
    }
}
