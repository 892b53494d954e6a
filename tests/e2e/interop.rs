//! An unmodified JS `@automerge/automerge-repo` client (Node) syncs with the
//! server through single-use tickets: one client creates a case, a colleague
//! finds it, a client of another organisation is told it is unavailable.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use veldwerk_core::DocumentId;
use veldwerk_core::identity::{OrganisationKind, Role};

use crate::on_both_databases;
use crate::support::{Db, Socket, TestServer};

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop")
}

async fn js_automerge_repo_clients_sync_through_tickets(db: Db) {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules/@automerge/automerge-repo").exists(),
        "the JS client is not installed: run `npm ci` in {} (cargo xtask test does)",
        dir.display()
    );
    let server = TestServer::start(db).await;
    let a = server
        .user(
            "Gemeente Interop",
            OrganisationKind::Municipality,
            "js-a",
            Role::FieldWorker,
        )
        .await;
    let b = server
        .user(
            "Gemeente Interop",
            OrganisationKind::Municipality,
            "js-b",
            Role::FieldWorker,
        )
        .await;
    let c = server
        .user(
            "Reclassering",
            OrganisationKind::Other,
            "js-c",
            Role::FieldWorker,
        )
        .await;
    let url = |ticket: String| server.ws(&format!("?ticket={ticket}"));
    let (ta, tb, tc) = (
        server.ticket(&a).await,
        server.ticket(&b).await,
        server.ticket(&c).await,
    );

    let output = tokio::process::Command::new("node")
        .arg("interop.mjs")
        .current_dir(&dir)
        .env("VELDWERK_SYNC_URL_A", url(ta))
        .env("VELDWERK_SYNC_URL_B", url(tb))
        .env("VELDWERK_SYNC_URL_C", url(tc))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .expect("the JS clients finish within 2 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            panic!("no JSON report from the JS clients\nstdout: {stdout}\nstderr: {stderr}")
        });
    assert!(
        output.status.success(),
        "JS clients failed: {report}\nstderr: {stderr}"
    );
    assert_eq!(report["createdOnServer"], true, "{report}");
    assert_eq!(report["foundByB"], true, "{report}");
    assert_eq!(report["labelSeenByB"], "Familie Interop", "{report}");
    assert_eq!(report["unavailableForC"], true, "{report}");

    // The JS-created document is a case of A's organisation, readable by a native client too.
    let id: DocumentId = report["documentId"]
        .as_str()
        .expect("documentId")
        .parse()
        .expect("a document id");
    let caseload = server
        .store
        .caseload(a.principal.organisation_id)
        .await
        .unwrap();
    assert_eq!(caseload.len(), 1);
    assert_eq!(caseload[0].document_id, id.to_string());
    assert_eq!(caseload[0].label, "Familie Interop");
    let mut socket = Socket::bearer(&server.ws(""), &b.token).await;
    let doc = socket
        .fetch(id)
        .await
        .expect("native client fetches the JS-made case");
    assert_eq!(
        veldwerk_core::case::CaseRecord::new(&doc)
            .view()
            .unwrap()
            .label,
        "Familie Interop"
    );
}

on_both_databases!(js_automerge_repo_clients_sync_through_tickets);
