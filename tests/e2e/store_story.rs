//! The store on its own, without HTTP or sync: one family's case told
//! through `Store`'s methods, the same on SQLite and PostgreSQL. A change to
//! the store that breaks this breaks every feature above it.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ReadDoc};
use veldwerk_core::case::{self, AddressStatus, CaseRecord, NewCase};
use veldwerk_core::identity::{Compartment, OrganisationKind, Role};
use veldwerk_server::store::{
    AuditEntry, AuditVerdict, Authn, ChangeBatch, NewCaseRecord, NewChange, QuarantinedChange,
    StoreError, Unique,
};

use crate::on_both_databases;
use crate::support::Db;
use crate::support::server::open_store;

const NOW: i64 = 1_790_000_000_000;

fn new_document_id() -> veldwerk_core::DocumentId {
    veldwerk_core::DocumentId::from_random_bytes(*uuid::Uuid::new_v4().as_bytes())
}

fn changes_since(doc: &mut AutoCommit, heads: &[automerge::ChangeHash]) -> Vec<NewChange> {
    doc.get_changes(heads)
        .iter()
        .map(|c| NewChange {
            hash: c.hash().to_string(),
            bytes: c.raw_bytes().to_vec(),
        })
        .collect()
}

fn audit(action: &'static str, user_id: i64, device_id: i64) -> AuditEntry {
    AuditEntry {
        user_id: Some(user_id),
        device_id: Some(device_id),
        organisation_id: None,
        action,
        case_id: None,
        compartment: Some("general".into()),
        via: "sync",
        detail: "story".into(),
    }
}

async fn a_family_case_told_through_the_store(db: Db) {
    let store = open_store(&db.url).await;
    let org = "Gemeente Verhaal";
    let org_id = store
        .add_organisation(org, OrganisationKind::Municipality, NOW)
        .await
        .unwrap();
    store
        .add_user(org, "ada", Role::FieldWorker, NOW)
        .await
        .unwrap();

    // The uniqueness rules are named, on either database.
    assert!(matches!(
        store.add_user(org, "ada", Role::Supervisor, NOW).await,
        Err(StoreError::Taken(Unique::UserHandle))
    ));
    assert!(matches!(
        store
            .add_organisation(org, OrganisationKind::Municipality, NOW)
            .await,
        Err(StoreError::Taken(Unique::OrganisationName))
    ));

    let actor = "ada0000000000000000000000000a001";
    let ada = store
        .add_api_token("ada", "tablet", actor, "token-hash-1", NOW)
        .await
        .unwrap();
    assert_eq!(ada.organisation_id, org_id);
    match store.principal_by_token("token-hash-1", NOW).await.unwrap() {
        Authn::Valid(p) => assert_eq!(p, ada),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.actor_device(actor).await.unwrap(),
        Some(ada.device_id)
    );

    // Ada registers a family: the caseload shows it, her organisation directs it.
    let mut doc = AutoCommit::new().with_actor(ActorId::from(hex::decode(actor).unwrap()));
    case::init_case(
        &mut doc,
        &NewCase {
            label: "Familie Verhaal".into(),
            address: "Dorpsstraat 3, Ergens".into(),
            address_status: AddressStatus::Known,
        },
    )
    .unwrap();
    doc.commit();
    let document_id = new_document_id().to_string();
    let record = NewCaseRecord {
        document_id: document_id.clone(),
        restricted_document_id: new_document_id().to_string(),
        creator_user_id: ada.user_id,
        creator_organisation_id: org_id,
        directing_org_id: Some(org_id),
        batch: ChangeBatch {
            document_id: document_id.clone(),
            device_id: ada.device_id,
            changes: changes_since(&mut doc, &[]),
            projection: Some(CaseRecord::new(doc.document()).project().unwrap()),
            audit: vec![audit("case.create", ada.user_id, ada.device_id)],
            ..ChangeBatch::default()
        },
    };
    let case_id = store.create_case(&record, NOW).await.unwrap();
    let caseload = store.caseload(org_id).await.unwrap();
    assert_eq!(caseload.len(), 1);
    assert_eq!(caseload[0].label, "Familie Verhaal");
    let access = store
        .document_access(&document_id, org_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(access.case_id, case_id);
    assert_eq!(access.compartment, Compartment::General);
    assert!(access.organisation_on_team && access.organisation_directs);

    // A later sync message: one accepted change, one refused, in one write.
    let heads = doc.get_heads();
    let household = doc.get(automerge::ROOT, "household").unwrap().unwrap().1;
    doc.put(&household, "label", "Familie Verhaal-de Boer")
        .unwrap();
    doc.commit();
    let accepted = changes_since(&mut doc, &heads);
    let write = store.begin_document_write(&document_id).await.unwrap();
    let seq = write
        .commit(
            &ChangeBatch {
                document_id: document_id.clone(),
                device_id: ada.device_id,
                changes: accepted,
                quarantined: vec![QuarantinedChange {
                    hash: "f".repeat(64),
                    bytes: vec![1, 2, 3],
                    reason: "a field outside the schema".into(),
                }],
                projection: Some(CaseRecord::new(doc.document()).project().unwrap()),
                audit: vec![audit("case.change", ada.user_id, ada.device_id)],
                ..ChangeBatch::default()
            },
            "story-node",
            NOW + 1,
        )
        .await
        .unwrap()
        .expect("a change was logged");
    assert_eq!(
        store.caseload(org_id).await.unwrap()[0].label,
        "Familie Verhaal-de Boer"
    );
    let quarantine = store.quarantine(10).await.unwrap();
    assert_eq!(quarantine.len(), 1);
    assert_eq!(quarantine[0].handle, "ada");
    let logged = store.logged_change_hashes(&document_id).await.unwrap();
    assert_eq!(logged.len(), 2, "the refused change is not in the log");

    // Loading replays the log; after compaction, the snapshot alone.
    let stored = store.load_document(&document_id).await.unwrap().unwrap();
    assert_eq!((stored.snapshot.is_none(), stored.changes.len()), (true, 2));
    let write = store.begin_document_write(&document_id).await.unwrap();
    write.compact(&doc.save(), seq, NOW + 2).await.unwrap();
    let stored = store.load_document(&document_id).await.unwrap().unwrap();
    assert!(stored.changes.is_empty());
    let mut loaded = AutoCommit::load(&stored.snapshot.unwrap()).unwrap();
    assert_eq!(loaded.get_heads(), doc.get_heads());
    assert_eq!(
        store
            .document_news(&document_id, seq)
            .await
            .unwrap()
            .changes
            .len(),
        0
    );

    // A lost tablet is revoked: its token says so, and nothing else works.
    assert!(store.revoke_device(ada.device_id, NOW + 3).await.unwrap());
    assert!(matches!(
        store.principal_by_token("token-hash-1", NOW + 3).await.unwrap(),
        Authn::DeviceRevoked { device_id } if device_id == ada.device_id
    ));

    // Everything above left a keyed, unbroken audit trail.
    match store.verify_audit().await.unwrap() {
        AuditVerdict::Intact {
            entries, unkeyed, ..
        } => {
            assert!(entries >= 2, "{entries} entries");
            assert_eq!(unkeyed, 0);
        }
        other => panic!("{other:?}"),
    }
    store.close().await;
}

on_both_databases!(a_family_case_told_through_the_store);
