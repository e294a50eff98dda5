//! A JetStream store of a test's own on the test server (`FACTUM_TEST_NATS`; without it
//! the test says so and passes, except under CI, where it fails).

use std::time::Duration;

use super::append::append;
use super::claims::ClaimsCtx;
use super::config::NatsConfig;
use super::setup::{Connected, connect};
use crate::store::{StoreLimits, prepare_batch};
use crate::{AppendResult, EventData, ExpectedVersion, StoreError, StreamId};

/// A store of its own on the test server (`FACTUM_TEST_NATS`), dropped afterwards.
pub(crate) struct TestStore {
    pub(crate) connected: Connected,
    names: [String; 2],
    bucket: String,
}

impl TestStore {
    pub(crate) async fn open(test: &str, window: Duration) -> Option<TestStore> {
        let Ok(url) = std::env::var("FACTUM_TEST_NATS") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "FACTUM_TEST_NATS must be set in CI"
            );
            eprintln!("SKIPPED, needs NATS with JetStream: set FACTUM_TEST_NATS");
            return None;
        };
        let id = uuid::Uuid::now_v7().simple().to_string();
        let name = format!("T{test}_{}", &id[20..]).to_uppercase();
        let config = NatsConfig::new(url)
            .name(&name)
            .subject_prefix(name.to_lowercase())
            .duplicate_window(window);
        let connected = connect(&config).await.unwrap();
        Some(TestStore {
            connected,
            names: [name.clone(), format!("{name}_CLAIMS")],
            bucket: format!("{name}_SNAPSHOTS"),
        })
    }

    pub(crate) fn ctx(&self) -> ClaimsCtx<'_> {
        ClaimsCtx {
            max_payload: self.connected.max_payload,
            jetstream: &self.connected.jetstream,
            journal: &self.connected.journal,
            claims: &self.connected.claims,
            subjects: &self.connected.subjects,
        }
    }

    pub(crate) async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult, StoreError> {
        let stream = StreamId::new(stream).unwrap();
        let batch = prepare_batch(&stream, events, &StoreLimits::default())?;
        append(
            &self.ctx(),
            expected,
            &batch,
            &crate::store::Uniqueness::new(),
        )
        .await
    }

    pub(crate) async fn close(self) {
        for name in &self.names {
            self.connected.jetstream.delete_stream(name).await.unwrap();
        }
        self.connected
            .jetstream
            .delete_key_value(&self.bucket)
            .await
            .unwrap();
    }
}

pub(crate) fn events(n: usize) -> Vec<EventData> {
    (0..n)
        .map(|i| EventData::new("Counted", serde_json::json!({ "n": i })))
        .collect()
}
