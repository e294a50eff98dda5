//! How long a command keeps trying when other writers change its aggregate first.
//!
//! A version conflict is ordinary under contention, not a failure: the repository reads
//! what changed, decides again and retries, backing off with jitter so that writers who
//! collided do not collide again in lockstep. It gives up only when a time budget is spent,
//! never after a fixed small count.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// Retries after version conflicts: jittered exponential backoff within a time budget.
///
/// ```
/// use std::time::Duration;
/// use factum::RetryPolicy;
/// let patient = RetryPolicy::default().budget(Duration::from_secs(30));
/// # let _ = patient;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How long a command may keep retrying after conflicts before it fails with
    /// [`RepositoryError::TooManyConflicts`](super::RepositoryError::TooManyConflicts).
    /// Default: 5 seconds.
    pub budget: Duration,
    /// The longest wait between the first attempts; the wait doubles from there.
    /// Default: 1 millisecond.
    pub first_backoff: Duration,
    /// The longest wait between two attempts. Default: 100 milliseconds.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            budget: Duration::from_secs(5),
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(100),
        }
    }
}

impl RetryPolicy {
    /// Sets the time budget.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Never retries: the first conflict fails the command.
    pub fn never() -> Self {
        RetryPolicy {
            budget: Duration::ZERO,
            ..RetryPolicy::default()
        }
    }

    pub(crate) fn start(&self) -> Backoff<'_> {
        Backoff {
            policy: self,
            started: Instant::now(),
            attempts: 0,
        }
    }
}

/// One command's retries so far.
pub(crate) struct Backoff<'a> {
    policy: &'a RetryPolicy,
    started: Instant,
    attempts: u32,
}

impl Backoff<'_> {
    /// Conflicts retried so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Time since the first attempt.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// After a conflict: `None` if the budget is spent, else how long to wait first. The
    /// first retry goes at once (the new events have just been read); later ones wait a
    /// random time up to a cap that doubles each time ("full jitter").
    pub(crate) fn next_wait(&mut self) -> Option<Duration> {
        let elapsed = self.elapsed();
        if elapsed >= self.policy.budget {
            return None;
        }
        self.attempts += 1;
        if self.attempts == 1 {
            return Some(Duration::ZERO);
        }
        let doublings = (self.attempts - 2).min(20);
        let cap = self
            .policy
            .first_backoff
            .saturating_mul(1 << doublings)
            .min(self.policy.max_backoff)
            .min(self.policy.budget - elapsed);
        let nanos = cap.as_nanos() as u64;
        Some(Duration::from_nanos(if nanos == 0 {
            0
        } else {
            random() % (nanos + 1)
        }))
    }
}

/// A cheap random number for jitter (std's per-process random hash keys and a counter):
/// jitter needs spread, not cryptographic quality.
fn random() -> u64 {
    thread_local! {
        static STATE: (RandomState, Cell<u64>) = (RandomState::new(), Cell::new(0));
    }
    STATE.with(|(keys, counter)| {
        counter.set(counter.get().wrapping_add(1));
        let mut hasher = keys.build_hasher();
        hasher.write_u64(counter.get());
        hasher.finish()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_retry_is_immediate_then_waits_stay_under_a_doubling_cap() {
        let policy = RetryPolicy::default().budget(Duration::from_secs(60));
        let mut backoff = policy.start();
        assert_eq!(backoff.next_wait(), Some(Duration::ZERO));
        for attempt in 2..40u32 {
            let wait = backoff.next_wait().unwrap();
            let cap = Duration::from_millis(1)
                .saturating_mul(1 << (attempt - 2).min(20))
                .min(policy.max_backoff);
            assert!(wait <= cap, "attempt {attempt}: {wait:?} > {cap:?}");
        }
        assert_eq!(backoff.attempts(), 39);
    }

    #[test]
    fn waits_are_spread() {
        let policy = RetryPolicy::default();
        let mut backoff = policy.start();
        backoff.attempts = 10;
        let waits: std::collections::HashSet<_> =
            (0..50).map(|_| backoff.next_wait().unwrap()).collect();
        assert!(
            waits.len() > 40,
            "jitter should spread the waits: {waits:?}"
        );
    }

    #[test]
    fn a_spent_budget_stops_retrying() {
        let policy = RetryPolicy::never();
        assert_eq!(policy.start().next_wait(), None);
    }
}
