//! Several server nodes on one PostgreSQL database: a change made through one
//! node reaches the clients of the others while they stay connected, writes
//! through both nodes to one case all land, and each node judges new changes
//! against everything the others committed. PostgreSQL only: SQLite has one
//! node per database.

use automerge::AutoCommit;
use sqlx::Connection;
use veldwerk_core::DocumentId;
use veldwerk_core::case::{
    self, CaseRecord, NewVisit, ReviewStatus, Theme, VisitKind, VisitStatus,
};
use veldwerk_core::identity::{OrganisationKind, Role};

use crate::support::client::{PATIENCE, SocketEnd};
use crate::support::{Db, Socket, Tablet, TestServer, TestUser};
use veldwerk_core::protocol::Message;

const ORG: &str = "Gemeente Twee";

/// Runs a test body on a fresh PostgreSQL database, when the test command provides one.
macro_rules! on_postgres {
    ($($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                match Db::postgres().await {
                    Some(db) => super::scale_out::bodies::$name(db).await,
                    None => eprintln!("skipped: VELDWERK_TEST_POSTGRES_URL is not set (cargo xtask test sets it)"),
                }
            }
        )+
    };
}

on_postgres!(
    a_change_through_one_node_reaches_a_client_of_the_other,
    concurrent_writes_through_both_nodes_all_land,
    rules_on_one_node_see_what_the_other_committed,
    a_node_catches_up_after_the_other_compacted,
    a_node_that_lost_its_feed_catches_up,
    a_revocation_through_one_node_closes_connections_on_the_other,
    leaving_the_team_through_one_node_ends_access_on_the_other,
);

fn visit(id: &str, author: &str) -> NewVisit {
    NewVisit {
        id: id.into(),
        at_ms: 1_790_000_000_000,
        author: author.into(),
        organisation: ORG.into(),
        kind: VisitKind::Home,
        present: vec![],
        observations: vec![(Theme::Housing, format!("Bezoek {id}"))],
        status: VisitStatus::Submitted,
    }
}

fn has_visit(id: &str) -> impl Fn(&mut AutoCommit) -> bool + '_ {
    move |doc: &mut AutoCommit| {
        CaseRecord::new(&*doc)
            .visit_ids()
            .is_ok_and(|v| v.iter().any(|v| v == id))
    }
}

/// Two nodes on one new database, both following the other.
async fn two_nodes(db: Db, compact_after: usize) -> (TestServer, TestServer) {
    let url = db.url.clone();
    let one = TestServer::start_with(db, |c| c.compact_after = compact_after).await;
    let two = TestServer::start_with(Db::at(&url), |c| c.compact_after = compact_after).await;
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while listeners(&mut admin).await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nodes never listened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    (one, two)
}

/// How many database sessions of nodes listen for the others.
async fn listeners(admin: &mut sqlx::PgConnection) -> i64 {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(admin)
    .await
    .unwrap();
    count
}

/// A tablet of `user` that fetched `id` through `node`, and its open socket.
async fn open(node: &TestServer, user: &TestUser, id: DocumentId) -> (Tablet, Socket) {
    let mut tablet = Tablet::new(&user.principal.actor_id);
    let mut socket = Socket::bearer(&node.ws(""), &user.token).await;
    tablet.adopt(id, socket.fetch(id).await.expect("case fetched"));
    (tablet, socket)
}

async fn stored_hashes(node: &TestServer, id: DocumentId) -> Vec<String> {
    node.store
        .logged_change_hashes(&id.to_string())
        .await
        .unwrap()
}

pub mod bodies {
    use super::*;

    pub async fn a_change_through_one_node_reaches_a_client_of_the_other(db: Db) {
        let (one, two) = two_nodes(db, 256).await;
        let ada = one
            .user(
                ORG,
                OrganisationKind::Municipality,
                "ada",
                Role::FieldWorker,
            )
            .await;
        let bo = one
            .user(ORG, OrganisationKind::Municipality, "bo", Role::FieldWorker)
            .await;
        let id = one.create_case(&ada, "Familie Twee").await;

        let (mut bo_tablet, mut bo_link) = open(&two, &bo, id).await;
        let (mut ada_tablet, mut ada_link) = open(&one, &ada, id).await;
        for n in 0..3 {
            let name = format!("v{n}");
            let doc = ada_tablet.doc(id);
            case::add_visit(doc, &visit(&name, "ada")).unwrap();
            doc.commit();
            ada_link.sync(id, doc).await.expect("ada's visit stored");
            // bo, connected to the other node all along, hears of it.
            bo_link
                .hear_until(id, bo_tablet.doc(id), has_visit(&name))
                .await
                .expect("the visit reaches the other node's client");
        }
        assert!(
            bo_link.heard.errors.is_empty(),
            "{:?}",
            bo_link.heard.errors
        );
        let mut ada_heads = ada_tablet.doc(id).get_heads();
        let mut bo_heads = bo_tablet.doc(id).get_heads();
        ada_heads.sort();
        bo_heads.sort();
        assert_eq!(ada_heads, bo_heads);
    }

    pub async fn concurrent_writes_through_both_nodes_all_land(db: Db) {
        let (one, two) = two_nodes(db, 256).await;
        let ada = one
            .user(
                ORG,
                OrganisationKind::Municipality,
                "ada",
                Role::FieldWorker,
            )
            .await;
        let bo = one
            .user(ORG, OrganisationKind::Municipality, "bo", Role::FieldWorker)
            .await;
        let id = one.create_case(&ada, "Familie Tegelijk").await;
        let (mut ada_tablet, mut ada_link) = open(&one, &ada, id).await;
        let (mut bo_tablet, mut bo_link) = open(&two, &bo, id).await;

        // Both record visits offline, then sync at the same moment, through different nodes.
        let mut expected = Vec::new();
        for round in 0..5 {
            let a = format!("ada-{round}");
            let b = format!("bo-{round}");
            case::add_visit(ada_tablet.doc(id), &visit(&a, "ada")).unwrap();
            ada_tablet.doc(id).commit();
            case::add_visit(bo_tablet.doc(id), &visit(&b, "bo")).unwrap();
            bo_tablet.doc(id).commit();
            expected.push(a);
            expected.push(b);
            let ada_doc = ada_tablet.docs.get_mut(&id).unwrap();
            let bo_doc = bo_tablet.docs.get_mut(&id).unwrap();
            let (a_synced, b_synced) =
                tokio::join!(ada_link.sync(id, ada_doc), bo_link.sync(id, bo_doc));
            a_synced.expect("ada syncs through node 1");
            b_synced.expect("bo syncs through node 2");
        }
        expected.sort();

        // Each ends with every visit, from its own node, without reconnecting.
        let all = |doc: &mut AutoCommit| {
            let mut visits = CaseRecord::new(&*doc).visit_ids().unwrap_or_default();
            visits.sort();
            visits == expected
        };
        let ada_doc = ada_tablet.docs.get_mut(&id).unwrap();
        ada_link
            .hear_until(id, ada_doc, all)
            .await
            .expect("ada gets every visit");
        let bo_doc = bo_tablet.docs.get_mut(&id).unwrap();
        bo_link
            .hear_until(id, bo_doc, all)
            .await
            .expect("bo gets every visit");
        assert!(
            ada_link.heard.errors.is_empty(),
            "{:?}",
            ada_link.heard.errors
        );
        assert!(
            bo_link.heard.errors.is_empty(),
            "{:?}",
            bo_link.heard.errors
        );

        // Every change is in the store, and a fresh tablet on either node gets them all.
        let stored = stored_hashes(&one, id).await;
        for tablet in [&mut ada_tablet, &mut bo_tablet] {
            for change in tablet.doc(id).get_changes(&[]) {
                assert!(stored.contains(&change.hash().to_string()));
            }
        }
        for node in [&one, &two] {
            let mut socket = Socket::bearer(&node.ws(""), &ada.token).await;
            let mut fresh = socket.fetch(id).await.unwrap();
            assert!(all(&mut fresh));
            CaseRecord::new(&fresh).validate().unwrap();
        }
    }

    pub async fn rules_on_one_node_see_what_the_other_committed(db: Db) {
        let (one, two) = two_nodes(db, 256).await;
        let ada = one
            .user(
                ORG,
                OrganisationKind::Municipality,
                "ada",
                Role::FieldWorker,
            )
            .await;
        let sup = one
            .user(ORG, OrganisationKind::Municipality, "sup", Role::Supervisor)
            .await;
        let id = one.create_case(&ada, "Familie Goedgekeurd").await;

        // ada records a visit through node 2, and keeps her copy offline.
        let (mut ada_tablet, mut ada_link) = open(&two, &ada, id).await;
        case::add_visit(ada_tablet.doc(id), &visit("v1", "ada")).unwrap();
        ada_tablet.doc(id).commit();
        ada_link.sync(id, ada_tablet.doc(id)).await.unwrap();
        ada_link.close().await;

        // Her supervisor approves it through node 1.
        let (mut sup_tablet, mut sup_link) = open(&one, &sup, id).await;
        let doc = sup_tablet.doc(id);
        case::review_visit(doc, "v1", ReviewStatus::Approved, "sup", "Akkoord", 1).unwrap();
        doc.commit();
        sup_link
            .sync(id, doc)
            .await
            .expect("the approval is stored");

        // Offline, unaware of the approval, ada edits the visit and syncs through node 2.
        let doc = ada_tablet.doc(id);
        case::set_observation(doc, "v1", Theme::Housing, "Later aangepast").unwrap();
        doc.commit();
        let edit = doc.get_heads()[0];
        let mut ada_link = Socket::bearer(&two.ws(""), &ada.token).await;
        let error = ada_link.sync_until_refused(id, doc).await;
        assert!(
            error.contains("an approved visit is no longer edited"),
            "{error}"
        );
        assert!(!stored_hashes(&one, id).await.contains(&edit.to_string()));

        // Both nodes still serve the approved text.
        for node in [&one, &two] {
            let mut socket = Socket::bearer(&node.ws(""), &sup.token).await;
            let doc = socket.fetch(id).await.unwrap();
            let view = CaseRecord::new(&doc).view().unwrap();
            assert_eq!(
                view.visit("v1").unwrap().observation(Theme::Housing),
                Some("Bezoek v1")
            );
        }
    }

    pub async fn a_node_catches_up_after_the_other_compacted(db: Db) {
        // Node 1 compacts every 3 changes: changes node 2 has not loaded yet
        // leave the log for a snapshot.
        let (one, two) = two_nodes(db, 3).await;
        let ada = one
            .user(
                ORG,
                OrganisationKind::Municipality,
                "ada",
                Role::FieldWorker,
            )
            .await;
        let bo = one
            .user(ORG, OrganisationKind::Municipality, "bo", Role::FieldWorker)
            .await;
        let id = one.create_case(&ada, "Familie Compact").await;
        let (mut bo_tablet, mut bo_link) = open(&two, &bo, id).await;
        let (mut ada_tablet, mut ada_link) = open(&one, &ada, id).await;
        for n in 0..7 {
            let doc = ada_tablet.doc(id);
            case::add_visit(doc, &visit(&format!("a{n}"), "ada")).unwrap();
            doc.commit();
            ada_link.sync(id, doc).await.unwrap();
        }
        let stored = one
            .store
            .load_document(&id.to_string())
            .await
            .unwrap()
            .unwrap();
        assert!(stored.snapshot.is_some(), "node 1 compacted");
        bo_link
            .hear_until(id, bo_tablet.doc(id), has_visit("a6"))
            .await
            .expect("node 2 catches up");

        // bo writes through node 2; ada hears it through node 1.
        let doc = bo_tablet.doc(id);
        case::add_visit(doc, &visit("b0", "bo")).unwrap();
        doc.commit();
        bo_link.sync(id, doc).await.expect("bo's visit stored");
        ada_link
            .hear_until(id, ada_tablet.doc(id), has_visit("b0"))
            .await
            .expect("node 1 hears of it");
        let mut fresh = Socket::bearer(&one.ws(""), &ada.token).await;
        let mut doc = fresh.fetch(id).await.unwrap();
        let mut visits = CaseRecord::new(&doc).visit_ids().unwrap();
        visits.sort();
        assert_eq!(visits, ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "b0"]);
        assert!(has_visit("b0")(&mut doc));
    }

    pub async fn a_node_that_lost_its_feed_catches_up(db: Db) {
        let (one, two) = two_nodes(db, 256).await;
        let ada = one
            .user(
                ORG,
                OrganisationKind::Municipality,
                "ada",
                Role::FieldWorker,
            )
            .await;
        let bo = one
            .user(ORG, OrganisationKind::Municipality, "bo", Role::FieldWorker)
            .await;
        let id = one.create_case(&ada, "Familie Onderbroken").await;
        let (mut bo_tablet, mut bo_link) = open(&two, &bo, id).await;

        // Cut every node's feed, as a database restart or a network fault would.
        let mut admin = sqlx::PgConnection::connect(&one.db.url).await.unwrap();
        let (cut,): (i64,) = sqlx::query_as(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        assert!(cut >= 2, "cut {cut} feeds");

        let (mut ada_tablet, mut ada_link) = open(&one, &ada, id).await;
        let doc = ada_tablet.doc(id);
        case::add_visit(doc, &visit("na-onderbreking", "ada")).unwrap();
        doc.commit();
        ada_link.sync(id, doc).await.unwrap();
        bo_link
            .hear_until(id, bo_tablet.doc(id), has_visit("na-onderbreking"))
            .await
            .expect("node 2 reopens its feed and catches up");
    }

    pub async fn a_revocation_through_one_node_closes_connections_on_the_other(db: Db) {
        let (one, two) = two_nodes(db, 256).await;
        let worker = one
            .user(
                ORG,
                OrganisationKind::Municipality,
                "rik",
                Role::FieldWorker,
            )
            .await;
        let supervisor = one
            .user(
                ORG,
                OrganisationKind::Municipality,
                "sara",
                Role::Supervisor,
            )
            .await;
        let id = one.create_case(&worker, "Familie Ingetrokken").await;
        let (_tablet, mut socket) = open(&two, &worker, id).await;

        let response = reqwest::Client::new()
            .post(one.http(&format!(
                "/api/devices/{}/revoke",
                worker.principal.device_id
            )))
            .bearer_auth(&supervisor.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);

        // The connection open on node 2 is told to wipe and closed.
        let error = socket.next_error().await.expect("told before the close");
        assert!(error.starts_with("device-revoked"), "{error}");
        match socket.next().await {
            Err(SocketEnd::Closed(Some(frame))) => assert_eq!(u16::from(frame.code), 4403),
            other => panic!("expected close 4403, got {other:?}"),
        }
    }

    pub async fn leaving_the_team_through_one_node_ends_access_on_the_other(db: Db) {
        let (one, two) = two_nodes(db, 256).await;
        let director = one
            .user(
                ORG,
                OrganisationKind::Municipality,
                "dirk",
                Role::CaseDirector,
            )
            .await;
        let partner = one
            .user(
                "Jeugdzorg Zuid",
                OrganisationKind::YouthCare,
                "jip",
                Role::FieldWorker,
            )
            .await;
        let id = one.create_case(&director, "Familie Wissel").await;
        let team = |change: serde_json::Value| {
            let url = one.http(&format!("/api/cases/{id}/team"));
            let token = director.token.clone();
            async move {
                let response = reqwest::Client::new()
                    .post(url)
                    .bearer_auth(token)
                    .json(&change)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        };
        team(serde_json::json!({ "add": "Jeugdzorg Zuid" })).await;
        let (_tablet, mut socket) = open(&two, &partner, id).await;

        team(serde_json::json!({ "remove": "Jeugdzorg Zuid" })).await;
        // The connection open on node 2 is told the document is no longer available.
        loop {
            match socket.next().await.expect("told") {
                Message::DocUnavailable { document_id, .. } => {
                    assert_eq!(document_id, id.to_string());
                    break;
                }
                _ => continue,
            }
        }
        assert!(matches!(
            socket.fetch(id).await,
            Err(SocketEnd::Unavailable(_))
        ));
    }
}
