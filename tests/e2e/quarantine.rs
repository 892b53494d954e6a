//! Changes that break the rules are quarantined: stored, not merged, reported
//! to the device and to admins; the device's other changes keep flowing.
//! Households registered offline become cases when they validate.

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use veldwerk_core::DocumentId;
use veldwerk_core::api::QuarantineNotice;
use veldwerk_core::case::{
    self, AddressStatus, CaseRecord, NewCase, NewVisit, Theme, VisitKind, VisitStatus,
};
use veldwerk_core::identity::{OrganisationKind, Role};

use crate::on_both_databases;
use crate::support::client::SocketEnd;
use crate::support::{Db, Socket, Tablet, TestServer, TestUser};

fn visit(id: &str) -> NewVisit {
    visit_by(id, "bo", "Gemeente Ergens")
}

fn visit_by(id: &str, author: &str, organisation: &str) -> NewVisit {
    NewVisit {
        id: id.into(),
        at_ms: 1_790_000_000_000,
        author: author.into(),
        organisation: organisation.into(),
        kind: VisitKind::Home,
        present: vec![],
        observations: vec![(Theme::Housing, "Lekkage".into())],
        status: VisitStatus::Submitted,
    }
}

async fn quarantine_report(server: &TestServer, admin: &TestUser) -> Vec<serde_json::Value> {
    reqwest::Client::new()
        .get(server.http("/api/admin/quarantine"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn rule_breaking_changes_are_quarantined(db: Db) {
    let server = TestServer::start(db).await;
    let org = "Gemeente Ergens";
    let ada = server
        .user(
            org,
            OrganisationKind::Municipality,
            "ada",
            Role::FieldWorker,
        )
        .await;
    let bo = server
        .user(org, OrganisationKind::Municipality, "bo", Role::FieldWorker)
        .await;
    let admin = server
        .user(org, OrganisationKind::Municipality, "root", Role::Admin)
        .await;
    let case_id = server.create_case(&ada, "Familie Regel").await;
    let stored = || async {
        server
            .store
            .logged_change_hashes(&case_id.to_string())
            .await
            .unwrap()
    };

    // bo's tablet writes with ada's device actor id: not attributable to bo.
    let mut forged = Tablet::new(&ada.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &bo.token).await;
    forged.adopt(case_id, socket.fetch(case_id).await.unwrap());
    let doc = forged.doc(case_id);
    case::add_visit(doc, &visit("forged")).unwrap();
    doc.commit();
    let before = stored().await;
    let error = socket.sync_until_refused(case_id, doc).await;
    let notice = QuarantineNotice::parse(&error).expect("a quarantine notice");
    assert_eq!(notice.document_id, case_id, "{error}");
    assert!(
        notice.reason.contains("belongs to another device"),
        "{error}"
    );
    assert_eq!(stored().await, before, "the forged change is not merged");
    socket.close().await;

    // bo's own tablet: a good visit, then a change adding an ethnicity field.
    let mut tablet = Tablet::new(&bo.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &bo.token).await;
    tablet.adopt(case_id, socket.fetch(case_id).await.unwrap());
    let doc = tablet.doc(case_id);
    case::add_visit(doc, &visit("good")).unwrap();
    doc.commit();
    let household = doc.get(automerge::ROOT, "household").unwrap().unwrap().1;
    doc.put(&household, "ethnicity", "x").unwrap();
    doc.commit();
    let error = socket.sync_until_refused(case_id, doc).await;
    assert!(error.contains("household.ethnicity"), "{error}");
    socket.close().await;

    // bo's tablet, tampered with: a new visit, then a review of it as a field worker.
    let doc = tablet.doc(case_id);
    let household = doc.get(automerge::ROOT, "household").unwrap().unwrap().1;
    doc.delete(&household, "ethnicity").unwrap();
    doc.commit();
    let mut socket = Socket::bearer(&server.ws(""), &bo.token).await;
    let _ = socket.sync_until_refused_or_done(case_id, doc).await;
    socket.close().await;
    let mut tablet = Tablet::new(&bo.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &bo.token).await;
    tablet.adopt(case_id, socket.fetch(case_id).await.unwrap());
    let doc = tablet.doc(case_id);
    case::add_visit(doc, &visit("second")).unwrap();
    doc.commit();
    case::review_visit(
        doc,
        "second",
        case::ReviewStatus::Approved,
        "bo",
        "Zelf goedgekeurd",
        1,
    )
    .unwrap();
    doc.commit();
    let error = socket.sync_until_refused(case_id, doc).await;
    assert!(
        error.contains("only a supervisor of the visit's organisation writes its review"),
        "{error}"
    );
    socket.close().await;

    // ada sees the good visits and nothing of the refused changes.
    let mut socket = Socket::bearer(&server.ws(""), &ada.token).await;
    let on_server = socket.fetch(case_id).await.unwrap();
    let record = CaseRecord::new(&on_server);
    let mut visits = record.visit_ids().unwrap();
    visits.sort();
    assert_eq!(visits, ["good", "second"]);
    record.validate().unwrap();
    let mut history = on_server.clone();
    assert!(
        !history
            .save_nocompress()
            .windows(9)
            .any(|w| w == b"ethnicity"),
        "the ethnicity value never reaches the shared record, not even in its history"
    );
    assert_eq!(
        case::CaseRecord::new(&on_server)
            .project()
            .unwrap()
            .visits
            .iter()
            .find(|v| v.id == "second")
            .unwrap()
            .review,
        None,
        "the self-approval was not merged"
    );

    // Admins see both, with reasons; others may not look.
    let report = quarantine_report(&server, &admin).await;
    let reasons: Vec<&str> = report
        .iter()
        .map(|q| q["reason"].as_str().unwrap())
        .collect();
    // The deletion of the ethnicity field builds on the change that set it, so
    // it is held back with it: a later change never launders an earlier one.
    assert_eq!(report.len(), 4, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("visits.second.review")));
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("depends on a quarantined change"))
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("belongs to another device"))
    );
    assert!(reasons.iter().any(|r| r.contains("household.ethnicity")));
    assert!(
        report
            .iter()
            .all(|q| q["user"] == "bo" && q["documentId"] == case_id.to_string())
    );
    let status = reqwest::Client::new()
        .get(server.http("/api/admin/quarantine"))
        .bearer_auth(&bo.token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
}

async fn households_registered_offline_become_cases(db: Db) {
    let server = TestServer::start(db).await;
    let worker = server
        .user(
            "Jeugdzorg West",
            OrganisationKind::YouthCare,
            "fleur",
            Role::FieldWorker,
        )
        .await;
    let colleague = server
        .user(
            "Jeugdzorg West",
            OrganisationKind::YouthCare,
            "gijs",
            Role::Supervisor,
        )
        .await;
    let outsider = server
        .user(
            "Woningstichting",
            OrganisationKind::Housing,
            "henk",
            Role::FieldWorker,
        )
        .await;
    let auditor = server
        .user(
            "Jeugdzorg West",
            OrganisationKind::YouthCare,
            "ina",
            Role::Auditor,
        )
        .await;

    // Made offline on the tablet: a new household with a first visit.
    let mut tablet = Tablet::new(&worker.principal.actor_id);
    let id = DocumentId::from_random_bytes(*uuid::Uuid::new_v4().as_bytes());
    let doc = tablet.doc(id);
    case::init_case(
        doc,
        &NewCase {
            label: "Familie Nieuw".into(),
            address: "Laan 5".into(),
            address_status: AddressStatus::Known,
        },
    )
    .unwrap();
    case::add_visit(doc, &visit_by("first", "fleur", "Jeugdzorg West")).unwrap();
    doc.commit();

    let mut socket = Socket::bearer(&server.ws(""), &worker.token).await;
    socket
        .sync(id, doc)
        .await
        .expect("registered and acknowledged");
    socket.close().await;

    let caseload: Vec<serde_json::Value> = reqwest::Client::new()
        .get(server.http("/api/cases"))
        .bearer_auth(&colleague.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(caseload.len(), 1);
    assert_eq!(caseload[0]["documentId"], id.to_string());
    assert_eq!(caseload[0]["label"], "Familie Nieuw");
    assert_eq!(caseload[0]["lastVisitAt"], 1_790_000_000_000i64);

    let mut socket = Socket::bearer(&server.ws(""), &outsider.token).await;
    assert!(matches!(
        socket.fetch(id).await,
        Err(SocketEnd::Unavailable(_))
    ));
    let mut socket = Socket::bearer(&server.ws(""), &auditor.token).await;
    assert!(
        matches!(socket.fetch(id).await, Err(SocketEnd::Unavailable(_))),
        "auditors read no case content"
    );

    // Something that is not a case record is refused and quarantined.
    let junk = DocumentId::from_random_bytes(*uuid::Uuid::new_v4().as_bytes());
    let doc = tablet.doc(junk);
    doc.put(automerge::ROOT, "shopping", "melk").unwrap();
    doc.commit();
    let mut socket = Socket::bearer(&server.ws(""), &worker.token).await;
    let error = socket.sync_until_refused(junk, doc).await;
    assert!(error.contains("not a valid case record"), "{error}");
    assert!(matches!(
        socket.fetch(junk).await,
        Err(SocketEnd::Unavailable(_))
    ));
    let caseload = server
        .store
        .caseload(worker.principal.organisation_id)
        .await
        .unwrap();
    assert_eq!(caseload.len(), 1);
}

/// Data a change carries but leaves out of the state it produces: a text mark
/// on the household's label, a block with attributes split into its address,
/// a key set and deleted again. Each is quarantined, and nobody else's copy
/// of the record ever holds the hidden value.
async fn data_hidden_past_the_schema_is_quarantined(db: Db) {
    use automerge::ObjType;
    use automerge::marks::{ExpandMark, Mark};
    const HIDDEN: &str = "verborgen-herkomst";
    type Edit = fn(&mut automerge::AutoCommit, automerge::ObjId);
    let server = TestServer::start(db).await;
    let org = "Gemeente Ergens";
    let ada = server
        .user(
            org,
            OrganisationKind::Municipality,
            "ada",
            Role::FieldWorker,
        )
        .await;
    let bo = server
        .user(org, OrganisationKind::Municipality, "bo", Role::FieldWorker)
        .await;
    let case_id = server.create_case(&ada, "Familie Schoon").await;
    let edits: [(&str, Edit); 3] = [
        ("household.label", |doc, household| {
            let label = doc.put_object(&household, "label", ObjType::Text).unwrap();
            doc.splice_text(&label, 0, 0, "Familie Schoon").unwrap();
            doc.mark(
                &label,
                Mark::new("nationality".into(), HIDDEN, 0, 7),
                ExpandMark::None,
            )
            .unwrap();
        }),
        ("household.address", |doc, household| {
            let address = doc
                .put_object(&household, "address", ObjType::Text)
                .unwrap();
            doc.splice_text(&address, 0, 0, "Dorpsstraat 1").unwrap();
            let block = doc.split_block(&address, 4).unwrap();
            doc.put(&block, "origin", HIDDEN).unwrap();
        }),
        ("household.nationality", |doc, household| {
            doc.put(&household, "nationality", HIDDEN).unwrap();
            doc.delete(&household, "nationality").unwrap();
        }),
    ];
    for (path, edit) in edits {
        let before = server
            .store
            .logged_change_hashes(&case_id.to_string())
            .await
            .unwrap();
        let mut tablet = Tablet::new(&bo.principal.actor_id);
        let mut socket = Socket::bearer(&server.ws(""), &bo.token).await;
        tablet.adopt(case_id, socket.fetch(case_id).await.unwrap());
        let doc = tablet.doc(case_id);
        let household = doc.get(automerge::ROOT, "household").unwrap().unwrap().1;
        edit(doc, household);
        doc.commit();
        let error = socket.sync_until_refused(case_id, doc).await;
        assert!(
            error.contains("quarantined") && error.contains(path),
            "{path}: {error}"
        );
        socket.close().await;
        let after = server
            .store
            .logged_change_hashes(&case_id.to_string())
            .await
            .unwrap();
        assert_eq!(after, before, "{path}: nothing merged");
        // What another tablet receives holds no trace of it.
        let mut reader = Socket::bearer(&server.ws(""), &ada.token).await;
        let mut copy = reader.fetch(case_id).await.unwrap();
        let bytes = copy.save_nocompress();
        assert!(
            !bytes.windows(HIDDEN.len()).any(|w| w == HIDDEN.as_bytes()),
            "{path}: the hidden value reached another tablet"
        );
        reader.close().await;
    }
}

/// A large refused change is recorded by hash, size and reason, not kept
/// whole: sending it again and again does not fill the database.
async fn a_large_refused_change_is_not_kept_whole(db: Db) {
    let server = TestServer::start(db).await;
    let org = "Gemeente Ergens";
    let ada = server
        .user(
            org,
            OrganisationKind::Municipality,
            "ada",
            Role::FieldWorker,
        )
        .await;
    let admin = server
        .user(org, OrganisationKind::Municipality, "root", Role::Admin)
        .await;
    let case_id = server.create_case(&ada, "Familie Groot").await;
    let mut tablet = Tablet::new(&ada.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &ada.token).await;
    tablet.adopt(case_id, socket.fetch(case_id).await.unwrap());
    let doc = tablet.doc(case_id);
    // Text that does not compress, past the limit on free text.
    let mut state = 0x2545_f491_u32;
    let text: String = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    let household = doc.get(automerge::ROOT, "household").unwrap().unwrap().1;
    doc.put(&household, "label", text).unwrap();
    doc.commit();
    let error = socket.sync_until_refused(case_id, doc).await;
    assert!(error.contains("quarantined"), "{error}");
    socket.close().await;
    let report = quarantine_report(&server, &admin).await;
    assert_eq!(report.len(), 1, "{report:?}");
    let reason = report[0]["reason"].as_str().unwrap();
    assert!(reason.contains("were not kept"), "{reason}");
}

on_both_databases!(
    a_large_refused_change_is_not_kept_whole,
    rule_breaking_changes_are_quarantined,
    data_hidden_past_the_schema_is_quarantined,
    households_registered_offline_become_cases
);
