//! The app's state outside the UI: the signed-in person, the unlocked store,
//! every case document on the tablet, and what the sync engine reported (the
//! connection, a revoked device). One instance per page, on the browser's one thread.
//! The model knows nothing of the engine: it announces what changed through
//! the hook the engine registers ([`listen`]), and the engine writes its news
//! into the model, which the views watch.
//!
//! Durability: an edit is committed to the automerge document, checked against
//! the write rules, written (encrypted) to IndexedDB, and only then reported as
//! saved. What the server has is known from the heads in its sync messages,
//! which it sends only after its own durable commit; everything after those
//! heads counts as "not yet on the server".

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use automerge::{Automerge, ChangeHash};
use futures::lock::Mutex;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use veldwerk_core::DocumentId;
use veldwerk_core::api::cases::{CaseItem, WritersQuery};
use veldwerk_core::case::{CaseRecord, CaseView};
use veldwerk_core::client::engine;
use veldwerk_core::identity::{Compartment, OrganisationKind, Standing};
use veldwerk_core::judge;
use veldwerk_core::rules::{RuleViolation, Writer};

use crate::platform::{Failure, api, now_ms};
use crate::store::LocalStore;

/// Who is signed in on this tablet, as `/api/me` says; kept on the tablet as
/// the server sent it.
pub use veldwerk_core::api::identity::Me;

/// A case the server lists for us, kept so the caseload shows before its
/// document arrives: the part of the server's
/// [`CaseItem`](veldwerk_core::api::cases::CaseItem) the tablet stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub document_id: String,
    pub label: String,
    /// The case's restricted record, only where the server lets us read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted_document_id: Option<String>,
}

impl From<CaseItem> for Listed {
    fn from(case: CaseItem) -> Self {
        Listed {
            document_id: case.document_id,
            label: case.label,
            restricted_document_id: case.restricted_document_id,
        }
    }
}

impl Runtime {
    /// The restricted record of a case, if the server listed one for us.
    pub fn restricted_of(&self, case: DocumentId) -> Option<DocumentId> {
        let name = case.to_string();
        self.listed
            .iter()
            .find(|l| l.document_id == name)?
            .restricted_document_id
            .as_deref()?
            .parse()
            .ok()
    }

    /// Whether a document on the tablet is a case's restricted record rather than a case.
    pub fn is_restricted(&self, id: DocumentId) -> bool {
        let name = id.to_string();
        self.listed
            .iter()
            .any(|l| l.restricted_document_id.as_deref() == Some(name.as_str()))
    }
}

/// A change the server refused, shown to the worker with the server's reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    pub document_id: String,
    pub label: String,
    pub reason: String,
    pub at_ms: i64,
}

/// The state of the connection to the server, as the status bar says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Offline,
    Connecting,
    Online,
    /// The session ended: the worker must sign in again to sync.
    SignedOut,
}

pub struct LocalDoc {
    pub doc: Automerge,
    /// The server's heads at its last sync message: what it has committed.
    pub acked: Vec<ChangeHash>,
}

impl LocalDoc {
    /// The server's acknowledged heads that this copy has (it may be behind the server).
    fn known_acked(&self) -> Vec<ChangeHash> {
        engine::known_acked(&self.doc, &self.acked)
    }

    /// Local changes the server has not confirmed yet.
    pub fn unsynced(&self) -> usize {
        engine::unconfirmed(&self.doc, &self.acked)
    }

    /// The server has every change of this copy: letting go of it loses nothing.
    pub fn settled(&self) -> bool {
        engine::settled(&self.doc, &self.acked)
    }

    pub fn has_content(&self) -> bool {
        !self.doc.get_heads().is_empty()
    }

    pub fn view(&self) -> Option<CaseView> {
        self.has_content()
            .then(|| CaseRecord::new(&self.doc).view().ok())
            .flatten()
    }
}

#[derive(Serialize, Deserialize, Default)]
struct DocMeta {
    acked: Vec<String>,
}

#[derive(Default)]
pub struct Runtime {
    pub store: Option<Rc<LocalStore>>,
    pub me: Option<Me>,
    pub docs: BTreeMap<DocumentId, LocalDoc>,
    pub listed: Vec<Listed>,
    pub refusals: Vec<Refusal>,
    /// Who writes with which actor id (hex → handle, organisation), as the server named them.
    pub writers: BTreeMap<String, (String, String)>,
    pub connection: Option<Connection>,
    pub last_sync_ms: Option<i64>,
    /// The server revoked this device and its data is gone (set by [`revoked`]).
    pub revoked: bool,
}

/// What the model tells whoever listens (the sync engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announcement {
    /// The store was unlocked and its documents loaded: time to sync.
    Opened,
    /// The store was locked or wiped: stop syncing.
    Closed,
    /// A document has new local changes (an edit, a new household, one to fetch).
    Changed(DocumentId),
    /// A document's local copy was replaced: its sync starts over.
    Replaced(DocumentId),
}

type Listener = Rc<dyn Fn(Announcement)>;

thread_local! {
    static RUNTIME: RefCell<Runtime> = RefCell::new(Runtime::default());
    static PERSIST: Rc<Mutex<()>> = Rc::new(Mutex::new(()));
    /// Reference-counted rather than owned by whichever reactive scope first
    /// reads the model (an effect's scope is disposed each time it re-runs).
    static TICK: ArcRwSignal<u64> = ArcRwSignal::new(0);
    static LISTENER: RefCell<Option<Listener>> = const { RefCell::new(None) };
}

/// Registers the one listener for the model's announcements (the sync
/// engine does, at start-up); a second call replaces the first.
pub fn listen(listener: impl Fn(Announcement) + 'static) {
    LISTENER.with(|l| *l.borrow_mut() = Some(Rc::new(listener)));
}

/// Tells the listener, if any. Never call it inside [`with`]: the listener reads the runtime.
pub fn announce(announcement: Announcement) {
    let listener = LISTENER.with(|l| l.borrow().clone());
    if let Some(listener) = listener {
        listener(announcement);
    }
}

/// Runs `f` with the runtime. Never hold on across an `.await`.
pub fn with<R>(f: impl FnOnce(&mut Runtime) -> R) -> R {
    RUNTIME.with(|r| f(&mut r.borrow_mut()))
}

/// The signal every view that reads the runtime tracks.
pub fn tick() -> ArcRwSignal<u64> {
    TICK.with(ArcRwSignal::clone)
}

/// Tells the views the runtime changed.
pub fn changed() {
    let tick = tick();
    tick.update(|t| *t += 1);
}

/// Reads the runtime inside a view, re-running when it changes.
pub fn read<R>(f: impl FnOnce(&Runtime) -> R) -> R {
    tick().track();
    RUNTIME.with(|r| f(&r.borrow()))
}

pub fn pending_count() -> usize {
    read(|r| r.docs.values().map(LocalDoc::unsynced).sum())
}

const PROFILE: &str = "profile";
const LISTED: &str = "caseload";
const REFUSALS: &str = "refusals";
const WRITERS: &str = "writers";

fn doc_record(id: &DocumentId) -> String {
    format!("doc/{id}")
}
fn meta_record(id: &DocumentId) -> String {
    format!("meta/{id}")
}

/// Opens the unlocked store: loads every document and starts syncing.
pub async fn open(store: LocalStore, me: Option<Me>) -> Result<(), Failure> {
    let store = Rc::new(store);
    let me = match me {
        Some(me) => {
            store.put_json(PROFILE, &me).await?;
            me
        }
        None => store
            .get_json::<Me>(PROFILE)
            .await?
            .ok_or_else(|| Failure::Browser("nobody has signed in on this tablet yet".into()))?,
    };
    let actor = me.actor();
    let mut docs = BTreeMap::new();
    for name in store.names().await? {
        let Some(id) = name
            .strip_prefix("doc/")
            .and_then(|id| id.parse::<DocumentId>().ok())
        else {
            continue;
        };
        let Some(bytes) = store.get(&name).await? else {
            continue;
        };
        let doc = Automerge::load(&bytes)
            .map_err(|e| Failure::Browser(format!("case {id} on this tablet is damaged: {e}")))?
            .with_actor(actor.clone());
        let meta: DocMeta = store.get_json(&meta_record(&id)).await?.unwrap_or_default();
        let acked = meta.acked.iter().filter_map(|h| h.parse().ok()).collect();
        docs.insert(id, LocalDoc { doc, acked });
    }
    let listed = store
        .get_json::<Vec<Listed>>(LISTED)
        .await?
        .unwrap_or_default();
    let refusals = store
        .get_json::<Vec<Refusal>>(REFUSALS)
        .await?
        .unwrap_or_default();
    let writers = store
        .get_json::<BTreeMap<String, (String, String)>>(WRITERS)
        .await?
        .unwrap_or_default();
    with(|r| {
        r.store = Some(store);
        r.me = Some(me);
        r.docs = docs;
        r.listed = listed;
        r.refusals = refusals;
        r.writers = writers;
    });
    changed();
    announce(Announcement::Opened);
    Ok(())
}

/// Forgets the key and every decrypted record; the data stays encrypted on disk.
pub fn lock() {
    announce(Announcement::Closed);
    with(|r| {
        r.store = None;
        r.docs.clear();
        r.listed.clear();
        r.refusals.clear();
        r.writers.clear();
        r.me = None;
    });
    changed();
}

pub fn is_open() -> bool {
    read(|r| r.store.is_some())
}

/// Writes a document's current state to the store. Writes are serialised and
/// each takes its snapshot after acquiring the lock, so a later state is never
/// overwritten by an earlier one.
pub async fn persist(id: DocumentId) -> Result<(), Failure> {
    let lock = PERSIST.with(Rc::clone);
    let _guard = lock.lock().await;
    let Some((store, bytes, meta)) = with(|r| {
        let store = r.store.clone()?;
        let local = r.docs.get_mut(&id)?;
        let meta = DocMeta {
            acked: local.acked.iter().map(ToString::to_string).collect(),
        };
        Some((store, local.doc.save(), meta))
    }) else {
        return Ok(());
    };
    store.put(&doc_record(&id), &bytes).await?;
    store.put_json(&meta_record(&id), &meta).await?;
    Ok(())
}

/// Removes a case the server no longer lets this tablet read (handed over to
/// another municipality, or the organisation left its team) — unless the
/// tablet holds changes the server never confirmed: those stay until they are
/// delivered or the worker clears the tablet. A case the server never
/// acknowledged anything of is not touched. Says whether it was removed.
pub async fn forget(id: DocumentId) -> Result<bool, Failure> {
    let lock = PERSIST.with(Rc::clone);
    let _guard = lock.lock().await;
    let Some(store) = with(|r| {
        let local = r.docs.get(&id)?;
        let settled = local.settled();
        let store = r.store.clone().filter(|_| settled)?;
        r.docs.remove(&id);
        let name = id.to_string();
        r.listed.retain(|l| l.document_id != name);
        Some(store)
    }) else {
        return Ok(false);
    };
    changed();
    store.delete(&doc_record(&id)).await?;
    store.delete(&meta_record(&id)).await?;
    Ok(true)
}

pub async fn persist_listed() -> Result<(), Failure> {
    let Some((store, listed, refusals, writers)) = with(|r| {
        Some((
            r.store.clone()?,
            r.listed.clone(),
            r.refusals.clone(),
            r.writers.clone(),
        ))
    }) else {
        return Ok(());
    };
    store.put_json(LISTED, &listed).await?;
    store.put_json(REFUSALS, &refusals).await?;
    store.put_json(WRITERS, &writers).await
}

/// Asks the server who wrote with the actor ids of a case's history that the
/// tablet cannot name yet, and keeps the answer (so it names them offline too).
pub async fn learn_writers(id: DocumentId) {
    let unknown: Vec<String> = with(|r| {
        let Some(local) = r.docs.get(&id) else {
            return Vec::new();
        };
        let mut actors: Vec<String> = local
            .doc
            .get_changes(&[])
            .iter()
            .map(|c| c.actor_id().to_hex_string())
            .filter(|a| !r.writers.contains_key(a))
            .collect();
        actors.sort();
        actors.dedup();
        actors.truncate(200);
        actors
    });
    if unknown.is_empty() {
        return;
    }
    let body = crate::platform::request(&WritersQuery { actors: unknown });
    let Ok(answer) =
        crate::platform::api("POST", &format!("/api/cases/{id}/writers"), Some(&body)).await
    else {
        return;
    };
    let Ok(named) = serde_json::from_value::<Vec<veldwerk_core::api::cases::Writer>>(answer) else {
        return;
    };
    if named.is_empty() {
        return;
    }
    with(|r| {
        for w in named {
            r.writers.insert(w.actor, (w.handle, w.organisation));
        }
    });
    changed();
    let _ = persist_listed().await;
}

/// Why an edit was not made.
#[derive(Debug, Clone, PartialEq)]
pub enum EditError {
    /// The write rules forbid it (the server would refuse it too).
    Rule(RuleViolation),
    /// The edit itself failed (the record is not in the expected shape).
    Record(String),
    /// It could not be stored on the tablet.
    Store(Failure),
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::Rule(v) => write!(f, "{v}"),
            EditError::Record(e) => f.write_str(e),
            EditError::Store(e) => write!(f, "{e}"),
        }
    }
}

/// Judges our own edit (`before` to the document's heads) as the server will
/// (`core::judge`), as the signed-in person. Where the organisation stands to
/// the case is the server's knowledge; the tablet assumes it is on the team.
fn judge_own(
    doc: &Automerge,
    before: &[ChangeHash],
    me: &Me,
    compartment: Compartment,
) -> Result<(), EditError> {
    let (Some(role), Some(kind)) = (me.role(), OrganisationKind::parse(&me.organisation_kind))
    else {
        return Err(EditError::Rule(RuleViolation {
            path: String::new(),
            reason: "unknown role".into(),
        }));
    };
    let writer = Writer {
        handle: &me.handle,
        organisation: &me.organisation,
        organisation_kind: kind,
        role,
        standing: Standing {
            on_team: true,
            // Only a municipality directs; which one is the server's to say.
            directs: kind == OrganisationKind::Municipality,
        },
    };
    match judge::judge(doc, before, compartment, &writer, None) {
        Ok(_) => Ok(()),
        Err(judge::Refusal::Rules(violation)) => Err(EditError::Rule(violation)),
        Err(judge::Refusal::Record(e)) => Err(EditError::Record(e.to_string())),
        Err(other) => Err(EditError::Record(other.to_string())),
    }
}

/// Makes one change to a case, checks it, stores it durably, then offers it to the server.
pub async fn edit(
    id: DocumentId,
    f: impl FnOnce(
        &mut automerge::transaction::Transaction<'_>,
    ) -> Result<(), automerge::AutomergeError>,
) -> Result<(), EditError> {
    edit_in(id, Compartment::General, f).await
}

/// Makes one change to a document of the given compartment, checked as
/// the server will check it; see [`edit`].
pub(crate) async fn edit_in(
    id: DocumentId,
    compartment: Compartment,
    f: impl FnOnce(
        &mut automerge::transaction::Transaction<'_>,
    ) -> Result<(), automerge::AutomergeError>,
) -> Result<(), EditError> {
    with(|r| {
        let me =
            r.me.clone()
                .ok_or_else(|| EditError::Record("locked".into()))?;
        let local = r
            .docs
            .get_mut(&id)
            .ok_or_else(|| EditError::Record("this case is not on the tablet".into()))?;
        let before = local.doc.get_heads();
        let mut tx = local.doc.transaction();
        if let Err(e) = f(&mut tx) {
            tx.rollback();
            return Err(EditError::Record(e.to_string()));
        }
        // The time goes into the change, for the case history.
        tx.commit_with(automerge::transaction::CommitOptions::default().with_time(now_ms()));
        let checked = judge_own(&local.doc, &before, &me, compartment);
        if let Err(e) = checked {
            // Undo: go back to the document as it was.
            local.doc = local
                .doc
                .fork_at(&before)
                .expect("own heads")
                .with_actor(me.actor());
            return Err(e);
        }
        Ok(())
    })?;
    persist(id).await.map_err(EditError::Store)?;
    changed();
    announce(Announcement::Changed(id));
    Ok(())
}

/// Registers a new household on the tablet (offline too); the server learns of it on sync.
pub async fn create_household(label: &str, address: &str) -> Result<DocumentId, EditError> {
    let mut id_bytes = [0u8; 16];
    id_bytes.copy_from_slice(&crate::platform::random(16));
    let id = DocumentId::from_random_bytes(id_bytes);
    with(|r| {
        let me =
            r.me.clone()
                .ok_or_else(|| EditError::Record("locked".into()))?;
        let mut doc = Automerge::new().with_actor(me.actor());
        let case = veldwerk_core::case::NewCase {
            label: label.trim().to_owned(),
            address: address.trim().to_owned(),
            address_status: veldwerk_core::case::AddressStatus::Known,
        };
        let mut tx = doc.transaction();
        veldwerk_core::case::init_case(&mut tx, &case)
            .map_err(|e| EditError::Record(e.to_string()))?;
        tx.commit_with(automerge::transaction::CommitOptions::default().with_time(now_ms()));
        CaseRecord::new(&doc)
            .validate()
            .map_err(|e| EditError::Record(e.to_string()))?;
        r.docs.insert(
            id,
            LocalDoc {
                doc,
                acked: Vec::new(),
            },
        );
        Ok(())
    })?;
    persist(id).await.map_err(EditError::Store)?;
    changed();
    announce(Announcement::Changed(id));
    Ok(id)
}

/// Keeps a refused change's reason for the worker and starts the case over
/// from the server's copy, so the refusal blocks nothing that follows.
pub async fn refused(id: DocumentId, reason: String) {
    let Some(store) = with(|r| r.store.clone()) else {
        return;
    };
    let Some((label, old)) = with(|r| {
        let local = r.docs.get_mut(&id)?;
        let label = local.view().map(|v| v.label).unwrap_or_default();
        Some((label, local.doc.save()))
    }) else {
        return;
    };
    // The refused version stays on the tablet (encrypted) for the worker to copy from.
    let _ = store.put(&format!("refused/{id}/{}", now_ms()), &old).await;
    with(|r| {
        r.refusals.push(Refusal {
            document_id: id.to_string(),
            label,
            reason,
            at_ms: now_ms(),
        });
        if let Some(me) = r.me.clone()
            && let Some(local) = r.docs.get_mut(&id)
        {
            let acked = local.known_acked();
            local.doc = local
                .doc
                .fork_at(&acked)
                .unwrap_or_else(|_| Automerge::new())
                .with_actor(me.actor());
        }
    });
    let _ = persist(id).await;
    let _ = persist_listed().await;
    changed();
    announce(Announcement::Replaced(id));
}

pub fn dismiss_refusal(index: usize) {
    with(|r| {
        if index < r.refusals.len() {
            r.refusals.remove(index);
        }
    });
    changed();
    wasm_bindgen_futures::spawn_local(async {
        let _ = persist_listed().await;
    });
}

/// Fetches who is signed in; `Ok(None)` when the session has ended.
pub async fn fetch_me() -> Result<Option<Me>, Failure> {
    match api("GET", "/api/me", None).await {
        Ok(body) => serde_json::from_value(body)
            .map(Some)
            .map_err(|e| Failure::Browser(e.to_string())),
        Err(Failure::Server {
            status: 401, code, ..
        }) if code != "device_revoked" => Ok(None),
        Err(e) => Err(e),
    }
}

/// The server's wipe signal: delete every local record and key, at once.
pub async fn wipe() {
    announce(Announcement::Closed);
    with(|r| *r = Runtime::default());
    let _ = crate::store::wipe().await;
    changed();
}

/// The server revoked this device: wipe, and keep the fact for the views,
/// which show why the tablet is empty.
pub async fn revoked() {
    // Marked before the first await, so no screen drawn meanwhile can miss it.
    announce(Announcement::Closed);
    with(|r| {
        *r = Runtime::default();
        r.revoked = true;
    });
    changed();
    let _ = crate::store::wipe().await;
}

/// Adds an empty copy of a document the server lists for us and the tablet
/// does not have yet, and announces it so the engine fetches it. Says whether it was added.
pub fn track(id: DocumentId) -> bool {
    let added = with(|r| {
        let actor = r.me.as_ref()?.actor();
        if r.docs.contains_key(&id) {
            return None;
        }
        r.docs.insert(
            id,
            LocalDoc {
                doc: Automerge::new().with_actor(actor),
                acked: Vec::new(),
            },
        );
        Some(())
    });
    if added.is_some() {
        changed();
        announce(Announcement::Changed(id));
    }
    added.is_some()
}

/// A fresh client-made id for a visit, member or agreement.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
