//! Snapshots on JetStream: a key-value bucket, one key per stream and aggregate type,
//! replaced only by a snapshot that is not older (compare-and-set on the key's revision,
//! so racing writers cannot put an older one back).

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::journal::nats_error;
use super::subjects::snapshot_key;
use crate::{Snapshot, StoreError, StreamId};

#[derive(Serialize, Deserialize)]
struct Stored {
    aggregate: String,
    version: u64,
    state_version: u32,
    state: String,
    taken_at: DateTime<Utc>,
}

/// The key of `stream`'s snapshot by aggregate type `aggregate` (a Rust path, so
/// base64url-encoded into the key alphabet).
fn key(stream: &StreamId, aggregate: &str) -> String {
    format!(
        "{}.{}",
        snapshot_key(stream),
        URL_SAFE_NO_PAD.encode(aggregate)
    )
}

/// The latest snapshot of `stream` by `aggregate`; one that cannot be read is none.
pub(crate) async fn load(
    bucket: &kv::Store,
    stream: &StreamId,
    aggregate: &str,
) -> Result<Option<Snapshot>, StoreError> {
    let entry = bucket
        .entry(key(stream, aggregate))
        .await
        .map_err(|e| nats_error("reading a snapshot", true, e))?;
    let Some(entry) = entry.filter(|e| e.operation == Operation::Put) else {
        return Ok(None);
    };
    match serde_json::from_slice::<Stored>(&entry.value) {
        Ok(s) => Ok(Some(Snapshot {
            aggregate: s.aggregate,
            version: s.version,
            state_version: s.state_version,
            state: s.state,
            taken_at: s.taken_at,
        })),
        Err(e) => {
            tracing::warn!(%stream, aggregate, error = %e, "a stored snapshot cannot be read; ignored");
            Ok(None)
        }
    }
}

/// Saves `snapshot` unless the stored one is newer (a later state version, or the same
/// state version at a later stream version).
pub(crate) async fn save(
    bucket: &kv::Store,
    stream: &StreamId,
    snapshot: &Snapshot,
) -> Result<(), StoreError> {
    let key = key(stream, &snapshot.aggregate);
    let value = Bytes::from(
        serde_json::to_vec(&Stored {
            aggregate: snapshot.aggregate.clone(),
            version: snapshot.version,
            state_version: snapshot.state_version,
            state: snapshot.state.clone(),
            taken_at: snapshot.taken_at,
        })
        .map_err(|e| nats_error("writing a snapshot", false, e))?,
    );
    loop {
        let entry = bucket
            .entry(key.clone())
            .await
            .map_err(|e| nats_error("reading a snapshot", true, e))?;
        match entry {
            Some(entry) if entry.operation == Operation::Put => {
                if let Ok(old) = serde_json::from_slice::<Stored>(&entry.value) {
                    let newer = snapshot.state_version > old.state_version
                        || (snapshot.state_version == old.state_version
                            && snapshot.version >= old.version);
                    if !newer {
                        return Ok(());
                    }
                }
                match bucket.update(&key, value.clone(), entry.revision).await {
                    Ok(_) => return Ok(()),
                    Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => continue,
                    Err(e) => return Err(nats_error("writing a snapshot", true, e)),
                }
            }
            _ => match bucket.create(&key, value.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => continue,
                Err(e) => return Err(nats_error("writing a snapshot", true, e)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::nats::testing::TestStore;

    fn snapshot(version: u64, state_version: u32, state: &str) -> Snapshot {
        Snapshot {
            aggregate: "bank::Account<T>".into(),
            version,
            state_version,
            state: state.into(),
            taken_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn only_a_newer_snapshot_replaces_the_stored_one() {
        let Some(store) = TestStore::open("snap", Duration::from_secs(120)).await else {
            return;
        };
        let bucket = &store.connected.snapshots;
        let stream = StreamId::new("account-1:x@y").unwrap();
        assert_eq!(
            load(bucket, &stream, "bank::Account<T>").await.unwrap(),
            None
        );
        save(bucket, &stream, &snapshot(10, 1, "{\"v\":10}"))
            .await
            .unwrap();
        save(bucket, &stream, &snapshot(5, 1, "{\"v\":5}"))
            .await
            .unwrap();
        let loaded = load(bucket, &stream, "bank::Account<T>")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded.version, 10, "an older one does not replace it");
        save(bucket, &stream, &snapshot(3, 2, "{\"v\":3}"))
            .await
            .unwrap();
        let loaded = load(bucket, &stream, "bank::Account<T>")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (loaded.version, loaded.state_version),
            (3, 2),
            "a later state version does"
        );
        save(bucket, &stream, &snapshot(50, 1, "{}")).await.unwrap();
        let loaded = load(bucket, &stream, "bank::Account<T>")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            loaded.state_version, 2,
            "older code never replaces newer code's"
        );
        assert_eq!(load(bucket, &stream, "other::Type").await.unwrap(), None);
        // Racing savers: the newest wins.
        let racing: Vec<Snapshot> = (1..=8u64).map(|v| snapshot(100 + v, 2, "{}")).collect();
        let saves = racing.iter().map(|s| save(bucket, &stream, s));
        for done in futures_util::future::join_all(saves).await {
            done.unwrap();
        }
        let loaded = load(bucket, &stream, "bank::Account<T>")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded.version, 108);
        store.close().await;
    }
}
