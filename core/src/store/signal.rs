//! Wake-ups for subscribers: a signal a store raises after it committed an append.
//!
//! A signal is a hint, never a source of truth: a subscriber woken by it reads the log
//! to see what is new, and a subscriber that missed one (another process wrote, or the
//! notification connection dropped) still finds the events on its next poll. So a
//! signal may fire spuriously, and several appends may fold into one wake-up.

use std::sync::Arc;

use tokio::sync::watch;

/// The sending side, held by a store. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct AppendSignal {
    sender: Arc<watch::Sender<u64>>,
}

impl Default for AppendSignal {
    fn default() -> Self {
        AppendSignal {
            sender: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl AppendSignal {
    /// Wakes every watcher.
    pub(crate) fn raise(&self) {
        self.sender.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A new watcher, woken by raises from now on.
    pub(crate) fn watch(&self) -> AppendWatcher {
        AppendWatcher {
            receiver: self.sender.subscribe(),
        }
    }

    /// A handle that does not keep the signal alive (for background tasks that should
    /// end with the store).
    #[cfg(feature = "postgres")]
    pub(crate) fn downgrade(&self) -> std::sync::Weak<watch::Sender<u64>> {
        Arc::downgrade(&self.sender)
    }
}

/// Waits for a store's appends. Get one from
/// [`EventStore::append_watcher`](crate::EventStore::append_watcher).
#[derive(Debug)]
pub struct AppendWatcher {
    receiver: watch::Receiver<u64>,
}

impl AppendWatcher {
    /// Returns once an append was committed after the last call (or after this watcher
    /// was made). If the store is gone it never returns: wait on it beside a poll timer.
    pub async fn appended(&mut self) {
        if self.receiver.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
