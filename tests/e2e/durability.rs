//! The real `veldwerk` process is killed with SIGKILL while clients push
//! changes; after a restart every change any client saw acknowledged is there.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use automerge::{ChangeHash, ReadDoc};
use veldwerk_core::DocumentId;
use veldwerk_core::case::{self, NewVisit, Theme, VisitKind, VisitStatus};
use veldwerk_core::identity::{OrganisationKind, Role};

use crate::on_both_databases;
use crate::support::{Db, Socket, Tablet, TestServer, TestUser};

/// The real binary, serving `db` on a free port; returns it and its address.
fn spawn_server(db: &Db) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_veldwerk"));
    if let Some(key) = crate::support::server::signal_key_file(&db.url) {
        command.env("VELDWERK_SIGNAL_KEY_FILE", key);
    }
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("VELDWERK_DATABASE_URL", &db.url)
        .env("VELDWERK_LOG_FORMAT", "json")
        .env("VELDWERK_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting veldwerk");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("veldwerk is listening") {
                let parsed: serde_json::Value = serde_json::from_str(&line).expect("json log line");
                if let Some(tx) = tx.take() {
                    let _ = tx.send(
                        parsed["fields"]["address"]
                            .as_str()
                            .expect("address")
                            .to_owned(),
                    );
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server announces its address");
    (child, addr)
}

fn visit(id: String, author: &str) -> NewVisit {
    NewVisit {
        id,
        at_ms: 1_790_000_000_000,
        author: author.into(),
        organisation: "Gemeente Ergens".into(),
        kind: VisitKind::Phone,
        present: vec![],
        observations: vec![(Theme::Health, "Gebeld".into())],
        status: VisitStatus::Draft,
    }
}

/// Pushes one visit at a time and records each change once the server's heads
/// include it (the acknowledgement), until the socket breaks.
async fn push_until_killed(
    addr: String,
    user: TestUser,
    case_id: DocumentId,
    acked: Arc<Mutex<Vec<ChangeHash>>>,
) {
    let mut tablet = Tablet::new(&user.principal.actor_id);
    let mut socket = Socket::bearer(&format!("ws://{addr}/sync"), &user.token).await;
    let Ok(doc) = socket.fetch(case_id).await else {
        return;
    };
    tablet.adopt(case_id, doc);
    for n in 0.. {
        let doc = tablet.doc(case_id);
        let handle = &user.principal.handle;
        case::add_visit(doc, &visit(format!("{handle}-{n}"), handle)).expect("visit");
        doc.commit();
        let hash = doc.get_heads()[0];
        if socket.sync(case_id, doc).await.is_err() {
            return;
        }
        acked.lock().expect("lock").push(hash);
    }
}

async fn acknowledged_changes_survive_sigkill(db: Db) {
    let setup = TestServer::start(db).await;
    let mut users = Vec::new();
    for handle in ["w1", "w2", "w3"] {
        users.push(
            setup
                .user(
                    "Gemeente Ergens",
                    OrganisationKind::Municipality,
                    handle,
                    Role::FieldWorker,
                )
                .await,
        );
    }
    let case_id = setup.create_case(&users[0], "Familie Duurzaam").await;
    let (_, db) = setup.stop().await;

    let (mut child, addr) = spawn_server(&db);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let pushers: Vec<_> = users
        .iter()
        .map(|u| {
            tokio::spawn(push_until_killed(
                addr.clone(),
                u.clone(),
                case_id,
                acked.clone(),
            ))
        })
        .collect();

    // Kill mid-stream, once a good number of changes were acknowledged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().expect("lock").len() < 40 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "clients made no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    for pusher in pushers {
        pusher.await.expect("pusher");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 40);

    let (mut child, addr) = spawn_server(&db);
    let mut socket = Socket::bearer(&format!("ws://{addr}/sync"), &users[1].token).await;
    let doc = socket
        .fetch(case_id)
        .await
        .expect("the case is there after the restart");
    let missing: Vec<_> = acked
        .iter()
        .filter(|h| doc.get_change_by_hash(h).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged changes lost: {missing:?}",
        missing.len(),
        acked.len()
    );
    child.kill().ok();
    child.wait().ok();

    // Every acknowledged change was one visit: all of them are in the record.
    let visits = veldwerk_core::case::CaseRecord::new(&doc)
        .visit_ids()
        .expect("a case record");
    assert!(
        visits.len() >= acked.len(),
        "{} visits for {} acknowledged changes",
        visits.len(),
        acked.len()
    );

    // The projection was committed with the changes: the caseload shows the case visited.
    let store = crate::support::server::open_store(&db.url).await;
    let caseload = store
        .caseload(users[0].principal.organisation_id)
        .await
        .expect("caseload");
    assert_eq!(caseload.len(), 1);
    assert_eq!(caseload[0].last_visit_at, Some(1_790_000_000_000));
}

on_both_databases!(acknowledged_changes_survive_sigkill);
