//! The sync engine's decisions, sans-IO: when to connect again and after how
//! long, what the server means when it closes the socket or refuses a change,
//! which documents to fetch or forget given the server's caseload, and whether
//! a copy is in step with the server's. The drivers (the tablet's browser
//! engine, the end-to-end test client, the load generator) own the socket, the
//! timers and the storage; they bring the jitter as a number in `[0, 1)`, and
//! get delays back in milliseconds, so this reads no clock and draws no random
//! numbers, and the same decisions are tested here on the host.

use std::collections::BTreeSet;

use automerge::{Automerge, ChangeHash, ReadDoc};

use crate::DocumentId;
use crate::api::{CloseCode, DEVICE_REVOKED_PREFIX, QuarantineNotice, TryAgainNotice};

/// How often a running engine checks in with the server while nothing else
/// happens: syncs every document when connected, connects when not.
pub const PERIOD_MS: u32 = 30_000;
/// The first reconnect waits up to this long …
pub const BACKOFF_BASE_MS: u32 = 1_000;
/// … each further one up to twice as long as the one before, never longer than this.
pub const BACKOFF_MAX_MS: u32 = 60_000;

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … up to 60 s, each delay
/// drawn from the upper half of its ceiling, so tablets that lost the server
/// together do not all come back in the same instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// How many reconnects were scheduled since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt, given `jitter` in `[0, 1)`; counts the attempt.
    pub fn next_delay_ms(&mut self, jitter: f64) -> u32 {
        let ceiling = (f64::from(BACKOFF_BASE_MS) * 2f64.powi(self.attempt.min(16) as i32))
            .min(f64::from(BACKOFF_MAX_MS));
        self.attempt += 1;
        (ceiling * (0.5 + jitter.clamp(0.0, 1.0) / 2.0)) as u32
    }

    /// Starts over from the shortest delay (after a handshake, or when the network returns).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A reconnect the driver should make after `delay_ms`, by calling
/// [`Engine::retry_due`] with `generation` when the timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub generation: u64,
    pub delay_ms: u32,
}

/// What the driver does after something happened on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing; carry on.
    Continue,
    /// The connection is down: say so, and connect again after `retry` (none when
    /// a reconnect is already due or the engine has stopped).
    Offline { retry: Option<Retry> },
    /// The session ended: say so and stop trying until someone signs in again.
    SignedOut,
    /// The device was revoked: wipe every local record and key at once.
    Wipe,
    /// The server refused a change of `document` and keeps it in quarantine:
    /// keep the reason for the worker and start the document over from the
    /// server's copy.
    Refused {
        document: DocumentId,
        reason: String,
    },
    /// The server could not store what was sent for this document: keep it,
    /// and after [`try_again_delay_ms`] start the document's sync over.
    TryAgain(DocumentId),
}

/// What the session check before connecting found (a refused WebSocket
/// upgrade tells a browser nothing, so the driver asks the API first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// Signed in; go on and open the socket.
    SignedIn,
    /// The session has ended.
    SignedOut,
    /// The server says this device is revoked.
    Revoked,
    /// No answer: no network, or the server is down.
    Unreachable,
}

/// One client's engine state: whether it should be connected, which socket
/// is the current one, and the backoff. A driver bumps the generation with
/// every new connection attempt, so callbacks and timers of an older one can
/// tell they are stale.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    running: bool,
    generation: u64,
    backoff: Backoff,
    /// A reconnect timer is set; another is not needed.
    reconnect_pending: bool,
    /// A socket is open (or opening).
    connected: bool,
}

impl Engine {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// Starts syncing (after unlock, or a new sign-in).
    pub fn start(&mut self) {
        self.running = true;
        self.backoff.reset();
    }

    /// Stops syncing (on lock, sign-out or wipe); what the current socket and
    /// any timer do afterwards is stale. The driver drops its socket.
    pub fn stop(&mut self) {
        self.running = false;
        self.generation += 1;
        self.connected = false;
        self.reconnect_pending = false;
    }

    /// Whether to connect now: running and not connected.
    pub fn should_connect(&self) -> bool {
        self.running && !self.connected
    }

    /// The network came back, or the service worker's background sync fired:
    /// the next wait starts short again.
    pub fn network_returned(&mut self) {
        self.backoff.reset();
    }

    /// A new connection attempt begins; returns its generation.
    pub fn connecting(&mut self) -> u64 {
        self.generation += 1;
        self.reconnect_pending = false;
        self.generation
    }

    /// Whether `generation` is the current attempt's (for socket callbacks).
    pub fn is_current(&self, generation: u64) -> bool {
        self.generation == generation
    }

    /// Whether an attempt of `generation` should go on (after an `.await`).
    pub fn may_go_on(&self, generation: u64) -> bool {
        self.is_current(generation) && self.running
    }

    /// The attempt's socket exists now.
    pub fn socket_opened(&mut self) {
        self.connected = true;
    }

    /// The socket is gone (or could not be made); returns the generation it had.
    pub fn socket_gone(&mut self) -> u64 {
        self.connected = false;
        self.generation
    }

    /// The server accepted the handshake: the backoff starts over.
    pub fn joined(&mut self) {
        self.backoff.reset();
    }

    /// Schedules a reconnect for the attempt of `generation`, unless one is
    /// due already or the engine has stopped.
    pub fn schedule_reconnect(&mut self, generation: u64, jitter: f64) -> Option<Retry> {
        if !self.running || self.reconnect_pending {
            return None;
        }
        self.reconnect_pending = true;
        Some(Retry {
            generation,
            delay_ms: self.backoff.next_delay_ms(jitter),
        })
    }

    /// A reconnect timer fired: whether to connect now.
    pub fn retry_due(&mut self, generation: u64) -> bool {
        self.reconnect_pending = false;
        self.generation == generation && self.running && !self.connected
    }

    /// What the session check of the attempt of `generation` means.
    pub fn session_checked(&mut self, generation: u64, session: Session, jitter: f64) -> Outcome {
        match session {
            Session::SignedIn => Outcome::Continue,
            Session::SignedOut => Outcome::SignedOut,
            Session::Revoked => Outcome::Wipe,
            Session::Unreachable => self.offline(generation, jitter),
        }
    }

    /// The attempt of `generation` could not make its socket.
    pub fn socket_failed(&mut self, generation: u64, jitter: f64) -> Outcome {
        self.offline(generation, jitter)
    }

    /// The connection went down without a close code that means more: the server
    /// broke the protocol, say.
    pub fn connection_lost(&mut self, jitter: f64) -> Outcome {
        let generation = self.socket_gone();
        self.offline(generation, jitter)
    }

    /// The server closed the socket with `code`.
    pub fn closed(&mut self, code: u16, jitter: f64) -> Outcome {
        let generation = self.socket_gone();
        match CloseCode::from_code(code) {
            Some(CloseCode::DeviceRevoked) => Outcome::Wipe,
            Some(CloseCode::SignedOut) => Outcome::SignedOut,
            // Going away, a broken limit, a lost network: all are worth another try.
            Some(
                CloseCode::GoingAway | CloseCode::Protocol | CloseCode::Policy | CloseCode::TooBig,
            )
            | None => self.offline(generation, jitter),
        }
    }

    /// What an `error` message from the server means.
    pub fn refused(&self, message: &str) -> Outcome {
        refusal(message)
    }

    fn offline(&mut self, generation: u64, jitter: f64) -> Outcome {
        Outcome::Offline {
            retry: self.schedule_reconnect(generation, jitter),
        }
    }
}

/// How long to wait before sending changes the server could not store again,
/// given `jitter` in `[0, 1)`: 2.5 to 5 s, so tablets spread out after an outage.
pub fn try_again_delay_ms(jitter: f64) -> u32 {
    (5_000.0 * (0.5 + jitter.clamp(0.0, 1.0) / 2.0)) as u32
}

/// What an `error` message from the server means: a revoked device wipes, a
/// quarantined change is refused, one not stored goes again; else nothing.
pub fn refusal(message: &str) -> Outcome {
    if message.starts_with(DEVICE_REVOKED_PREFIX) {
        return Outcome::Wipe;
    }
    if let Some(notice) = TryAgainNotice::parse(message) {
        return Outcome::TryAgain(notice.document_id);
    }
    match QuarantineNotice::parse(message) {
        Some(notice) => Outcome::Refused {
            document: notice.document_id,
            reason: notice.reason,
        },
        None => Outcome::Continue,
    }
}

/// What to do with the local documents after the server listed the caseload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Held, acknowledged by the server, and no longer listed: the tablet
    /// may no longer read them (handed over, or off the team). The driver
    /// still keeps any whose local changes the server has not confirmed.
    pub forget: Vec<DocumentId>,
    /// Listed and not on the tablet yet: fetch them.
    pub fetch: Vec<DocumentId>,
}

/// Which documents to forget and fetch. `acknowledged` are the documents the
/// server had acknowledged something of *before the caseload was asked for*:
/// only those can be missing from the list for want of access rather than
/// because the list was made before they arrived. `local` is every document
/// on the tablet, `listed` the server's caseload, in its order.
pub fn reconcile(
    acknowledged: &[DocumentId],
    local: &BTreeSet<DocumentId>,
    listed: &[DocumentId],
) -> Reconciliation {
    let listed_set: BTreeSet<&DocumentId> = listed.iter().collect();
    let forget = acknowledged
        .iter()
        .filter(|id| !listed_set.contains(id))
        .copied()
        .collect();
    let mut seen = BTreeSet::new();
    let fetch = listed
        .iter()
        .filter(|id| !local.contains(id) && seen.insert(**id))
        .copied()
        .collect();
    Reconciliation { forget, fetch }
}

/// The server's acknowledged heads that this copy has (it may be behind the server).
pub fn known_acked(doc: &Automerge, acked: &[ChangeHash]) -> Vec<ChangeHash> {
    acked
        .iter()
        .filter(|h| doc.get_change_by_hash(h).is_some())
        .copied()
        .collect()
}

/// Local changes the server has not confirmed: everything after the
/// acknowledged heads this copy has.
pub fn unconfirmed(doc: &Automerge, acked: &[ChangeHash]) -> usize {
    doc.get_changes(&known_acked(doc, acked)).len()
}

/// Settled: the server acknowledged something of the document and has every
/// change of ours, so letting go of the local copy loses nothing.
pub fn settled(doc: &Automerge, acked: &[ChangeHash]) -> bool {
    !acked.is_empty() && unconfirmed(doc, acked) == 0
}

/// Acknowledged: the heads the server last reported (`theirs`) include every
/// head of ours, and we have some.
pub fn acknowledged(ours: &[ChangeHash], theirs: Option<&[ChangeHash]>) -> bool {
    match theirs {
        Some(theirs) => !ours.is_empty() && ours.iter().all(|head| theirs.contains(head)),
        None => false,
    }
}

/// Received: we hold every head the server last reported (and it reported some).
pub fn received(theirs: Option<&[ChangeHash]>, have: impl FnMut(&ChangeHash) -> bool) -> bool {
    match theirs {
        Some(theirs) if !theirs.is_empty() => theirs.iter().all(have),
        _ => false,
    }
}

/// In step: both sides report the same, non-empty heads.
pub fn in_step(ours: &[ChangeHash], theirs: Option<&[ChangeHash]>) -> bool {
    match theirs {
        Some(theirs) => !ours.is_empty() && sorted(theirs) == sorted(ours),
        None => false,
    }
}

fn sorted(heads: &[ChangeHash]) -> Vec<ChangeHash> {
    let mut heads = heads.to_vec();
    heads.sort();
    heads
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, ROOT};

    use super::*;

    fn id(n: u8) -> DocumentId {
        DocumentId::from_random_bytes([n; 16])
    }

    fn hash(n: u8) -> ChangeHash {
        ChangeHash([n; 32])
    }

    fn running() -> Engine {
        let mut engine = Engine::new();
        engine.start();
        engine
    }

    /// Fails the attempt of the current generation and lets its timer fire.
    fn fail_and_wait(engine: &mut Engine, jitter: f64) -> u32 {
        let generation = engine.connecting();
        engine.socket_opened();
        let Outcome::Offline { retry: Some(retry) } = engine.closed(1006, jitter) else {
            panic!("a lost connection is retried");
        };
        assert_eq!(retry.generation, generation);
        assert!(engine.retry_due(retry.generation));
        retry.delay_ms
    }

    #[test]
    fn backoff_doubles_from_one_second_up_to_a_minute() {
        let mut backoff = Backoff::default();
        let ceilings: Vec<u32> = (0..9).map(|_| backoff.next_delay_ms(1.0)).collect();
        assert_eq!(
            ceilings,
            [
                1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000
            ]
        );
        // Far along, the exponent stops growing and nothing overflows.
        for _ in 0..100 {
            backoff.next_delay_ms(0.5);
        }
        assert_eq!(backoff.next_delay_ms(1.0), 60_000);
    }

    #[test]
    fn jitter_draws_from_the_upper_half_of_the_ceiling() {
        let mut backoff = Backoff::default();
        assert_eq!(backoff.next_delay_ms(0.0), 500);
        assert_eq!(backoff.next_delay_ms(0.5), 1_500);
        assert_eq!(backoff.next_delay_ms(0.999), 3_998);
        // Out of range jitter is held to the range.
        assert_eq!(backoff.next_delay_ms(-1.0), 4_000);
        assert_eq!(backoff.next_delay_ms(7.0), 16_000);
    }

    #[test]
    fn the_backoff_grows_with_failures_and_starts_over_after_a_handshake() {
        let mut engine = running();
        let delays: Vec<u32> = (0..4).map(|_| fail_and_wait(&mut engine, 1.0)).collect();
        assert_eq!(delays, [1_000, 2_000, 4_000, 8_000]);
        assert_eq!(engine.backoff().attempt(), 4);

        engine.connecting();
        engine.socket_opened();
        engine.joined();
        assert_eq!(engine.backoff().attempt(), 0);
        assert_eq!(fail_and_wait(&mut engine, 1.0), 1_000);
    }

    #[test]
    fn the_backoff_starts_over_when_the_network_returns_or_on_start() {
        let mut engine = running();
        fail_and_wait(&mut engine, 1.0);
        fail_and_wait(&mut engine, 1.0);
        engine.network_returned();
        assert_eq!(fail_and_wait(&mut engine, 1.0), 1_000);
        fail_and_wait(&mut engine, 1.0);
        engine.stop();
        engine.start();
        assert_eq!(fail_and_wait(&mut engine, 1.0), 1_000);
    }

    #[test]
    fn one_reconnect_is_due_at_a_time() {
        let mut engine = running();
        let generation = engine.connecting();
        let first = engine.schedule_reconnect(generation, 0.0);
        assert!(first.is_some());
        assert_eq!(engine.schedule_reconnect(generation, 0.0), None);
        assert!(engine.retry_due(generation));
        assert!(engine.schedule_reconnect(generation, 0.0).is_some());
    }

    #[test]
    fn a_stopped_engine_does_not_reconnect_and_its_old_timers_are_stale() {
        let mut engine = running();
        let generation = engine.connecting();
        engine.socket_opened();
        let Outcome::Offline { retry: Some(retry) } = engine.closed(1001, 0.0) else {
            panic!("going away is retried");
        };
        engine.stop();
        assert!(!engine.should_connect());
        assert!(!engine.retry_due(retry.generation));
        assert_eq!(engine.closed(1006, 0.0), Outcome::Offline { retry: None });
        assert!(!engine.may_go_on(generation));

        // Started again, the old timer still does nothing; a new failure is retried.
        engine.start();
        assert!(engine.should_connect());
        assert!(!engine.retry_due(retry.generation));
        let generation = engine.connecting();
        assert!(matches!(
            engine.session_checked(generation, Session::Unreachable, 0.0),
            Outcome::Offline { retry: Some(_) }
        ));
    }

    #[test]
    fn a_newer_attempt_makes_an_older_one_stale() {
        let mut engine = running();
        let older = engine.connecting();
        let newer = engine.connecting();
        assert!(!engine.may_go_on(older));
        assert!(!engine.is_current(older));
        assert!(engine.may_go_on(newer));
        engine.socket_opened();
        assert!(!engine.should_connect());
        assert!(!engine.retry_due(newer), "connected already");
    }

    #[test]
    fn each_close_code_has_its_outcome() {
        for code in [
            CloseCode::GoingAway,
            CloseCode::Protocol,
            CloseCode::Policy,
            CloseCode::TooBig,
        ] {
            let mut engine = running();
            let generation = engine.connecting();
            engine.socket_opened();
            assert_eq!(
                engine.closed(code.code(), 1.0),
                Outcome::Offline {
                    retry: Some(Retry {
                        generation,
                        delay_ms: 1_000
                    })
                },
                "{code:?}"
            );
            assert!(engine.should_connect(), "{code:?}: the socket is gone");
        }
        let mut engine = running();
        engine.connecting();
        engine.socket_opened();
        assert_eq!(
            engine.closed(CloseCode::SignedOut.code(), 0.0),
            Outcome::SignedOut
        );
        engine.socket_opened();
        assert_eq!(
            engine.closed(CloseCode::DeviceRevoked.code(), 0.0),
            Outcome::Wipe
        );
        // A code the server does not send (the network dropped, a normal close) is retried.
        for code in [1000, 1005, 1006, 4000] {
            let mut engine = running();
            engine.connecting();
            assert!(
                matches!(
                    engine.closed(code, 0.0),
                    Outcome::Offline { retry: Some(_) }
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn the_session_check_decides_whether_to_open_the_socket() {
        let mut engine = running();
        let generation = engine.connecting();
        assert_eq!(
            engine.session_checked(generation, Session::SignedIn, 0.0),
            Outcome::Continue
        );
        assert_eq!(
            engine.session_checked(generation, Session::SignedOut, 0.0),
            Outcome::SignedOut
        );
        assert_eq!(
            engine.session_checked(generation, Session::Revoked, 0.0),
            Outcome::Wipe
        );
        assert_eq!(
            engine.session_checked(generation, Session::Unreachable, 0.0),
            Outcome::Offline {
                retry: Some(Retry {
                    generation,
                    delay_ms: 500
                })
            }
        );
    }

    #[test]
    fn a_refusal_names_its_outcome() {
        let engine = running();
        assert_eq!(
            engine.refused(crate::api::DEVICE_REVOKED_MESSAGE),
            Outcome::Wipe
        );
        let notice = QuarantineNotice::first_of("ab12".into(), id(3), "not yours to write", 2);
        assert_eq!(
            engine.refused(&notice.encode()),
            Outcome::Refused {
                document: id(3),
                reason: "not yours to write (and 1 more)".into()
            }
        );
        assert_eq!(
            engine.refused(crate::api::SIGNED_OUT_MESSAGE),
            Outcome::Continue
        );
        let not_stored = TryAgainNotice::new(id(4), "the database is unavailable").encode();
        assert_eq!(engine.refused(&not_stored), Outcome::TryAgain(id(4)));
        let delays = [0.0, 0.999_999, 7.0].map(try_again_delay_ms);
        assert_eq!(delays, [2_500, 4_999, 5_000]);
        assert_eq!(engine.refused("something else"), Outcome::Continue);
        // A refusal does not touch the connection.
        assert_eq!(engine.backoff().attempt(), 0);
    }

    #[test]
    fn reconciliation_forgets_what_is_no_longer_listed_and_fetches_what_is_new() {
        let local: BTreeSet<DocumentId> = [id(1), id(2), id(3)].into();
        let got = reconcile(&[id(1), id(2)], &local, &[id(2), id(4), id(5)]);
        assert_eq!(
            got,
            Reconciliation {
                forget: vec![id(1)],
                fetch: vec![id(4), id(5)],
            }
        );
    }

    #[test]
    fn reconciliation_keeps_what_the_server_never_acknowledged() {
        // 3 was made on the tablet and is not on the server yet: not listed, not forgotten.
        let local: BTreeSet<DocumentId> = [id(1), id(3)].into();
        let got = reconcile(&[id(1)], &local, &[id(1)]);
        assert_eq!(got, Reconciliation::default());
    }

    #[test]
    fn reconciliation_of_an_empty_caseload_and_an_empty_tablet() {
        let empty = BTreeSet::new();
        assert_eq!(reconcile(&[], &empty, &[]), Reconciliation::default());
        // A fresh tablet fetches everything listed, once each.
        let got = reconcile(&[], &empty, &[id(7), id(8), id(7)]);
        assert_eq!(got.fetch, vec![id(7), id(8)]);
        assert!(got.forget.is_empty());
        // An empty list forgets everything acknowledged.
        let local: BTreeSet<DocumentId> = [id(1), id(2)].into();
        let got = reconcile(&[id(1), id(2)], &local, &[]);
        assert_eq!(got.forget, vec![id(1), id(2)]);
        assert!(got.fetch.is_empty());
    }

    #[test]
    fn heads_in_step_acknowledged_and_received() {
        let (a, b, c) = (hash(1), hash(2), hash(3));
        assert!(in_step(&[a, b], Some(&[b, a])));
        assert!(!in_step(&[a, b], Some(&[a])));
        assert!(!in_step(&[a], Some(&[a, b])));
        assert!(!in_step(&[], Some(&[])));
        assert!(!in_step(&[a], None));

        assert!(acknowledged(&[a], Some(&[a, b])));
        assert!(!acknowledged(&[a, c], Some(&[a, b])));
        assert!(!acknowledged(&[], Some(&[a])));
        assert!(!acknowledged(&[a], None));

        let have = |h: &ChangeHash| *h == a || *h == b;
        assert!(received(Some(&[a, b]), have));
        assert!(!received(Some(&[a, c]), have));
        assert!(!received(Some(&[]), have));
        assert!(!received(None, have));
    }

    fn edit(doc: &mut Automerge, value: i64) {
        let mut tx = doc.transaction();
        tx.put(ROOT, "n", value).unwrap();
        tx.commit();
    }

    #[test]
    fn a_copy_is_settled_when_the_server_has_every_change_of_it() {
        let mut doc = Automerge::new().with_actor(ActorId::from([1u8; 16]));
        edit(&mut doc, 1);
        // Never acknowledged: one change pending, not settled.
        assert_eq!(unconfirmed(&doc, &[]), 1);
        assert!(!settled(&doc, &[]));

        let acked = doc.get_heads();
        assert_eq!(unconfirmed(&doc, &acked), 0);
        assert!(settled(&doc, &acked));

        edit(&mut doc, 2);
        edit(&mut doc, 3);
        assert_eq!(unconfirmed(&doc, &acked), 2);
        assert!(!settled(&doc, &acked));

        // The server is ahead with a change this copy lacks: only what we have counts.
        let mut other = doc.fork().with_actor(ActorId::from([2u8; 16]));
        edit(&mut other, 4);
        let ahead = other.get_heads();
        assert_eq!(known_acked(&doc, &ahead), Vec::<ChangeHash>::new());
        assert_eq!(unconfirmed(&doc, &ahead), 3);
        assert_eq!(known_acked(&doc, &acked), acked);
    }
}
