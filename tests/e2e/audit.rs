//! The audit log records who read and changed what, and every sign-in,
//! enrollment and revocation, without case content; its hash chain verifies,
//! and editing one entry makes verification fail at that entry. Also the
//! defences every response carries.

use serde_json::json;
use veldwerk_core::case::{self, NewVisit, Theme, VisitKind, VisitStatus};
use veldwerk_core::identity::{OrganisationKind, Role};
use veldwerk_server::admin;
use veldwerk_server::store::{AuditRecord, AuditVerdict};

use crate::on_both_databases;
use crate::support::browser::{Browser, sql};
use crate::support::{Db, Socket, Tablet, TestServer};

async fn the_audit_chain_records_and_verifies(db: Db) {
    let server = TestServer::start(db).await;
    let org = "Gemeente Audit";
    server.org(org, OrganisationKind::Municipality).await;
    let org_id = server.store.organisation_id(org).await.unwrap();
    let (url, _) = admin::create_invite(
        &server.store,
        &server.origin(),
        org_id,
        Role::FieldWorker,
        None,
        1,
    )
    .await
    .unwrap();
    let mut browser = Browser::new(&server);
    let (mut passkey, status, _) = browser.enroll(&url, "anouk", "tablet-1").await;
    assert_eq!(status, 200);
    assert_eq!(browser.sign_in(&mut passkey, "anouk").await.0, 200);

    let worker = server.device("anouk", "native-1").await;
    let auditor = server
        .user(org, OrganisationKind::Municipality, "otto", Role::Auditor)
        .await;
    let case_id = server.create_case(&worker, "Familie Geheimhouding").await;
    let mut tablet = Tablet::new(&worker.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &worker.token).await;
    tablet.adopt(case_id, socket.fetch(case_id).await.unwrap());
    let doc = tablet.doc(case_id);
    let visit = NewVisit {
        id: "v1".into(),
        at_ms: 1_790_000_000_000,
        author: "anouk".into(),
        organisation: org.into(),
        kind: VisitKind::Home,
        present: vec![],
        observations: vec![(Theme::Safety, "Vertrouwelijke observatie".into())],
        status: VisitStatus::Draft,
    };
    case::add_visit(doc, &visit).unwrap();
    doc.commit();
    socket.sync(case_id, doc).await.unwrap();
    let revoke = format!("/api/devices/{}/revoke", worker.principal.device_id);
    assert_eq!(browser.post(&revoke, json!({})).await.0, 200);

    // Auditors read the log; others may not.
    let response = reqwest::Client::new()
        .get(server.http("/api/audit"))
        .bearer_auth(&auditor.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let log: Vec<serde_json::Value> = response.json().await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in [
        "auth.enroll",
        "auth.sign_in",
        "case.create",
        "case.read",
        "case.change",
        "device.revoke",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    let text = serde_json::to_string(&log).unwrap();
    assert!(
        !text.contains("Geheimhouding") && !text.contains("Vertrouwelijke"),
        "the log holds no content"
    );
    let read = log.iter().find(|e| e["action"] == "case.read").unwrap();
    assert_eq!(read["via"], "sync");
    assert_eq!(read["userId"], worker.principal.user_id);
    assert_eq!(read["compartment"], "general");
    assert!(read["caseId"].is_i64());
    assert_eq!(browser.get("/api/audit").await.0, 403);

    let entries = match server.store.verify_audit().await.unwrap() {
        AuditVerdict::Intact {
            entries,
            unkeyed: 0,
            ..
        } => entries,
        other => panic!("{other:?}"),
    };
    assert_eq!(entries, log.len() as i64);

    // Someone with access to the database, but not to the server's key,
    // rewrites an entry and recomputes every hash after it: still caught.
    let records = server.store.audit_records(0, 10_000).await.unwrap();
    forge(&server, records.clone(), 2).await;
    assert!(matches!(
        server.store.verify_audit().await.unwrap(),
        AuditVerdict::Broken { seq: 3, .. }
    ));
    // Recomputed from the first entry on, nothing in the log is keyed any
    // more, which this server never writes: the log cannot be vouched for.
    forge(&server, records, 0).await;
    assert_eq!(
        server.store.verify_audit().await.unwrap(),
        AuditVerdict::Unkeyed { entries }
    );
    let output = veldwerk_admin(&server, &["audit", "verify"]).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("none of them keyed"));

    // Editing one entry breaks the chain exactly there.
    sql(
        &server.db.url,
        "UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 3",
    )
    .await;
    assert!(matches!(
        server.store.verify_audit().await.unwrap(),
        AuditVerdict::Broken { seq: 3, .. }
    ));
    // And so does removing one, even with the rest left intact.
    sql(&server.db.url, "DELETE FROM audit_log WHERE seq = 3").await;
    assert!(matches!(
        server.store.verify_audit().await.unwrap(),
        AuditVerdict::Broken { seq: 3, .. }
    ));

    // The command says so and fails.
    let output = veldwerk_admin(&server, &["audit", "verify"]).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("broken at entry 3"));
}

on_both_databases!(the_audit_chain_records_and_verifies);

/// Rewrites entry `from` of the log, and every plain hash from there on, as
/// someone who can edit the database (but does not have the key) would.
async fn forge(server: &TestServer, mut records: Vec<AuditRecord>, from: usize) {
    records[from].detail = "nothing happened".into();
    for i in from..records.len() {
        records[i].prev_hash = if i == 0 {
            String::new()
        } else {
            records[i - 1].hash.clone()
        };
        records[i].hash = records[i].plain_hash();
        let r = &records[i];
        let statement = format!(
            "UPDATE audit_log SET detail = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
            r.detail, r.prev_hash, r.hash, r.seq
        );
        sql(&server.db.url, &statement).await;
    }
    let last = &records.last().unwrap().hash;
    sql(
        &server.db.url,
        &format!("UPDATE audit_head SET last_hash = '{last}' WHERE id = 1"),
    )
    .await;
}

/// Runs `veldwerk admin …` on the test server's database and key.
async fn veldwerk_admin(server: &TestServer, args: &[&str]) -> std::process::Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_veldwerk"));
    if let Some(key) = crate::support::server::signal_key_file(&server.db.url) {
        command.env("VELDWERK_SIGNAL_KEY_FILE", key);
    }
    command
        .arg("admin")
        .args(args)
        .env("VELDWERK_DATABASE_URL", &server.db.url)
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_response_carries_the_defences() {
    let server = TestServer::start_with(Db::sqlite(), |c| c.auth_rate_per_min = 3).await;
    let response = reqwest::get(server.http("/healthz")).await.unwrap();
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(
        headers.get("strict-transport-security").is_none(),
        "no HSTS over plain http"
    );

    // A state-changing request from another origin, riding on a cookie, is refused.
    let response = reqwest::Client::new()
        .post(server.http("/api/auth/logout"))
        .header("origin", "http://evil.example")
        .header("cookie", "veldwerk_session=whatever")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // Oversized bodies are refused before they are read.
    let response = reqwest::Client::new()
        .post(server.http("/api/auth/login/start"))
        .body(vec![b'x'; 1024 * 1024])
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // Sign-in attempts are rate limited.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let mut browser = Browser::new(&server);
        statuses.push(
            browser
                .post("/api/auth/login/start", json!({}))
                .await
                .0
                .as_u16(),
        );
    }
    assert_eq!(
        statuses,
        [200, 200, 429, 429, 429],
        "the oversized request counted too"
    );
}
