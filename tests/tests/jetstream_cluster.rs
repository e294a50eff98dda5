//! The JetStream store on a 3-node cluster with 3 replicas: the server's per-subject check
//! must keep one winner per version when the stream is replicated, as on one node.

use factum::{EventData, EventStore, ExpectedVersion, NatsConfig, NatsStore, StoreError, StreamId};
use factum_tests::nats_cluster::NatsCluster;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writers_on_three_replicas_have_one_winner_per_version() {
    let Some(cluster) = NatsCluster::start(3).unwrap() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "nats-server is needed in CI"
        );
        return;
    };
    let mut config = NatsConfig::new(cluster.urls()[0].clone()).replicas(3);
    for url in &cluster.urls()[1..] {
        config = config.server(url.clone());
    }
    let store = NatsStore::connect(config).await.unwrap();
    for round in 0..20 {
        let stream = StreamId::new(format!("hot-{round}")).unwrap();
        let won = race(&store, &stream, ExpectedVersion::NoStream, 1, round).await;
        assert_eq!(won, 1, "round {round}: one writer creates the stream");
        // Then with the stream there: eight writers expecting version 1.
        let won = race(&store, &stream, ExpectedVersion::Exact(1), 2, round).await;
        assert_eq!(won, 1, "round {round}: one writer takes version 2");
        let info = store.stream_info(&stream).await.unwrap().unwrap();
        assert_eq!(info.version, 2, "round {round}: two events stored");
    }
}

/// Eight writers append one event each to `stream` expecting `expected`: how many won.
/// A winner's append ends at `version`; a loser's is refused as a version conflict.
async fn race(
    store: &NatsStore,
    stream: &StreamId,
    expected: ExpectedVersion,
    version: u64,
    round: usize,
) -> usize {
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (store, stream) = (store.clone(), stream.clone());
            tokio::spawn(async move {
                let events = vec![EventData::new("Won", json!({ "writer": w }))];
                store.append(&stream, expected, events).await
            })
        })
        .collect();
    let mut won = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(done) => {
                won += 1;
                assert_eq!(done.version, version);
            }
            Err(StoreError::WrongExpectedVersion { .. }) => {}
            Err(other) => panic!("round {round}: {other}"),
        }
    }
    won
}
