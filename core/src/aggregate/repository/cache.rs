//! The aggregate state cache and the per-aggregate command queues.
//!
//! Each aggregate that is in use in this process has a *slot*: its queue of waiting
//! commands, whether a writer is working through them, and (while the cache keeps it)
//! its state as of a known version. A command on a cached aggregate decides on that state
//! and appends with `Exact(version)`: the append is the check, so nothing is read first.
//!
//! The cache is bounded by the number of states and by their estimated size (see
//! [`CacheOptions`]); when either is exceeded, the least recently used idle slots are
//! dropped, a tenth at a time. A slot with a writer at work or commands waiting is never
//! dropped, so one aggregate never has two writers in a process.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::Loaded;
use super::writer::Job;
use crate::{Aggregate, StreamId};

/// Bounds of the aggregate state cache. On by default.
///
/// ```
/// use factum::CacheOptions;
/// let small = CacheOptions { max_states: 1_000, max_bytes: 16 << 20 };
/// let off = CacheOptions::off();
/// # let _ = (small, off);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheOptions {
    /// The most aggregate states kept. Default: 10,000. 0 turns the cache off (every
    /// command reads its aggregate first).
    pub max_states: usize,
    /// The most bytes of states kept, as the repository's weigher estimates them
    /// ([`Repository::weigh_states_with`](super::Repository::weigh_states_with); by
    /// default the size of the state type itself). Default: 256 MiB.
    pub max_bytes: usize,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_states: 10_000,
            max_bytes: 256 << 20,
        }
    }
}

impl CacheOptions {
    /// No cache: every command reads its aggregate first.
    pub fn off() -> Self {
        CacheOptions {
            max_states: 0,
            max_bytes: 0,
        }
    }

    pub(crate) fn is_on(&self) -> bool {
        self.max_states > 0 && self.max_bytes > 0
    }
}

/// An aggregate's state as of a version, with what the snapshot policy needs to know.
pub(crate) struct Cached<A> {
    pub loaded: Loaded<A>,
    pub snapshot_taken_at: Option<DateTime<Utc>>,
    pub snapshot_version: u64,
}

/// One aggregate's queue, writer flag and cached state.
pub(crate) struct Slot<A: Aggregate> {
    pub stream: StreamId,
    inner: Mutex<SlotState<A>>,
    last_used: AtomicU64,
}

pub(crate) struct SlotState<A: Aggregate> {
    /// A writer is working through this aggregate's commands (it holds the state).
    pub running: bool,
    pub queue: VecDeque<Box<dyn Job<A>>>,
    pub cached: Option<Cached<A>>,
    /// The weight counted for `cached` in the cache's total.
    weight: usize,
}

impl<A: Aggregate> Slot<A> {
    pub(crate) fn lock(&self) -> MutexGuard<'_, SlotState<A>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<A: Aggregate> SlotState<A> {
    fn idle(&self) -> bool {
        !self.running && self.queue.is_empty()
    }
}

/// Every slot of a repository.
pub(crate) struct Slots<A: Aggregate> {
    map: Mutex<HashMap<StreamId, Arc<Slot<A>>>>,
    options: CacheOptions,
    bytes: AtomicUsize,
    clock: AtomicU64,
}

/// What a command found when it came to its aggregate's slot.
pub(crate) enum Arrival<A: Aggregate> {
    /// Nobody was writing: this command's caller is the writer, with the cached state
    /// if there was one, and its command back.
    Writer(Arc<Slot<A>>, Option<Cached<A>>, Box<dyn Job<A>>),
    /// A writer is at work; the command was queued behind it.
    Queued,
}

impl<A: Aggregate> Slots<A> {
    pub(crate) fn new(options: CacheOptions) -> Self {
        Slots {
            map: Mutex::default(),
            options,
            bytes: AtomicUsize::new(0),
            clock: AtomicU64::new(0),
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<StreamId, Arc<Slot<A>>>> {
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Brings a command to its aggregate: makes the caller the writer if nobody is
    /// writing (handing it the cached state), else queues `job` behind the writer. Both
    /// happen under the map's lock, so an idle slot is never dropped between a caller
    /// finding it and using it.
    pub(crate) fn arrive(&self, stream: &StreamId, job: Box<dyn Job<A>>) -> Arrival<A> {
        let mut map = self.map();
        let slot = match map.get(stream) {
            Some(slot) => slot.clone(),
            None => {
                let slot = Arc::new(Slot {
                    stream: stream.clone(),
                    inner: Mutex::new(SlotState {
                        running: false,
                        queue: VecDeque::new(),
                        cached: None,
                        weight: 0,
                    }),
                    last_used: AtomicU64::new(0),
                });
                map.insert(stream.clone(), slot.clone());
                slot
            }
        };
        slot.last_used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let mut state = slot.lock();
        if state.running {
            state.queue.push_back(job);
            return Arrival::Queued;
        }
        state.running = true;
        let cached = state.cached.take();
        self.bytes
            .fetch_sub(std::mem::take(&mut state.weight), Ordering::Relaxed);
        drop(state);
        Arrival::Writer(slot, cached, job)
    }

    /// A writer hands its state back (`None` when it no longer knows it). If commands
    /// were queued meanwhile it stays the writer: they come back with the state, for it
    /// to go on with. Otherwise it stops being the writer, the state goes into the cache,
    /// and the cache is trimmed if it grew past its bounds.
    #[allow(clippy::type_complexity)]
    pub(crate) fn hand_back(
        &self,
        slot: &Slot<A>,
        cached: Option<Cached<A>>,
        weigh: fn(&A) -> usize,
    ) -> Option<(Option<Cached<A>>, Vec<Box<dyn Job<A>>>)> {
        let mut state = slot.lock();
        if !state.queue.is_empty() {
            let queued = state.queue.drain(..).collect();
            return Some((cached, queued));
        }
        state.running = false;
        if let Some(cached) = cached.filter(|_| self.options.is_on()) {
            state.weight = weigh(&cached.loaded.state);
            self.bytes.fetch_add(state.weight, Ordering::Relaxed);
            state.cached = Some(cached);
        }
        drop(state);
        self.trim();
        None
    }

    /// Drops the least recently used idle slots, a tenth of the cache at a time, while
    /// it is over either bound. Slots without a cached state and without work are
    /// dropped too (they only cost memory).
    fn trim(&self) {
        let mut map = self.map();
        let over = |map: &HashMap<_, _>| {
            map.len() > self.options.max_states
                || self.bytes.load(Ordering::Relaxed) > self.options.max_bytes
        };
        if !over(&map) {
            return;
        }
        let mut idle: Vec<(u64, StreamId)> = map
            .iter()
            .filter(|(_, slot)| slot.lock().idle())
            .map(|(id, slot)| (slot.last_used.load(Ordering::Relaxed), id.clone()))
            .collect();
        let batch = (map.len() / 10).max(1).min(idle.len());
        if batch == 0 {
            return;
        }
        if batch < idle.len() {
            idle.select_nth_unstable(batch - 1);
        }
        idle.truncate(batch);
        for (_, id) in idle {
            let Some(slot) = map.get(&id) else { continue };
            let mut state = slot.lock();
            if state.idle() {
                self.bytes
                    .fetch_sub(std::mem::take(&mut state.weight), Ordering::Relaxed);
                drop(state);
                map.remove(&id);
            }
        }
    }

    /// How many slots there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::repository::writer::Outcome;
    use crate::{Decision, EventData, EventSet, EventView, Metadata, UpcastError};

    #[derive(Debug)]
    struct Tick;

    impl EventSet for Tick {
        const NAMES: &'static [&'static str] = &["Tick"];
        fn name(&self) -> &'static str {
            "Tick"
        }
        fn to_event_data(&self) -> Result<EventData, serde_json::Error> {
            Ok(EventData::new("Tick", serde_json::json!({})))
        }
        fn from_view(_: EventView<'_>) -> Result<Option<Self>, UpcastError> {
            Ok(Some(Tick))
        }
    }

    #[derive(Default)]
    struct Counter(u64);

    #[derive(Debug, thiserror::Error)]
    #[error("never")]
    struct Never;

    impl Aggregate for Counter {
        const CATEGORY: &'static str = "counter";
        const STATE_VERSION: u32 = 1;
        type Event = Tick;
        type Error = Never;
        fn apply(&mut self, _: &Tick) {
            self.0 += 1;
        }
    }

    struct Nothing(Metadata);

    impl Job<Counter> for Nothing {
        fn decide(&self, _: &Counter) -> Result<Decision<Tick>, Never> {
            Ok(Decision::new([]))
        }
        fn rejection(&self, _: &Counter, _: &Never) -> Option<Tick> {
            None
        }
        fn metadata(&self) -> &Metadata {
            &self.0
        }
        fn key(&self) -> Option<&str> {
            None
        }
        fn finish(self: Box<Self>, _: Outcome<Counter>) {}
    }

    fn job() -> Box<dyn Job<Counter>> {
        Box::new(Nothing(Metadata::new()))
    }

    fn state(version: u64) -> Cached<Counter> {
        Cached {
            loaded: Loaded {
                state: Counter(version),
                version,
                deleted: false,
            },
            snapshot_taken_at: None,
            snapshot_version: 0,
        }
    }

    fn use_once(slots: &Slots<Counter>, id: &str, weigh: fn(&Counter) -> usize) {
        let stream = StreamId::new(id).unwrap();
        let Arrival::Writer(slot, _, _) = slots.arrive(&stream, job()) else {
            panic!("{id} was busy");
        };
        assert!(slots.hand_back(&slot, Some(state(1)), weigh).is_none());
    }

    #[test]
    fn the_cache_keeps_at_most_max_states_and_drops_the_least_recently_used() {
        let slots = Slots::new(CacheOptions {
            max_states: 10,
            max_bytes: usize::MAX,
        });
        for i in 0..100 {
            use_once(&slots, &format!("c-{i}"), |_| 1);
            assert!(slots.len() <= 10, "{} slots after {i}", slots.len());
        }
        // The most recent ones are the ones kept.
        let stream = StreamId::new("c-99").unwrap();
        let Arrival::Writer(_, cached, _) = slots.arrive(&stream, job()) else {
            panic!("busy");
        };
        assert!(cached.is_some(), "the last state used is still cached");
    }

    #[test]
    fn the_cache_keeps_at_most_max_bytes() {
        let slots = Slots::new(CacheOptions {
            max_states: 1_000,
            max_bytes: 5_000,
        });
        for i in 0..50 {
            use_once(&slots, &format!("c-{i}"), |_| 1_000);
            assert!(slots.bytes.load(Ordering::Relaxed) <= 5_000);
        }
        assert!(slots.len() <= 5);
    }

    #[test]
    fn a_busy_aggregate_is_never_dropped_and_queues_its_commands() {
        let slots = Slots::new(CacheOptions {
            max_states: 1,
            max_bytes: usize::MAX,
        });
        let busy = StreamId::new("c-busy").unwrap();
        let Arrival::Writer(slot, _, _) = slots.arrive(&busy, job()) else {
            panic!("busy");
        };
        for i in 0..20 {
            use_once(&slots, &format!("c-{i}"), |_| 1);
        }
        // Still the same slot: a second command for it queues behind the writer.
        assert!(matches!(slots.arrive(&busy, job()), Arrival::Queued));
        let (_, queued) = slots
            .hand_back(&slot, None, |_| 1)
            .expect("the queued command");
        assert_eq!(queued.len(), 1);
        assert!(slots.hand_back(&slot, None, |_| 1).is_none());
    }

    #[test]
    fn a_cache_that_is_off_keeps_no_state() {
        let slots = Slots::new(CacheOptions::off());
        use_once(&slots, "c-1", |_| 1);
        let stream = StreamId::new("c-1").unwrap();
        let Arrival::Writer(_, cached, _) = slots.arrive(&stream, job()) else {
            panic!("busy");
        };
        assert!(cached.is_none());
    }
}
