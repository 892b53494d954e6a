//! Counters for `GET /metrics`, in the Prometheus text format. A handful of
//! atomics does not need a metrics library.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

macro_rules! metrics {
    ($($name:ident: $kind:ident = $help:literal),+ $(,)?) => {
        /// Process-wide counters and gauges.
        #[derive(Debug, Default)]
        pub struct Metrics { $(pub $name: metrics!(@type $kind)),+ }

        impl Metrics {
            /// The Prometheus text exposition of every metric.
            pub fn render(&self, documents_in_memory: usize) -> String {
                let mut out = String::new();
                $(
                    let _ = writeln!(out, "# HELP veldwerk_{} {}", stringify!($name), $help);
                    let _ = writeln!(out, "# TYPE veldwerk_{} {}", stringify!($name), stringify!($kind));
                    let _ = writeln!(out, "veldwerk_{} {}", stringify!($name), self.$name.load(Ordering::Relaxed));
                )+
                let _ = writeln!(out, "# HELP veldwerk_documents_in_memory Documents loaded in memory.");
                let _ = writeln!(out, "# TYPE veldwerk_documents_in_memory gauge");
                let _ = writeln!(out, "veldwerk_documents_in_memory {documents_in_memory}");
                out
            }
        }
    };
    (@type counter) => { AtomicU64 };
    (@type gauge) => { AtomicI64 };
}

metrics! {
    connections_open: gauge = "WebSocket connections open now.",
    connections_total: counter = "WebSocket connections accepted.",
    frames_received_total: counter = "Protocol frames received.",
    frames_refused_total: counter = "Frames refused as malformed, oversized or not allowed.",
    ephemeral_refused_total: counter = "Ephemeral messages dropped for their size or rate.",
    document_requests_refused_total: counter = "Requests for documents refused for their rate or for the documents a connection has open.",
    documents_too_large_total: counter = "Sync messages refused because they would grow a document past VELDWERK_MAX_DOCUMENT_BYTES.",
    silent_peers_closed_total: counter = "Connections closed because nothing was heard from the peer, not even a pong, for three pings.",
    expired_sessions_closed_total: counter = "Sync connections closed because the browser session they live by reached its maximum age.",
    slow_readers_closed_total: counter = "Connections closed because more was queued for them than they read.",
    session_rechecks_total: counter = "Times a connection missed sign-out events and asked the store about its session.",
    changes_stored_total: counter = "Automerge changes durably stored.",
    changes_quarantined_total: counter = "Automerge changes put in quarantine.",
    cases_created_total: counter = "Cases registered, by the API or by an offline-created document.",
    store_errors_total: counter = "Storage operations that failed.",
    sync_not_stored_total: counter = "Sync messages answered with try-again: the database could not store or check them, so nothing of them was taken.",
    documents_unloaded_total: counter = "Idle documents unloaded from memory.",
    documents_evicted_total: counter = "Documents unloaded to keep within the cap on loaded documents.",
    documents_caught_up_total: counter = "Loaded documents brought up to date with other nodes' commits.",
    change_feed_interruptions_total: counter = "Times the feed of other nodes' commits was lost and reopened.",
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}
