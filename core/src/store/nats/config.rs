//! How a JetStream store is set up: the servers, the names of its JetStream streams, its
//! subject prefix, replicas and limits, with safe defaults; and the check that a stream
//! found on the server keeps every event (no age, count or per-subject limit, old
//! messages never discarded, deletes and purges denied).

use std::time::Duration;

use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};

use super::subjects::{Subjects, prefix_problem};
use crate::StoreError;
use crate::store::StoreLimits;

/// The setup of a JetStream store.
///
/// ```
/// use factum::NatsConfig;
/// // Three replicas: the store survives the loss of one server of the cluster.
/// let config = NatsConfig::new("nats://10.0.0.1:4222")
///     .server("nats://10.0.0.2:4222")
///     .server("nats://10.0.0.3:4222")
///     .name("BANK")
///     .replicas(3);
/// # let _ = config;
/// ```
#[derive(Clone, Debug)]
pub struct NatsConfig {
    pub(crate) servers: Vec<String>,
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) replicas: usize,
    pub(crate) max_bytes: Option<i64>,
    pub(crate) duplicate_window: Duration,
    pub(crate) limits: StoreLimits,
}

impl NatsConfig {
    /// A store on the server at `url` (`nats://host:port`), in the JetStream streams
    /// `FACTUM` and `FACTUM_CLAIMS`, subjects under `factum`, one replica, no size limit.
    pub fn new(url: impl Into<String>) -> Self {
        NatsConfig {
            servers: vec![url.into()],
            name: "FACTUM".into(),
            prefix: "factum".into(),
            replicas: 1,
            max_bytes: None,
            duplicate_window: Duration::from_secs(120),
            limits: StoreLimits::default(),
        }
    }

    /// More servers of the same cluster, for the client to fail over between.
    pub fn server(mut self, url: impl Into<String>) -> Self {
        self.servers.push(url.into());
        self
    }

    /// The journal's JetStream stream name (the claims stream is `<name>_CLAIMS`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The subject prefix: streams are `<prefix>.<category>.<stream id>`.
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Replicas of each JetStream stream (1 to 5; 3 survives the loss of one server).
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }

    /// A size limit on the journal: once reached, appends are refused (old events are
    /// never discarded to make room).
    pub fn max_bytes(mut self, bytes: i64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// The server's deduplication window for retried publishes (default 2 minutes).
    /// Retries are recognised beyond it too (see `docs/JETSTREAM.md`); the window only
    /// makes recognising them cheaper.
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// The size limits of events and appends.
    pub fn limits(mut self, limits: StoreLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The claims stream's name.
    pub(crate) fn claims_name(&self) -> String {
        format!("{}_CLAIMS", self.name)
    }

    /// The snapshot bucket's name.
    pub(crate) fn snapshots_name(&self) -> String {
        format!("{}_SNAPSHOTS", self.name)
    }

    /// Refuses a setup no store can work with, before connecting.
    pub(crate) fn check(&self) -> Result<Subjects, StoreError> {
        let bad = |reason: String| Err(StoreError::InvalidConfig(reason));
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.len() <= 64
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if self.servers.iter().all(|s| s.trim().is_empty()) {
            return bad("name at least one NATS server, such as nats://127.0.0.1:4222".into());
        }
        if !name_ok(&self.name) {
            return bad(format!(
                "JetStream stream name `{}`: 1 to 64 ASCII letters, digits, _ and -",
                self.name
            ));
        }
        if let Some(reason) = prefix_problem(&self.prefix) {
            return bad(format!("subject prefix `{}`: {reason}", self.prefix));
        }
        if !(1..=5).contains(&self.replicas) {
            return bad(format!(
                "{} replicas: JetStream keeps 1 to 5 (3 survives losing one server)",
                self.replicas
            ));
        }
        if self.max_bytes.is_some_and(|b| b <= 0) {
            return bad("max_bytes must be positive; leave it out for no limit".into());
        }
        if self.duplicate_window.is_zero() {
            return bad("the duplicate window must be longer than zero".into());
        }
        if self.limits.max_event_size == 0 || self.limits.max_append_size == 0 {
            return bad("max_event_size and max_append_size must be at least 1 byte".into());
        }
        Subjects::new(&self.prefix)
    }

    /// The journal's JetStream configuration.
    pub(crate) fn journal(&self, subjects: &Subjects) -> Config {
        Config {
            name: self.name.clone(),
            subjects: vec![subjects.journal()],
            max_bytes: self.max_bytes.unwrap_or(-1),
            ..self.keep_everything()
        }
    }

    /// The claims stream's JetStream configuration.
    pub(crate) fn claims(&self, subjects: &Subjects) -> Config {
        Config {
            name: self.claims_name(),
            subjects: vec![subjects.claims()],
            max_bytes: -1,
            ..self.keep_everything()
        }
    }

    /// What both streams share: kept on disk, replicated, nothing ever dropped.
    fn keep_everything(&self) -> Config {
        Config {
            retention: RetentionPolicy::Limits,
            discard: DiscardPolicy::New,
            max_messages: -1,
            max_messages_per_subject: -1,
            max_age: Duration::ZERO,
            storage: StorageType::File,
            num_replicas: self.replicas,
            duplicate_window: self.duplicate_window,
            allow_direct: true,
            deny_delete: true,
            deny_purge: true,
            ..Config::default()
        }
    }
}

/// Why a JetStream stream found on the server cannot hold a store as `wanted` says, if
/// it cannot: a limit that would drop events, or other subjects or replicas.
pub(crate) fn unsafe_stream(found: &Config, wanted: &Config) -> Option<String> {
    let name = &found.name;
    let problem = if found.retention != RetentionPolicy::Limits {
        "its retention removes messages once consumed".to_owned()
    } else if found.discard != DiscardPolicy::New {
        "it discards old messages when a limit is reached".to_owned()
    } else if found.max_age != Duration::ZERO {
        format!("it drops messages older than {:?}", found.max_age)
    } else if found.max_messages > 0 || found.max_messages_per_subject > 0 {
        "it limits how many messages it keeps".to_owned()
    } else if !found.deny_delete || !found.deny_purge {
        "it allows messages to be deleted or purged".to_owned()
    } else if found.subjects != wanted.subjects {
        format!(
            "it holds the subjects {:?}, not {:?}",
            found.subjects, wanted.subjects
        )
    } else if found.num_replicas.max(1) != wanted.num_replicas.max(1) {
        format!(
            "it has {} replicas, not {}",
            found.num_replicas, wanted.num_replicas
        )
    } else if !found.allow_direct {
        "direct gets are off".to_owned()
    } else {
        return None;
    };
    Some(format!(
        "the JetStream stream {name} cannot hold this store: {problem}; \
         change it to the store's setup or use another name"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_keep_every_event() {
        let config = NatsConfig::new("nats://127.0.0.1:4222");
        let subjects = config.check().unwrap();
        let journal = config.journal(&subjects);
        assert_eq!(journal.name, "FACTUM");
        assert_eq!(journal.subjects, ["factum.>"]);
        assert_eq!(journal.discard, DiscardPolicy::New);
        assert_eq!(journal.max_age, Duration::ZERO);
        assert_eq!(
            (
                journal.max_messages,
                journal.max_bytes,
                journal.max_messages_per_subject
            ),
            (-1, -1, -1)
        );
        assert!(journal.deny_delete && journal.deny_purge && journal.allow_direct);
        assert_eq!(unsafe_stream(&journal, &journal), None);
        let claims = config.claims(&subjects);
        assert_eq!(claims.name, "FACTUM_CLAIMS");
        assert_eq!(claims.subjects, ["factum-claims.>"]);
        assert_eq!(unsafe_stream(&claims, &claims), None);
    }

    #[test]
    fn a_stream_that_would_drop_events_is_refused() {
        let config = NatsConfig::new("nats://x").replicas(3);
        let wanted = config.journal(&config.check().unwrap());
        let cases: Vec<(Config, &str)> = vec![
            (
                Config {
                    discard: DiscardPolicy::Old,
                    ..wanted.clone()
                },
                "discards old",
            ),
            (
                Config {
                    max_age: Duration::from_secs(60),
                    ..wanted.clone()
                },
                "older than",
            ),
            (
                Config {
                    max_messages: 10,
                    ..wanted.clone()
                },
                "how many",
            ),
            (
                Config {
                    max_messages_per_subject: 1,
                    ..wanted.clone()
                },
                "how many",
            ),
            (
                Config {
                    retention: RetentionPolicy::WorkQueue,
                    ..wanted.clone()
                },
                "consumed",
            ),
            (
                Config {
                    deny_purge: false,
                    ..wanted.clone()
                },
                "purged",
            ),
            (
                Config {
                    subjects: vec!["other.>".into()],
                    ..wanted.clone()
                },
                "subjects",
            ),
            (
                Config {
                    num_replicas: 1,
                    ..wanted.clone()
                },
                "replicas",
            ),
        ];
        for (found, needle) in cases {
            let problem = unsafe_stream(&found, &wanted).expect(needle);
            assert!(problem.contains(needle), "{problem}");
            assert!(problem.contains("FACTUM"), "{problem}");
        }
    }

    #[test]
    fn bad_setups_are_refused_before_connecting() {
        let base = || NatsConfig::new("nats://127.0.0.1:4222");
        for (config, needle) in [
            (base().name("a.b"), "stream name"),
            (base().name(""), "stream name"),
            (base().subject_prefix("a.*"), "prefix"),
            (base().replicas(0), "replicas"),
            (base().replicas(6), "replicas"),
            (base().max_bytes(0), "max_bytes"),
            (base().duplicate_window(Duration::ZERO), "window"),
            (NatsConfig::new(" "), "server"),
        ] {
            match config.check() {
                Err(StoreError::InvalidConfig(reason)) => {
                    assert!(reason.contains(needle), "{reason}")
                }
                other => panic!("{needle}: {other:?}"),
            }
        }
        assert!(
            base()
                .server("nats://127.0.0.1:4223")
                .replicas(3)
                .check()
                .is_ok()
        );
    }
}
