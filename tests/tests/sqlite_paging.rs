//! SQLite reads page by page; a stream deleted between two pages must end the read with
//! `StreamDeleted`, not look like a stream that simply ended early.

use factum::SqliteStore;
use factum::{EventData, EventStore, ExpectedVersion, ReadStream, StoreError, StreamId};
use futures_util::StreamExt;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_between_pages_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("paging.sqlite"))
        .await
        .unwrap();
    let stream = StreamId::new("long-1").unwrap();
    for batch in 0..3u64 {
        let events = (0..1_000)
            .map(|i| EventData::new("E", json!({ "i": i })))
            .collect();
        store
            .append(&stream, ExpectedVersion::Exact(batch * 1_000), events)
            .await
            .unwrap();
    }
    let mut read = store.read_stream(&stream, ReadStream::forward());
    let first = read.next().await.unwrap().unwrap();
    assert_eq!(first.stream_version, 1);
    store
        .delete_stream(&stream, ExpectedVersion::Any)
        .await
        .unwrap();
    let mut seen = 1;
    let mut outcome = None;
    while let Some(item) = read.next().await {
        match item {
            Ok(_) => seen += 1,
            Err(err) => {
                outcome = Some(err);
                break;
            }
        }
    }
    assert!(
        seen < 3_000,
        "the whole stream came back as if nothing happened"
    );
    assert!(
        matches!(outcome, Some(StoreError::StreamDeleted { .. })),
        "after {seen} events: {outcome:?}"
    );
}
