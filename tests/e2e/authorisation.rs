//! The authorisation matrix: every role, of an organisation on the case's team
//! or not, against each compartment and action. The table is the specification.

use automerge::ReadDoc;
use veldwerk_core::DocumentId;
use veldwerk_core::case::{self, AddressStatus, NewSignal, SignalKind};
use veldwerk_core::identity::{OrganisationKind, Role};

use crate::on_both_databases;
use crate::support::client::SocketEnd;
use crate::support::{Db, Socket, Tablet, TestServer, TestUser};

const DIRECTING: &str = "Gemeente Aa";
const POLICE: &str = "Politie Aa";
const YOUTH: &str = "Jeugdzorg Aa";
const OUTSIDE: &str = "Gemeente Bee";

/// Who, and what they may do: read and write the general record (by sync),
/// read it by API, read and write the restricted record, change the team (API).
struct Row {
    org: &'static str,
    kind: OrganisationKind,
    role: Role,
    general_read: bool,
    general_write: bool,
    restricted_read: bool,
    restricted_write: bool,
    team_change: bool,
}

const fn row(org: &'static str, kind: OrganisationKind, role: Role, allowed: [bool; 5]) -> Row {
    let [
        general_read,
        general_write,
        restricted_read,
        restricted_write,
        team_change,
    ] = allowed;
    Row {
        org,
        kind,
        role,
        general_read,
        general_write,
        restricted_read,
        restricted_write,
        team_change,
    }
}

use OrganisationKind::{Municipality as M, Police as P, YouthCare as Y};
const Y_: bool = true;
const N_: bool = false;

#[rustfmt::skip]
const MATRIX: &[Row] = &[
    //   organisation  kind  role                  gen.read gen.write restr.read restr.write team
    row(DIRECTING, M, Role::CaseDirector, [Y_, Y_, Y_, Y_, Y_]),
    row(DIRECTING, M, Role::Supervisor,   [Y_, Y_, N_, N_, N_]),
    row(DIRECTING, M, Role::FieldWorker,  [Y_, Y_, N_, N_, N_]),
    row(DIRECTING, M, Role::Admin,        [N_, N_, N_, N_, N_]),
    row(DIRECTING, M, Role::Auditor,      [N_, N_, N_, N_, N_]),
    row(POLICE,    P, Role::FieldWorker,  [Y_, Y_, Y_, Y_, N_]),
    row(POLICE,    P, Role::Supervisor,   [Y_, Y_, Y_, Y_, N_]),
    row(YOUTH,     Y, Role::FieldWorker,  [Y_, Y_, N_, N_, N_]),
    row(YOUTH,     Y, Role::Supervisor,   [Y_, Y_, N_, N_, N_]),
    row(YOUTH,     Y, Role::CaseDirector, [Y_, Y_, N_, N_, N_]),
    row(OUTSIDE,   M, Role::CaseDirector, [N_, N_, N_, N_, N_]),
    row(OUTSIDE,   M, Role::FieldWorker,  [N_, N_, N_, N_, N_]),
];

/// Reads a document by sync: `Some(doc)` when the server gives it.
async fn read(
    server: &TestServer,
    user: &TestUser,
    id: DocumentId,
) -> Option<automerge::AutoCommit> {
    let mut socket = Socket::bearer(&server.ws(""), &user.token).await;
    match socket.fetch(id).await {
        Ok(doc) => Some(doc),
        Err(SocketEnd::Unavailable(_)) => None,
        Err(other) => panic!("{other:?}"),
    }
}

/// Writes by sync; true when the change was stored and merged.
async fn write(
    server: &TestServer,
    user: &TestUser,
    id: DocumentId,
    doc: Option<automerge::AutoCommit>,
    edit: impl FnOnce(&mut automerge::AutoCommit),
) -> bool {
    let mut tablet = Tablet::new(&user.principal.actor_id);
    let Some(doc) = doc else {
        // Not readable: push a change blind, as a tampered client would.
        let doc = tablet.doc(id);
        edit(doc);
        doc.commit();
        let mut socket = Socket::bearer(&server.ws(""), &user.token).await;
        return match socket.sync(id, doc).await {
            Ok(()) => true,
            Err(SocketEnd::Unavailable(_)) => false,
            Err(other) => panic!("{other:?}"),
        };
    };
    tablet.adopt(id, doc);
    let doc = tablet.doc(id);
    edit(doc);
    doc.commit();
    let change = doc.get_heads()[0];
    let mut socket = Socket::bearer(&server.ws(""), &user.token).await;
    let _ = socket.sync_until_refused_or_done(id, doc).await;
    let stored = server
        .store
        .logged_change_hashes(&id.to_string())
        .await
        .unwrap();
    stored.contains(&change.to_string())
}

async fn every_role_gets_exactly_what_the_table_says(db: Db) {
    let server = TestServer::start(db).await;
    let director = server
        .user(DIRECTING, M, "directeur", Role::CaseDirector)
        .await;
    let case_id = server.create_case(&director, "Familie Matrix").await;
    for (org, kind) in [(POLICE, P), (YOUTH, Y), (OUTSIDE, M)] {
        server.org(org, kind).await;
    }
    for org in [POLICE, YOUTH] {
        let response = reqwest::Client::new()
            .post(server.http(&format!("/api/cases/{case_id}/team")))
            .bearer_auth(&director.token)
            .json(&serde_json::json!({ "add": org }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let case: serde_json::Value = reqwest::Client::new()
        .get(server.http(&format!("/api/cases/{case_id}")))
        .bearer_auth(&director.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let restricted: DocumentId = case["restrictedDocumentId"]
        .as_str()
        .expect("the director sees it")
        .parse()
        .unwrap();
    // The director creates the restricted record's skeleton.
    assert!(
        write(&server, &director, restricted, None, |d| {
            case::init_restricted(d).unwrap()
        })
        .await
    );

    let mut failures = Vec::new();
    for (n, row) in MATRIX.iter().enumerate() {
        let handle = format!("u{n}");
        let user = server.user(row.org, row.kind, &handle, row.role).await;
        let mut check = |what: &str, got: bool, want: bool| {
            if got != want {
                failures.push(format!(
                    "{:?} of {}: {what}: got {got}, table says {want}",
                    row.role, row.org
                ));
            }
        };

        let general = read(&server, &user, case_id).await;
        check("read general by sync", general.is_some(), row.general_read);
        let api = reqwest::Client::new()
            .get(server.http(&format!("/api/cases/{case_id}")))
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap();
        let api_ok = api.status() == 200;
        let body: serde_json::Value = api.json().await.unwrap_or_default();
        check("read general by API", api_ok, row.general_read);
        check(
            "see restricted id by API",
            body.get("restrictedDocumentId").is_some(),
            row.restricted_read,
        );
        let wrote = write(&server, &user, case_id, general, |d| {
            if d.get(automerge::ROOT, "household").unwrap().is_none() {
                // A blind writer makes up a record of its own.
                let new = case::NewCase {
                    label: "Vals".into(),
                    address: String::new(),
                    address_status: AddressStatus::Unknown,
                };
                case::init_case(d, &new).unwrap();
            }
            case::set_address(d, &format!("Adres van {handle}"), AddressStatus::Known).unwrap()
        })
        .await;
        check("write general by sync", wrote, row.general_write);

        let restricted_doc = read(&server, &user, restricted).await;
        check(
            "read restricted by sync",
            restricted_doc.is_some(),
            row.restricted_read,
        );
        let signal = NewSignal {
            id: format!("s{n}"),
            at_ms: 1_790_000_000_000,
            author: handle.clone(),
            organisation: row.org.into(),
            kind: SignalKind::Police,
            text: "Melding".into(),
        };
        let wrote = write(&server, &user, restricted, restricted_doc, |d| {
            if d.get(automerge::ROOT, "signals").unwrap().is_none() {
                case::init_restricted(d).unwrap();
            }
            case::add_signal(d, &signal).unwrap()
        })
        .await;
        check("write restricted by sync", wrote, row.restricted_write);

        let team = reqwest::Client::new()
            .post(server.http(&format!("/api/cases/{case_id}/team")))
            .bearer_auth(&user.token)
            .json(&serde_json::json!({ "add": OUTSIDE }))
            .send()
            .await
            .unwrap();
        let changed = team.status() == 200;
        check("change the team by API", changed, row.team_change);
        if changed {
            // Put things back for the rows after this one.
            let status = reqwest::Client::new()
                .post(server.http(&format!("/api/cases/{case_id}/team")))
                .bearer_auth(&user.token)
                .json(&serde_json::json!({ "remove": OUTSIDE }))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
        }
    }
    assert!(
        failures.is_empty(),
        "the server disagrees with the table:\n{}",
        failures.join("\n")
    );

    // What was written is there, and valid.
    let on_server = read(&server, &director, case_id).await.unwrap();
    case::CaseRecord::new(&on_server).validate().unwrap();
    let restricted_doc = read(&server, &director, restricted).await.unwrap();
    let record = case::CaseRecord::new(&restricted_doc);
    record.validate_restricted().unwrap();
    let writers = MATRIX.iter().filter(|r| r.restricted_write).count();
    let signals = restricted_doc
        .get(automerge::ROOT, "signals")
        .unwrap()
        .unwrap()
        .1;
    assert_eq!(restricted_doc.keys(&signals).count(), writers);
}

on_both_databases!(every_role_gets_exactly_what_the_table_says);
