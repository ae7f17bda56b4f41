//! The metrics a test binary records: a debugging recorder installed once, and what it saw.

use std::sync::{Mutex, OnceLock};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

pub fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().expect("the only recorder of this test binary");
        snapshotter
    })
}

/// Every metric seen so far: counters summed over snapshots (a snapshot hands out what was
/// counted since the previous one), gauges at their last value. Keyed by name and labels.
type Seen = Mutex<Vec<(String, Vec<(String, String)>, f64)>>;

fn seen() -> &'static Seen {
    static SEEN: OnceLock<Seen> = OnceLock::new();
    SEEN.get_or_init(Mutex::default)
}

/// The value of metric `name` whose labels include all of `labels`.
pub fn metric(name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut seen = seen().lock().unwrap();
    for (key, _, _, value) in snapshotter().snapshot().into_vec() {
        let key = key.key();
        let pairs: Vec<(String, String)> = key.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
        let slot = match seen.iter().position(|(n, l, _)| n == key.name() && *l == pairs) {
            Some(i) => i,
            None => {
                seen.push((key.name().to_owned(), pairs, 0.0));
                seen.len() - 1
            }
        };
        match value {
            DebugValue::Counter(n) => seen[slot].2 += n as f64,
            DebugValue::Gauge(v) => seen[slot].2 = v.0,
            DebugValue::Histogram(_) => {}
        }
    }
    seen.iter()
        .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v)))
        .map(|(_, _, value)| *value)
}
