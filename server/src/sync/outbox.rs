//! A connection's outgoing queue, bounded in bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, mpsc};
use veldwerk_core::protocol::Message;

/// Bytes a queued message is counted as beyond its encoding: what the queue
/// spends to hold it, so that many tiny messages are counted honestly too.
const QUEUED_MESSAGE_OVERHEAD: usize = 64;

/// The way to a connection's socket. Bounded in bytes: a peer that does not
/// read its messages is disconnected rather than allowed to fill the server's
/// memory, however large or many the messages queued for it.
///
/// Messages are queued encoded and boxed as slices: the channel allocates its
/// slots in blocks of 32 up front, so a slot is kept small (BENCHMARKS.md,
/// "Third pass"), and what is queued is counted exactly.
#[derive(Clone, Debug)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Box<[u8]>>,
    queued: Arc<AtomicUsize>,
    limit: usize,
    too_slow: Arc<Notify>,
}

/// The connection's end of its [`Outbox`]: what is taken out no longer counts.
#[derive(Debug)]
pub struct Outgoing {
    rx: mpsc::UnboundedReceiver<Box<[u8]>>,
    queued: Arc<AtomicUsize>,
}

impl Outbox {
    /// An outbox holding at most `limit` bytes; a message larger than that is
    /// still queued when nothing else is, so one large document always fits.
    pub fn new(limit: usize) -> (Self, Outgoing, Arc<Notify>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let too_slow = Arc::new(Notify::new());
        (
            Self {
                tx,
                queued: queued.clone(),
                limit,
                too_slow: too_slow.clone(),
            },
            Outgoing { rx, queued },
            too_slow,
        )
    }

    /// Queues a message; one that would take the queue past its limit is
    /// dropped, and the peer marked as too slow.
    pub fn send(&self, message: Message) -> bool {
        let encoded = message.encode().into_boxed_slice();
        let cost = encoded.len() + QUEUED_MESSAGE_OVERHEAD;
        let before = self.queued.fetch_add(cost, Ordering::AcqRel);
        if before > 0 && before + cost > self.limit {
            self.queued.fetch_sub(cost, Ordering::AcqRel);
            self.too_slow.notify_one();
            return false;
        }
        if self.tx.send(encoded).is_err() {
            self.queued.fetch_sub(cost, Ordering::AcqRel);
            return false;
        }
        true
    }
}

impl Outgoing {
    fn taken(&self, message: Box<[u8]>) -> Box<[u8]> {
        self.queued
            .fetch_sub(message.len() + QUEUED_MESSAGE_OVERHEAD, Ordering::AcqRel);
        message
    }

    /// The next queued message, encoded.
    pub async fn recv(&mut self) -> Option<Box<[u8]>> {
        let message = self.rx.recv().await?;
        Some(self.taken(message))
    }

    /// A queued message, if one is waiting.
    pub fn try_recv(&mut self) -> Option<Box<[u8]>> {
        let message = self.rx.try_recv().ok()?;
        Some(self.taken(message))
    }

    /// Bytes queued now, as counted against the limit.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}
