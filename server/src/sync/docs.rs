//! Documents in memory and the one path by which changes reach them: apply a
//! peer's sync message, check every new change against the rules, commit the
//! accepted ones (and the quarantined ones) to the store, and only then let
//! any peer see heads that include them.
//!
//! Each document is behind its own async mutex, held across the commit, so no
//! sync message can be generated from a state that is not yet durable.
//!
//! Documents nobody has open leave memory after `idle_unload`, and sooner,
//! least recently used first, when more than `max_loaded_documents` are loaded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use automerge::{Automerge, Change, ChangeHash};
use tokio::sync::Mutex;
use veldwerk_core::DocumentId;
use veldwerk_core::api::QuarantineNotice;
use veldwerk_core::case::CaseProjection;
use veldwerk_core::identity::{Compartment, Standing};
use veldwerk_core::judge::{Binding, Judged, Refusal, Verdict, judge_changes};
use veldwerk_core::protocol::{Message, PeerId};
use veldwerk_core::rules::Writer;
use veldwerk_core::session::SyncSession;

use super::batch::batch;
use super::live::{DocPeer, LiveDoc, PendingDoc};
use crate::Clock;
use crate::metrics::Metrics;
use crate::store::{DocumentWrite, NewCaseRecord, Principal, Store, StoreError};

pub use super::peer::{ConnectionId, Creation, Sender, SyncRefusal};

type Slot = Arc<Mutex<Option<LiveDoc>>>;

/// All documents in memory on this server node.
pub struct DocRegistry {
    slots: SyncMutex<HashMap<DocumentId, Slot>>,
    store: Store,
    metrics: Arc<Metrics>,
    server_peer: PeerId,
    compact_after: usize,
    /// Documents kept loaded at most, as far as none of them is open.
    max_loaded: usize,
    /// The largest a document may grow, counted as stored.
    max_document_bytes: usize,
    /// The time commits are stored at: the server's one clock.
    clock: Clock,
}

impl DocRegistry {
    pub fn new(
        store: Store,
        metrics: Arc<Metrics>,
        server_peer: PeerId,
        compact_after: usize,
        max_loaded: usize,
    ) -> Self {
        Self {
            slots: SyncMutex::new(HashMap::new()),
            store,
            metrics,
            server_peer,
            compact_after,
            max_loaded: max_loaded.max(1),
            max_document_bytes: usize::MAX,
            clock: Clock::default(),
        }
    }

    /// Goes by `clock` (the server's, which tests can move) for the time
    /// commits are stored at.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Refuses changes that would grow a document past `limit` bytes as
    /// stored (its snapshot and the changes logged since).
    pub fn with_max_document_bytes(mut self, limit: usize) -> Self {
        self.max_document_bytes = limit;
        self
    }

    /// The map of slots; it holds only handles, so a poisoned lock leaves it
    /// sound and is taken over, the same way everywhere.
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<DocumentId, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many documents are in memory.
    pub fn loaded(&self) -> usize {
        self.slots().len()
    }

    fn slot(&self, id: DocumentId) -> Slot {
        let mut slots = self.slots();
        let slot = slots.entry(id).or_default().clone();
        // Held here, so never evicted itself.
        self.evict_over_cap(&mut slots);
        slot
    }

    /// Unloads the least recently used documents that nobody has open and
    /// nobody is using until at most `max_loaded` remain, or none of them is
    /// left. Nothing is lost: a loaded document holds nothing uncommitted
    /// while its lock is free, and it loads again from the store.
    fn evict_over_cap(&self, slots: &mut HashMap<DocumentId, Slot>) -> usize {
        let excess = slots.len().saturating_sub(self.max_loaded);
        if excess == 0 {
            return 0;
        }
        // An empty slot (a document that was not found) sorts first.
        let mut unused: Vec<(Option<Instant>, DocumentId)> = slots
            .iter()
            .filter_map(|(id, slot)| {
                // Someone else holds the slot: it is in use.
                if Arc::strong_count(slot) > 1 {
                    return None;
                }
                let guard = slot.try_lock().ok()?;
                match guard.as_ref() {
                    None => Some((None, *id)),
                    Some(live) if live.peers.is_empty() => Some((Some(live.last_used), *id)),
                    Some(_) => None,
                }
            })
            .collect();
        let count = excess.min(unused.len());
        if count == 0 {
            return 0;
        }
        unused.select_nth_unstable(count - 1);
        for (_, id) in &unused[..count] {
            slots.remove(id);
        }
        Metrics::add(&self.metrics.documents_evicted_total, count);
        count
    }

    /// Applies a sync message from an authorised peer to a stored document.
    /// Returns `Ok(false)` when no such document is stored.
    pub async fn receive(
        &self,
        mut from: Sender<'_>,
        standing: Standing,
        id: DocumentId,
        data: &[u8],
    ) -> Result<bool, SyncRefusal> {
        let message = SyncSession::decode(data).map_err(SyncRefusal::Payload)?;
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        if guard.is_none() {
            match self.load(id).await? {
                Some(live) => *guard = Some(live),
                None => return Ok(false),
            }
        }
        let Some(live) = guard.as_mut() else {
            return Ok(false);
        };
        live.last_used = Instant::now();
        // A message that carries changes may lead to a commit: take the
        // document's write lock first and catch up with whatever other nodes
        // committed, so the new changes are judged against all of it.
        let mut write = if message.changes.iter().next().is_some() {
            let write = async {
                let mut write = self.store.begin_document_write(&id.to_string()).await?;
                let news = write.news(live.loaded_seq).await?;
                Ok::<_, StoreError>((write, news))
            };
            match write.await {
                Ok((write, news)) => {
                    live.absorb(news).map_err(SyncRefusal::Load)?;
                    Some(write)
                }
                Err(e) => {
                    // Nothing was applied; the peer starts over when it sends again.
                    if let Some(peer) = live.peers.get_mut(&from.connection) {
                        peer.session.reset();
                    }
                    return Err(SyncRefusal::Storage(e));
                }
            }
        } else {
            None
        };
        let peer = live
            .peers
            .entry(from.connection)
            .or_insert_with(|| DocPeer {
                peer_id: from.peer_id.clone(),
                session: SyncSession::new(),
                outbox: from.outbox.clone(),
            });

        let before = live.doc.get_heads();
        if let Err(e) = peer.session.receive(&mut live.doc, message) {
            // automerge may have applied part of the payload: go back to what is stored.
            if !live.rewind(&before, from.connection) {
                *guard = None;
            }
            return Err(SyncRefusal::Automerge(e.to_string()));
        }
        let new_changes = live.doc.get_changes(&before);
        let new_bytes: usize = new_changes.iter().map(|c| c.raw_bytes().len()).sum();
        if live.stored_bytes + new_bytes > self.max_document_bytes {
            if !live.rewind(&before, from.connection) {
                *guard = None;
            }
            Metrics::inc(&self.metrics.documents_too_large_total);
            return Err(SyncRefusal::TooLarge {
                limit: self.max_document_bytes,
            });
        }
        if let Some(mut write) = write.take()
            && !new_changes.is_empty()
        {
            let verdict = match self
                .check(
                    &mut from,
                    Some(&mut write),
                    live.projection.as_ref(),
                    &live.doc,
                    &before,
                    new_changes,
                    live.compartment,
                    standing,
                )
                .await
            {
                Ok(verdict) => verdict,
                Err(e) => {
                    if !live.rewind(&before, from.connection) {
                        *guard = None;
                    }
                    return Err(e);
                }
            };
            let batch = batch(id, from.principal, live.case_id, live.compartment, &verdict);
            match write
                .commit(&batch, &self.server_peer, self.clock.now())
                .await
            {
                Ok(last_seq) => {
                    live.loaded_seq = live.loaded_seq.max(last_seq.unwrap_or(0));
                }
                Err(e) => {
                    // Not stored, so not kept: nobody is told of these changes.
                    Metrics::inc(&self.metrics.store_errors_total);
                    if !live.rewind(&before, from.connection) {
                        *guard = None;
                    }
                    return Err(SyncRefusal::Storage(e));
                }
            }
            from.own_actors.extend(verdict.bind_actors.iter().cloned());
            Metrics::add(&self.metrics.changes_stored_total, verdict.accepted.len());
            Metrics::add(
                &self.metrics.changes_quarantined_total,
                verdict.refused.len(),
            );
            live.logged_changes += verdict.accepted.len();
            live.stored_bytes += verdict
                .accepted
                .iter()
                .map(|c| c.raw_bytes().len())
                .sum::<usize>();
            live.projection = verdict.judged.projection;
            if let Some(clean) = verdict.rebuilt {
                live.doc = clean;
                if let Some(peer) = live.peers.get_mut(&from.connection) {
                    // We told this peer nothing false, but its idea of what we
                    // hold now includes changes we refused: negotiate afresh.
                    peer.session.reset();
                }
            }
            if let Some((change, reason)) = verdict.refused.first() {
                // One message per sync message, however many were refused:
                // the peer learns why, and its outbox does not overflow.
                let count = verdict.refused.len();
                tracing::warn!(document = %id, device = from.principal.device_id, count, "changes quarantined");
                let notice = QuarantineNotice::first_of(
                    change.hash().to_string(),
                    id,
                    &reason.to_string(),
                    count,
                );
                from.outbox.send(Message::Error {
                    sender_id: self.server_peer.clone(),
                    target_id: Some(from.peer_id.clone()),
                    message: notice.encode(),
                });
            }
            if live.logged_changes >= self.compact_after {
                self.compact(id, live).await;
            }
        }
        self.broadcast(id, live);
        Ok(true)
    }

    /// Handles a sync message for a document no one has stored yet: a
    /// household registered offline. Registers it once it validates.
    pub async fn create(
        &self,
        mut from: Sender<'_>,
        id: DocumentId,
        pending: &mut PendingDoc,
        data: &[u8],
    ) -> Result<Creation, SyncRefusal> {
        let message = SyncSession::decode(data).map_err(SyncRefusal::Payload)?;
        // Its creator's organisation is on the new case's team, and directs it
        // when it is a municipality.
        let creator = Standing {
            on_team: true,
            directs: directing_org(from.principal).is_some(),
        };
        pending
            .session
            .receive(&mut pending.doc, message)
            .map_err(|e| SyncRefusal::Automerge(e.to_string()))?;
        let changes = pending.doc.get_changes(&[]);
        if changes.is_empty() {
            // Nothing to acknowledge yet: answer so the peer sends its changes.
            if let Some(data) = pending.session.generate(&pending.doc) {
                from.outbox.send(self.sync_message(from.peer_id, id, data));
            }
            return Ok(Creation::Pending);
        }
        let bytes: usize = changes.iter().map(|c| c.raw_bytes().len()).sum();
        if bytes > self.max_document_bytes {
            *pending = PendingDoc::default();
            Metrics::inc(&self.metrics.documents_too_large_total);
            return Err(SyncRefusal::TooLarge {
                limit: self.max_document_bytes,
            });
        }
        let verdict = self
            .check(
                &mut from,
                None,
                None,
                &pending.doc,
                &[],
                changes,
                Compartment::General,
                creator,
            )
            .await?;
        let now = self.clock.now();
        if !verdict.refused.is_empty() || verdict.judged.projection.is_none() {
            let mut refused = verdict.refused;
            refused.extend(verdict.accepted.into_iter().map(|c| (c, Refusal::NotACase)));
            let reasons = refused.iter().map(|(_, r)| r.to_string()).collect();
            let refused = Verdict {
                accepted: Vec::new(),
                refused,
                bind_actors: Vec::new(),
                rebuilt: None,
                judged: Judged {
                    projection: None,
                    changed_visits: None,
                },
            };
            let batch = batch(id, from.principal, None, Compartment::General, &refused);
            self.store
                .commit_batch(&batch, now)
                .await
                .map_err(SyncRefusal::Storage)?;
            Metrics::add(
                &self.metrics.changes_quarantined_total,
                batch.quarantined.len(),
            );
            return Ok(Creation::Refused { reasons });
        }
        let record = NewCaseRecord {
            document_id: id.to_string(),
            restricted_document_id: new_document_id().to_string(),
            creator_user_id: from.principal.user_id,
            creator_organisation_id: from.principal.organisation_id,
            directing_org_id: directing_org(from.principal),
            batch: batch(id, from.principal, None, Compartment::General, &verdict),
        };
        let (case_id, last_seq) =
            self.store
                .create_case_logged(&record, now)
                .await
                .map_err(|e| {
                    Metrics::inc(&self.metrics.store_errors_total);
                    SyncRefusal::Storage(e)
                })?;
        from.own_actors.extend(verdict.bind_actors.iter().cloned());
        Metrics::inc(&self.metrics.cases_created_total);
        Metrics::add(&self.metrics.changes_stored_total, verdict.accepted.len());

        let pending = std::mem::take(pending);
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        let live = guard.get_or_insert_with(|| LiveDoc {
            doc: pending.doc,
            case_id: Some(case_id),
            compartment: Compartment::General,
            peers: HashMap::new(),
            last_used: Instant::now(),
            logged_changes: verdict.accepted.len(),
            stored_bytes: verdict.accepted.iter().map(|c| c.raw_bytes().len()).sum(),
            loaded_seq: last_seq,
            projection: verdict.judged.projection.clone(),
        });
        live.peers.insert(
            from.connection,
            DocPeer {
                peer_id: from.peer_id.clone(),
                session: pending.session,
                outbox: from.outbox.clone(),
            },
        );
        self.broadcast(id, live);
        Ok(Creation::Registered { case_id })
    }

    /// Relays a presence message to the other peers that have the document open.
    pub async fn relay_ephemeral(&self, from: ConnectionId, id: DocumentId, message: &Message) {
        let Some(slot) = self.slots().get(&id).cloned() else {
            return;
        };
        let guard = slot.lock().await;
        let Some(live) = guard.as_ref() else { return };
        if !live.peers.contains_key(&from) {
            return;
        }
        let Message::Ephemeral {
            sender_id,
            count,
            session_id,
            data,
            ..
        } = message
        else {
            return;
        };
        for (connection, peer) in &live.peers {
            if *connection != from {
                // The original sender, so presence says who it is about; the
                // connection checked it is the peer id that joined.
                peer.outbox.send(Message::Ephemeral {
                    sender_id: sender_id.clone(),
                    target_id: peer.peer_id.clone(),
                    count: *count,
                    session_id: session_id.clone(),
                    document_id: id.to_string(),
                    data: data.clone(),
                });
            }
        }
    }

    /// Forgets a closed connection in every document it had open.
    pub async fn detach(
        &self,
        connection: ConnectionId,
        documents: impl IntoIterator<Item = DocumentId>,
    ) {
        for id in documents {
            let slot = self.slots().get(&id).cloned();
            if let Some(slot) = slot
                && let Some(live) = slot.lock().await.as_mut()
            {
                live.peers.remove(&connection);
                live.last_used = Instant::now();
            }
        }
        // Documents nobody has open any more may be over the cap.
        let evicted = {
            let mut slots = self.slots();
            self.evict_over_cap(&mut slots)
        };
        if evicted > 0 {
            tracing::debug!(evicted, "documents unloaded over the cap");
        }
    }

    /// Unloads documents nobody has open and nobody used for `idle`.
    pub fn unload_idle(&self, idle: Duration) -> usize {
        let mut slots = self.slots();
        let before = slots.len();
        slots.retain(|_, slot| {
            // Someone else holds the slot: it is in use.
            if Arc::strong_count(slot) > 1 {
                return true;
            }
            match slot.try_lock() {
                Ok(guard) => match guard.as_ref() {
                    None => false,
                    Some(live) => !live.peers.is_empty() || live.last_used.elapsed() < idle,
                },
                Err(_) => true,
            }
        });
        let unloaded = before - slots.len();
        Metrics::add(&self.metrics.documents_unloaded_total, unloaded);
        unloaded
    }

    async fn load(&self, id: DocumentId) -> Result<Option<LiveDoc>, SyncRefusal> {
        let stored = self
            .store
            .load_document(&id.to_string())
            .await
            .map_err(SyncRefusal::Storage)?;
        stored
            .map(LiveDoc::from_stored)
            .transpose()
            .map_err(SyncRefusal::Load)
    }

    /// The documents loaded on this node.
    pub fn loaded_ids(&self) -> Vec<DocumentId> {
        self.slots
            .lock()
            .map(|s| s.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Brings a loaded document up to date with what other nodes committed,
    /// and sends its peers what they lack. Does nothing for a document this
    /// node has not loaded: it will read the store when it loads it.
    pub async fn catch_up(&self, id: DocumentId) {
        let Some(slot) = self.slots().get(&id).cloned() else {
            return;
        };
        let mut guard = slot.lock().await;
        let Some(live) = guard.as_mut() else { return };
        let news = match self
            .store
            .document_news(&id.to_string(), live.loaded_seq)
            .await
        {
            Ok(news) => news,
            Err(e) => {
                Metrics::inc(&self.metrics.store_errors_total);
                tracing::warn!(document = %id, error = %e, "could not catch up with other nodes");
                return;
            }
        };
        if news.is_empty() {
            return;
        }
        if let Err(e) = live.absorb(news) {
            // Keep what we have; the next commit catches up under the lock.
            tracing::error!(document = %id, error = %e, "could not apply other nodes' changes");
            return;
        }
        Metrics::inc(&self.metrics.documents_caught_up_total);
        self.broadcast(id, live);
    }

    /// Judges new changes (`core::judge`): first learns how the store knows
    /// their actor ids, then judges them for the sender.
    #[allow(clippy::too_many_arguments)]
    async fn check(
        &self,
        from: &mut Sender<'_>,
        mut write: Option<&mut DocumentWrite>,
        previous: Option<&CaseProjection>,
        doc: &Automerge,
        before: &[ChangeHash],
        changes: Vec<Change>,
        compartment: Compartment,
        standing: Standing,
    ) -> Result<Verdict, SyncRefusal> {
        let mut binding: HashMap<String, Binding> = HashMap::new();
        for change in &changes {
            let actor = change.actor_id().to_hex_string();
            if binding.contains_key(&actor) {
                continue;
            }
            if from.own_actors.contains(&actor) {
                binding.insert(actor, Binding::Sender);
                continue;
            }
            let device = match write.as_deref_mut() {
                Some(write) => write.actor_device(&actor).await,
                None => self.store.actor_device(&actor).await,
            };
            let known = match device.map_err(SyncRefusal::Storage)? {
                Some(device) if device == from.principal.device_id => {
                    from.own_actors.insert(actor.clone());
                    Binding::Sender
                }
                Some(_) => Binding::OtherDevice,
                None => Binding::Unbound,
            };
            binding.insert(actor, known);
        }
        let writer = writer(from.principal, standing);
        judge_changes(
            doc,
            before,
            changes,
            compartment,
            &writer,
            previous,
            &binding,
        )
        .map_err(|e| SyncRefusal::Automerge(e.to_string()))
    }

    /// Sends every peer of a document what it lacks. Called only after every
    /// change in the document is committed.
    fn broadcast(&self, id: DocumentId, live: &mut LiveDoc) {
        let doc = &live.doc;
        for peer in live.peers.values_mut() {
            if let Some(data) = peer.session.generate(doc) {
                peer.outbox.send(self.sync_message(&peer.peer_id, id, data));
            }
        }
    }

    fn sync_message(&self, target: &PeerId, id: DocumentId, data: Vec<u8>) -> Message {
        Message::Sync {
            sender_id: self.server_peer.clone(),
            target_id: target.clone(),
            document_id: id.to_string(),
            data,
        }
    }

    async fn compact(&self, id: DocumentId, live: &mut LiveDoc) {
        let result = async {
            // Under the document's write lock and caught up, every change
            // logged up to `loaded_seq` is in the snapshot.
            let mut write = self.store.begin_document_write(&id.to_string()).await?;
            let news = write.news(live.loaded_seq).await?;
            live.absorb(news).map_err(StoreError::Corrupt)?;
            let snapshot = live.doc.save();
            write
                .compact(&snapshot, live.loaded_seq, self.clock.now())
                .await
                .map(|()| snapshot.len())
        }
        .await;
        match result {
            Ok(snapshot_bytes) => {
                live.logged_changes = 0;
                live.stored_bytes = snapshot_bytes;
            }
            Err(e) => {
                Metrics::inc(&self.metrics.store_errors_total);
                tracing::warn!(document = %id, error = %e, "compaction failed; the change log stays as it is");
            }
        }
    }
}

/// The writer the rules judge a principal's changes as.
fn writer(principal: &Principal, standing: Standing) -> Writer<'_> {
    Writer {
        handle: &principal.handle,
        organisation: &principal.organisation,
        organisation_kind: principal.organisation_kind,
        role: principal.role,
        standing,
    }
}

/// A fresh document id, as automerge-repo makes them.
pub fn new_document_id() -> DocumentId {
    use rand::RngCore;
    let mut random = [0u8; 16];
    rand::rng().fill_bytes(&mut random);
    DocumentId::from_random_bytes(random)
}

/// A case registered by a municipality's worker is directed by that
/// municipality; one registered by a partner awaits direction.
pub fn directing_org(principal: &Principal) -> Option<i64> {
    (principal.organisation_kind == veldwerk_core::identity::OrganisationKind::Municipality)
        .then_some(principal.organisation_id)
}
