//! Connecting to a JetStream store: the client, and the journal and claims streams,
//! created with the store's setup or, when found, checked to keep every event.

use async_nats::jetstream::kv;
use async_nats::jetstream::stream::StorageType;
use async_nats::jetstream::{self, stream::Stream};

use super::config::{NatsConfig, unsafe_stream};
use super::subjects::Subjects;
use crate::StoreError;

/// A connected store's handles.
pub(crate) struct Connected {
    pub(crate) jetstream: jetstream::Context,
    pub(crate) journal: Stream,
    pub(crate) claims: Stream,
    pub(crate) snapshots: kv::Store,
    pub(crate) subjects: Subjects,
    /// The largest message the server takes (its `max_payload`): the largest append.
    pub(crate) max_payload: usize,
}

fn failed(operation: &'static str, retryable: bool) -> impl Fn(String) -> StoreError {
    move |reason| StoreError::Nats {
        operation,
        reason,
        retryable,
    }
}

/// Connects to the servers of `config`, creates the two streams if they are missing, and
/// refuses streams that would drop events or that hold other subjects.
pub(crate) async fn connect(config: &NatsConfig) -> Result<Connected, StoreError> {
    let subjects = config.check()?;
    let servers: Vec<&str> = config
        .servers
        .iter()
        .map(String::as_str)
        .filter(|s| !s.trim().is_empty())
        .collect();
    let client = async_nats::ConnectOptions::new()
        .name("factum")
        .connect(servers.as_slice())
        .await
        .map_err(|e| failed("connecting", true)(e.to_string()))?;
    let max_payload = client.server_info().max_payload;
    let jetstream = jetstream::new(client.clone());
    let mut streams = Vec::with_capacity(2);
    for wanted in [config.journal(&subjects), config.claims(&subjects)] {
        let mut stream = jetstream
            .get_or_create_stream(wanted.clone())
            .await
            .map_err(|e| failed("creating or finding a JetStream stream", true)(e.to_string()))?;
        let found = stream
            .info()
            .await
            .map_err(|e| failed("reading a JetStream stream's setup", true)(e.to_string()))?
            .config
            .clone();
        if let Some(problem) = unsafe_stream(&found, &wanted) {
            return Err(StoreError::InvalidConfig(problem));
        }
        streams.push(stream);
    }
    let claims = streams.pop().expect("two streams were pushed");
    let journal = streams.pop().expect("two streams were pushed");
    // The snapshot bucket is a key-value bucket; it is made here as the stream behind
    // one (the client's own bucket creation sends settings a 2.9 server does not read),
    // then opened as a bucket.
    let bucket = config.snapshots_name();
    jetstream
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            discard: async_nats::jetstream::stream::DiscardPolicy::New,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            storage: StorageType::File,
            num_replicas: config.replicas,
            ..Default::default()
        })
        .await
        .map_err(|e| failed("creating or finding the snapshot bucket", true)(e.to_string()))?;
    let snapshots = jetstream
        .get_key_value(&bucket)
        .await
        .map_err(|e| failed("opening the snapshot bucket", true)(e.to_string()))?;
    Ok(Connected {
        max_payload,
        jetstream,
        journal,
        claims,
        snapshots,
        subjects,
    })
}

#[cfg(test)]
mod tests {
    use async_nats::jetstream::stream::{Config, DiscardPolicy};

    use super::*;

    /// The test server's URL from `FACTUM_TEST_NATS`; without it the test says so and
    /// passes, except under CI, where it fails.
    fn server() -> Option<String> {
        match std::env::var("FACTUM_TEST_NATS") {
            Ok(url) => Some(url),
            Err(_) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "FACTUM_TEST_NATS must be set in CI"
                );
                eprintln!("SKIPPED, needs NATS with JetStream: set FACTUM_TEST_NATS");
                None
            }
        }
    }

    fn unique_name(test: &str) -> String {
        // The random tail of a v7 id (its head is the time).
        let id = uuid::Uuid::now_v7().simple().to_string();
        format!("T{}_{}", test, &id[20..]).to_uppercase()
    }

    #[tokio::test]
    async fn a_store_creates_its_streams_and_finds_them_again() {
        let Some(url) = server() else { return };
        let name = unique_name("setup");
        let prefix = name.to_lowercase();
        let config = NatsConfig::new(&url).name(&name).subject_prefix(&prefix);
        let first = connect(&config).await.unwrap();
        let mut journal = first.journal.clone();
        let info = journal.info().await.unwrap();
        assert_eq!(info.config.subjects, [format!("{prefix}.>")]);
        assert_eq!(info.config.discard, DiscardPolicy::New);
        assert!(info.config.deny_delete && info.config.deny_purge);
        // Connecting again finds the same streams and accepts them.
        let again = connect(&config).await.unwrap();
        assert_eq!(again.journal.cached_info().config.name, name);
        assert_eq!(
            again.claims.cached_info().config.name,
            format!("{name}_CLAIMS")
        );
        for stream in [name.clone(), format!("{name}_CLAIMS")] {
            first.jetstream.delete_stream(&stream).await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_stream_that_would_drop_events_is_refused() {
        let Some(url) = server() else { return };
        let name = unique_name("unsafe");
        let prefix = name.to_lowercase();
        let client = async_nats::connect(&url).await.unwrap();
        let js = jetstream::new(client);
        // Someone made the stream with a limit that drops old messages.
        js.create_stream(Config {
            name: name.clone(),
            subjects: vec![format!("{prefix}.>")],
            max_messages: 1000,
            ..Config::default()
        })
        .await
        .unwrap();
        let config = NatsConfig::new(&url).name(&name).subject_prefix(&prefix);
        match connect(&config).await {
            Err(StoreError::InvalidConfig(problem)) => {
                assert!(problem.contains(&name), "{problem}");
                assert!(problem.contains("discards old"), "{problem}");
            }
            Err(other) => panic!("expected the stream refused, got {other}"),
            Ok(_) => panic!("expected the stream refused, got a store"),
        }
        js.delete_stream(&name).await.unwrap();
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_retryable_error() {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = NatsConfig::new(format!("nats://127.0.0.1:{port}"));
        match connect(&config).await {
            Err(StoreError::Nats {
                retryable,
                operation,
                ..
            }) => {
                assert!(retryable);
                assert_eq!(operation, "connecting");
            }
            Err(other) => panic!("expected a NATS error, got {other}"),
            Ok(_) => panic!("connected to nothing"),
        }
    }
}
