//! The radar: a municipality's case directors see the families slipping off it
//! — no visit for N days (N theirs to set), an address marked moved, visits
//! returned and not approved — and nothing of other municipalities' cases.

use veldwerk_core::case::{
    self, AddressStatus, NewVisit, ReviewStatus, Theme, VisitKind, VisitStatus,
};
use veldwerk_core::identity::{OrganisationKind, Role};

use crate::on_both_databases;
use crate::support::{Db, Socket, Tablet, TestServer, TestUser};

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A case with one visit at `at_ms`; `edit` may change more before it syncs.
async fn case_with_visit(
    server: &TestServer,
    worker: &TestUser,
    label: &str,
    at_ms: i64,
    edit: impl FnOnce(&mut automerge::AutoCommit),
) -> veldwerk_core::DocumentId {
    let id = server.create_case(worker, label).await;
    let mut tablet = Tablet::new(&worker.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &worker.token).await;
    tablet.adopt(id, socket.fetch(id).await.unwrap());
    let doc = tablet.doc(id);
    let visit = NewVisit {
        id: "v1".into(),
        at_ms,
        author: worker.principal.handle.clone(),
        organisation: worker.principal.organisation.clone(),
        kind: VisitKind::Home,
        present: vec![],
        observations: vec![(Theme::Wellbeing, "tekst".into())],
        status: VisitStatus::Submitted,
    };
    case::add_visit(doc, &visit).unwrap();
    edit(doc);
    doc.commit();
    socket.sync(id, doc).await.unwrap();
    id
}

async fn radar(server: &TestServer, user: &TestUser) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(server.http("/api/radar"))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

fn reasons(radar: &serde_json::Value, label: &str) -> Option<Vec<String>> {
    radar["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == label)
        .map(|i| {
            i["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect()
        })
}

async fn the_radar_shows_families_slipping_off_it(db: Db) {
    let server = TestServer::start(db).await;
    let org = "Gemeente Radar";
    let kind = OrganisationKind::Municipality;
    let worker = server.user(org, kind, "wout", Role::FieldWorker).await;
    let supervisor = server.user(org, kind, "suze", Role::Supervisor).await;
    let director = server.user(org, kind, "dirk", Role::CaseDirector).await;
    let other = server
        .user("Gemeente Anders", kind, "otto", Role::FieldWorker)
        .await;
    let now = now_ms();

    case_with_visit(&server, &worker, "Familie Oud", now - 100 * DAY_MS, |_| {}).await;
    let recent = case_with_visit(&server, &worker, "Familie Recent", now, |_| {}).await;
    case_with_visit(&server, &worker, "Familie Verhuisd", now, |doc| {
        case::set_address(doc, "", AddressStatus::Moved).unwrap();
    })
    .await;
    case_with_visit(
        &server,
        &other,
        "Familie Elders",
        now - 300 * DAY_MS,
        |_| {},
    )
    .await;

    // The supervisor returns the recent family's visit.
    let mut tablet = Tablet::new(&supervisor.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &supervisor.token).await;
    tablet.adopt(recent, socket.fetch(recent).await.unwrap());
    let doc = tablet.doc(recent);
    case::review_visit(
        doc,
        "v1",
        ReviewStatus::Returned,
        "suze",
        "Graag aanvullen",
        now,
    )
    .unwrap();
    doc.commit();
    socket.sync(recent, doc).await.unwrap();

    let (status, seen) = radar(&server, &director).await;
    assert_eq!(status, 200);
    assert_eq!(seen["noVisitDays"], 42);
    assert_eq!(
        reasons(&seen, "Familie Oud"),
        Some(vec!["no_visit".to_owned()])
    );
    assert_eq!(
        reasons(&seen, "Familie Verhuisd"),
        Some(vec!["address_moved".to_owned()])
    );
    assert_eq!(
        reasons(&seen, "Familie Recent"),
        Some(vec!["returned_visits".to_owned()])
    );
    assert_eq!(
        reasons(&seen, "Familie Elders"),
        None,
        "another municipality's case"
    );
    let old = seen["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "Familie Oud")
        .unwrap();
    assert_eq!(old["daysWithoutVisit"], 100);
    assert!(old["documentId"].as_str().is_some_and(|d| !d.is_empty()));

    // The municipality sets its own limit: 200 days, and the old family is no longer overdue.
    let put = |days: i64, user: &TestUser| {
        reqwest::Client::new()
            .put(server.http("/api/radar/settings"))
            .bearer_auth(&user.token)
            .json(&serde_json::json!({ "noVisitDays": days }))
            .send()
    };
    assert_eq!(put(200, &director).await.unwrap().status(), 200);
    assert_eq!(put(0, &director).await.unwrap().status(), 400);
    assert_eq!(put(10, &worker).await.unwrap().status(), 403);
    let (_, seen) = radar(&server, &director).await;
    assert_eq!(seen["noVisitDays"], 200);
    assert_eq!(reasons(&seen, "Familie Oud"), None);

    // Only the municipality's case directors see the radar.
    assert_eq!(radar(&server, &worker).await.0, 403);
    assert_eq!(radar(&server, &supervisor).await.0, 403);
}

on_both_databases!(the_radar_shows_families_slipping_off_it);
