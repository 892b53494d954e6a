//! The document registry driven directly, without sockets: peers are a sync
//! session and an outbox each, run until nothing more is said. The store is a
//! real SQLite file in a temporary folder.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, AutomergeError, ROOT, ReadDoc};
use veldwerk_core::DocumentId;
use veldwerk_core::api::QuarantineNotice;
use veldwerk_core::case::{self, AddressStatus, CaseRecord, NewCase};
use veldwerk_core::identity::{OrganisationKind, Role, Standing};
use veldwerk_core::protocol::Message;
use veldwerk_core::session::SyncSession;

use super::docs::{ConnectionId, DocRegistry, Sender, SyncRefusal};
use super::outbox::{Outbox, Outgoing};
use crate::metrics::Metrics;
use crate::store::{AuditKey, ChangeBatch, NewCaseRecord, NewChange, Principal, Store};

const NOW: i64 = 1_790_000_000_000;
const ON_TEAM: Standing = Standing {
    on_team: true,
    directs: true,
};

struct Harness {
    store: Store,
    principal: Principal,
    metrics: Arc<Metrics>,
    dir: tempfile::TempDir,
}

/// One tablet syncing one document.
struct Peer {
    connection: ConnectionId,
    peer_id: String,
    outbox: Outbox,
    outgoing: Outgoing,
    session: SyncSession,
    doc: Automerge,
    own_actors: HashSet<String>,
    /// The `error` messages the server sent.
    errors: Vec<String>,
}

impl Harness {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&Self::url(&dir), AuditKey::derive(b"registry tests"))
            .await
            .unwrap();
        let org = "Gemeente Proef";
        store
            .add_organisation(org, OrganisationKind::Municipality, NOW)
            .await
            .unwrap();
        store
            .add_user(org, "ada", Role::FieldWorker, NOW)
            .await
            .unwrap();
        let principal = store
            .add_api_token("ada", "tablet", &"ad".repeat(16), "hash", NOW)
            .await
            .unwrap();
        Self {
            store,
            principal,
            metrics: Arc::new(Metrics::default()),
            dir,
        }
    }

    fn url(dir: &tempfile::TempDir) -> String {
        format!("sqlite://{}", dir.path().join("veldwerk.db").display())
    }

    /// A server node on this harness's database.
    fn registry(&self, store: Store, max_loaded: usize) -> DocRegistry {
        DocRegistry::new(
            store,
            self.metrics.clone(),
            "vw-test".into(),
            256,
            max_loaded,
        )
    }

    /// A case registered by Ada, as the store holds it.
    async fn case(&self, label: &str) -> DocumentId {
        let mut doc = Automerge::new().with_actor(self.actor());
        doc.transact::<_, _, AutomergeError>(|tx| {
            case::init_case(
                tx,
                &NewCase {
                    label: label.into(),
                    address: "Kerkstraat 1".into(),
                    address_status: AddressStatus::Known,
                },
            )
        })
        .unwrap();
        let id = DocumentId::from_random_bytes(*uuid::Uuid::new_v4().as_bytes());
        let record = NewCaseRecord {
            document_id: id.to_string(),
            restricted_document_id: DocumentId::from_random_bytes(*uuid::Uuid::new_v4().as_bytes())
                .to_string(),
            creator_user_id: self.principal.user_id,
            creator_organisation_id: self.principal.organisation_id,
            directing_org_id: Some(self.principal.organisation_id),
            batch: ChangeBatch {
                document_id: id.to_string(),
                device_id: self.principal.device_id,
                changes: doc
                    .get_changes(&[])
                    .iter()
                    .map(|c| NewChange {
                        hash: c.hash().to_string(),
                        bytes: c.raw_bytes().to_vec(),
                    })
                    .collect(),
                projection: Some(CaseRecord::new(&doc).project().unwrap()),
                ..ChangeBatch::default()
            },
        };
        self.store.create_case(&record, NOW).await.unwrap();
        id
    }

    fn actor(&self) -> ActorId {
        ActorId::from(hex::decode(&self.principal.actor_id).unwrap())
    }

    fn peer(&self, connection: ConnectionId) -> Peer {
        let (outbox, outgoing, _) = Outbox::new(1 << 20);
        Peer {
            connection,
            peer_id: format!("tablet-{connection}"),
            outbox,
            outgoing,
            session: SyncSession::new(),
            doc: Automerge::new().with_actor(self.actor()),
            own_actors: HashSet::new(),
            errors: Vec::new(),
        }
    }

    /// Syncs `peer` with `registry` until neither has anything to say, or
    /// the server refused something (a tablet then stops offering it).
    async fn sync(
        &self,
        registry: &DocRegistry,
        peer: &mut Peer,
        id: DocumentId,
    ) -> Result<(), SyncRefusal> {
        for _ in 0..50 {
            let mut said = false;
            if let Some(data) = peer.session.generate(&peer.doc) {
                said = true;
                let sender = Sender {
                    connection: peer.connection,
                    peer_id: &peer.peer_id,
                    principal: &self.principal,
                    outbox: &peer.outbox,
                    own_actors: &mut peer.own_actors,
                };
                assert!(registry.receive(sender, ON_TEAM, id, &data).await?);
            }
            while let Some(frame) = peer.outgoing.try_recv() {
                said = true;
                match Message::decode(&frame).unwrap() {
                    Message::Sync { data, .. } => {
                        let message = SyncSession::decode(&data).unwrap();
                        peer.session.receive(&mut peer.doc, message).unwrap();
                    }
                    Message::Error { message, .. } => peer.errors.push(message),
                    other => panic!("unexpected {other:?}"),
                }
            }
            if !said || !peer.errors.is_empty() {
                return Ok(());
            }
        }
        panic!("the peer and the registry did not settle");
    }
}

fn relabel(peer: &mut Peer, label: &str) {
    let household = peer.doc.get(ROOT, "household").unwrap().unwrap().1;
    let mut tx = peer.doc.transaction();
    tx.put(&household, "label", label).unwrap();
    tx.commit();
}

fn label(doc: &Automerge) -> String {
    CaseRecord::new(doc).project().unwrap().label
}

async fn stored_label(store: &Store, id: DocumentId) -> String {
    let stored = store.load_document(&id.to_string()).await.unwrap().unwrap();
    let mut doc = match stored.snapshot {
        Some(snapshot) => Automerge::load(&snapshot).unwrap(),
        None => Automerge::new(),
    };
    doc.load_incremental(&stored.changes.concat()).unwrap();
    label(&doc)
}

#[tokio::test]
async fn a_refused_change_is_quarantined_and_the_sender_told() {
    let h = Harness::new().await;
    let registry = h.registry(h.store.clone(), 100);
    let id = h.case("Familie Proef").await;
    let mut ada = h.peer(1);
    h.sync(&registry, &mut ada, id).await.unwrap();
    assert_eq!(label(&ada.doc), "Familie Proef");

    let household = ada.doc.get(ROOT, "household").unwrap().unwrap().1;
    let mut tx = ada.doc.transaction();
    tx.put(&household, "nationality", "x").unwrap();
    tx.commit();
    let hash = ada.doc.get_last_local_change().unwrap().hash().to_string();
    h.sync(&registry, &mut ada, id).await.unwrap();

    let notices: Vec<QuarantineNotice> = ada
        .errors
        .iter()
        .filter_map(|e| QuarantineNotice::parse(e))
        .collect();
    assert_eq!(notices.len(), 1, "{:?}", ada.errors);
    assert_eq!(
        (notices[0].hash.as_str(), notices[0].document_id),
        (hash.as_str(), id)
    );
    let quarantine = h.store.quarantine(10).await.unwrap();
    assert_eq!(quarantine.len(), 1);
    assert_eq!(quarantine[0].hash, hash);

    // Another tablet gets the record without it.
    let mut other = h.peer(2);
    h.sync(&registry, &mut other, id).await.unwrap();
    let household = other.doc.get(ROOT, "household").unwrap().unwrap().1;
    assert!(other.doc.get(&household, "nationality").unwrap().is_none());
}

#[tokio::test]
async fn a_failed_commit_leaves_nothing_in_memory() {
    let h = Harness::new().await;
    let registry = h.registry(h.store.clone(), 100);
    let id = h.case("Familie Proef").await;
    let mut ada = h.peer(1);
    h.sync(&registry, &mut ada, id).await.unwrap();

    // Ada's first change is stored (and her actor id known); then the
    // database goes away, and her next change cannot be stored.
    relabel(&mut ada, "Familie Eerst");
    h.sync(&registry, &mut ada, id).await.unwrap();
    h.store.close().await;
    relabel(&mut ada, "Familie Verloren");
    let refused = h.sync(&registry, &mut ada, id).await;
    assert!(
        matches!(refused, Err(SyncRefusal::Storage(_))),
        "{refused:?}"
    );
    // Nobody is told of a change that was not stored: a tablet connecting
    // now gets the document in memory, without it.
    let mut carla = h.peer(3);
    h.sync(&registry, &mut carla, id).await.unwrap();
    assert_eq!(label(&carla.doc), "Familie Eerst");
}

#[tokio::test]
async fn a_node_catches_up_with_what_another_committed() {
    let h = Harness::new().await;
    let here = h.registry(h.store.clone(), 100);
    let other_store = Store::connect(&Harness::url(&h.dir), AuditKey::derive(b"registry tests"))
        .await
        .unwrap();
    let there = h.registry(other_store.clone(), 100);
    let id = h.case("Familie Proef").await;
    let mut ada = h.peer(1);
    let mut bob = h.peer(2);
    h.sync(&here, &mut ada, id).await.unwrap();
    h.sync(&there, &mut bob, id).await.unwrap();

    relabel(&mut bob, "Familie Elders");
    h.sync(&there, &mut bob, id).await.unwrap();
    assert_eq!(stored_label(&h.store, id).await, "Familie Elders");

    // Told of the commit, this node brings Ada what the other node stored.
    here.catch_up(id).await;
    h.sync(&here, &mut ada, id).await.unwrap();
    assert_eq!(label(&ada.doc), "Familie Elders");
    other_store.close().await;
}

#[tokio::test]
async fn documents_nobody_has_open_leave_memory_over_the_cap() {
    let h = Harness::new().await;
    let registry = h.registry(h.store.clone(), 1);
    let first = h.case("Familie Een").await;
    let second = h.case("Familie Twee").await;
    let mut ada = h.peer(1);
    h.sync(&registry, &mut ada, first).await.unwrap();
    relabel(&mut ada, "Familie Een-de Wit");
    h.sync(&registry, &mut ada, first).await.unwrap();
    registry.detach(ada.connection, [first]).await;

    let mut bob = h.peer(2);
    h.sync(&registry, &mut bob, second).await.unwrap();
    assert_eq!(registry.loaded(), 1, "the closed document left memory");
    assert_eq!(
        registry.unload_idle(Duration::ZERO),
        0,
        "the open one stays"
    );

    // Nothing was lost: the unloaded document loads again, whole.
    let mut carla = h.peer(3);
    h.sync(&registry, &mut carla, first).await.unwrap();
    assert_eq!(label(&carla.doc), "Familie Een-de Wit");
}
