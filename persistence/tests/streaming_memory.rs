//! A streaming search over 10,000 documents keeps memory flat. This test has its own binary (and
//! server) so that nothing else allocates in the process while it measures the peak resident
//! set (`VmHWM`, reset through `/proc/self/clear_refs`).

mod support;

use bson::doc;
use cqrs_mongo_persistence::Repository;
use cqrs_mongo_persistence::store::Version;
use cqrs_mongo_spec::QueryOptions;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Blob {
    id: String,
    kind: String,
    padding: String,
    #[serde(default)]
    version: Version,
}

cqrs_mongo_persistence::aggregate!(Blob, "blobs", String);

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

const DOCUMENTS: usize = 10_000;
const PADDING: usize = 2_048;

#[tokio::test(flavor = "multi_thread")]
async fn streaming_ten_thousand_documents_keeps_memory_flat() {
    let db = support::database("streaming_memory").await;
    let repo = Repository::<Blob>::new(&db);
    let padding = "x".repeat(PADDING);
    for chunk in 0..DOCUMENTS / 200 {
        let docs: Vec<bson::Document> = (0..200)
            .map(|i| doc! { "_id": format!("b{:05}", chunk * 200 + i), "kind": "k", "padding": padding.as_str(), "version": 1_i64 })
            .collect();
        repo.collection().insert_many(docs).await.unwrap();
    }
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
    let before = peak_rss_kib();
    let stream = repo
        .search_stream(
            &json!({"op": "=", "attr": "kind", "val": "k"}),
            Some(&QueryOptions::default().order_by("_id")),
            100,
        )
        .await
        .unwrap();
    let (count, bytes) = stream
        .try_fold((0usize, 0usize), |(n, bytes), blob| async move { Ok((n + 1, bytes + blob.padding.len())) })
        .await
        .unwrap();
    let grown_kib = peak_rss_kib().saturating_sub(before);
    assert_eq!(count, DOCUMENTS);
    let total_kib = (bytes / 1024) as u64;
    assert_eq!(total_kib, (DOCUMENTS * PADDING / 1024) as u64);
    // All documents together are ~20 MiB; streaming 100 at a time must stay far below that.
    assert!(grown_kib < total_kib / 4, "peak RSS grew by {grown_kib} KiB while streaming {total_kib} KiB of data");
}
