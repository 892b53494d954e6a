//! What an operator relies on: documents leave memory when idle or over the
//! cap, long logs are compacted into snapshots without losing a change,
//! metrics count what happened, and SIGTERM stops the server cleanly.

use std::time::Duration;

use veldwerk_core::case::{self, CaseRecord, NewVisit, Theme, VisitKind, VisitStatus};
use veldwerk_core::identity::{OrganisationKind, Role};

use crate::on_both_databases;
use crate::support::{Db, Socket, Tablet, TestServer};

async fn metric(server: &TestServer, name: &str) -> i64 {
    let text = reqwest::get(server.http("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("veldwerk_{name} ")))
        .unwrap_or_else(|| panic!("metric {name} missing from:\n{text}"))
        .parse()
        .unwrap()
}

fn visit(n: usize) -> NewVisit {
    NewVisit {
        id: format!("v{n}"),
        at_ms: 1_790_000_000_000 + n as i64,
        author: "op".into(),
        organisation: "Gemeente Ergens".into(),
        kind: VisitKind::Office,
        present: vec![],
        observations: vec![(Theme::Education, format!("Notitie {n}"))],
        status: VisitStatus::Draft,
    }
}

async fn idle_documents_unload_and_logs_compact(db: Db) {
    let server = TestServer::start_with(db, |c| {
        c.idle_unload = Duration::from_millis(300);
        c.compact_after = 5;
    })
    .await;
    let user = server
        .user(
            "Gemeente Ergens",
            OrganisationKind::Municipality,
            "op",
            Role::FieldWorker,
        )
        .await;
    let case_id = server.create_case(&user, "Familie Compact").await;

    let mut tablet = Tablet::new(&user.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &user.token).await;
    tablet.adopt(case_id, socket.fetch(case_id).await.unwrap());
    for n in 0..12 {
        let doc = tablet.doc(case_id);
        case::add_visit(doc, &visit(n)).unwrap();
        doc.commit();
        socket.sync(case_id, doc).await.unwrap();
    }
    assert_eq!(metric(&server, "documents_in_memory").await, 1);
    assert_eq!(metric(&server, "changes_stored_total").await, 12);
    assert!(metric(&server, "connections_open").await >= 1);
    socket.close().await;

    // Compacted: a snapshot plus fewer logged changes than the threshold.
    let stored = server
        .store
        .load_document(&case_id.to_string())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.snapshot.is_some(), "a snapshot was written");
    assert!(
        stored.changes.len() < 5,
        "{} changes still logged",
        stored.changes.len()
    );

    // Unloaded once nobody has it open.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while metric(&server, "documents_in_memory").await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle document stayed in memory"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(metric(&server, "documents_unloaded_total").await >= 1);

    // Loaded again from snapshot and log, with every visit.
    let mut socket = Socket::bearer(&server.ws(""), &user.token).await;
    let mut doc = socket.fetch(case_id).await.unwrap();
    assert_eq!(CaseRecord::new(&doc).visit_ids().unwrap().len(), 12);
    assert_eq!(doc.get_heads(), tablet.doc(case_id).get_heads());
}

on_both_databases!(idle_documents_unload_and_logs_compact);

/// Waits until at most `cap` documents are loaded: a closed connection lets
/// go of its documents a moment after the client has closed.
async fn wait_within_cap(server: &TestServer, cap: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let loaded = metric(server, "documents_in_memory").await;
        if loaded <= cap {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{loaded} documents stayed loaded over the cap of {cap}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn loaded_documents_stay_within_the_cap(db: Db) {
    const CAP: i64 = 2;
    let server = TestServer::start_with(db, |c| {
        // Long enough that only the cap unloads anything here.
        c.idle_unload = Duration::from_secs(3600);
        c.max_loaded_documents = CAP as usize;
    })
    .await;
    let user = server
        .user(
            "Gemeente Ergens",
            OrganisationKind::Municipality,
            "op",
            Role::FieldWorker,
        )
        .await;
    let mut tablet = Tablet::new(&user.principal.actor_id);
    let mut cases = Vec::new();
    for n in 0..6 {
        let case_id = server.create_case(&user, &format!("Familie {n}")).await;
        let mut socket = Socket::bearer(&server.ws(""), &user.token).await;
        tablet.adopt(case_id, socket.fetch(case_id).await.unwrap());
        let doc = tablet.doc(case_id);
        case::add_visit(doc, &visit(n)).unwrap();
        doc.commit();
        socket.sync(case_id, doc).await.unwrap();
        socket.close().await;
        cases.push(case_id);
        wait_within_cap(&server, CAP).await;
    }
    assert!(metric(&server, "documents_evicted_total").await >= 4);
    assert_eq!(metric(&server, "documents_unloaded_total").await, 0);

    // Each case loads again from the store with every change, and takes more.
    for (n, case_id) in cases.iter().copied().enumerate() {
        let mut socket = Socket::bearer(&server.ws(""), &user.token).await;
        let mut doc = socket.fetch(case_id).await.unwrap();
        assert_eq!(doc.get_heads(), tablet.doc(case_id).get_heads());
        assert_eq!(
            CaseRecord::new(&doc).visit_ids().unwrap(),
            vec![format!("v{n}")]
        );
        tablet.adopt(case_id, doc);
        let doc = tablet.doc(case_id);
        case::add_visit(doc, &visit(100 + n)).unwrap();
        doc.commit();
        socket.sync(case_id, doc).await.unwrap();
        socket.close().await;
        wait_within_cap(&server, CAP).await;
    }
    for case_id in cases {
        let mut socket = Socket::bearer(&server.ws(""), &user.token).await;
        let mut doc = socket.fetch(case_id).await.unwrap();
        assert_eq!(doc.get_heads(), tablet.doc(case_id).get_heads());
        assert_eq!(CaseRecord::new(&doc).visit_ids().unwrap().len(), 2);
        socket.close().await;
    }
    assert_eq!(metric(&server, "changes_stored_total").await, 12);
}

on_both_databases!(loaded_documents_stay_within_the_cap);

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let db = Db::sqlite();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_veldwerk"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("VELDWERK_DATABASE_URL", &db.url)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Wait until it listens, read from its log.
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        use tokio::io::AsyncBufReadExt;
        let n = tokio::time::timeout(Duration::from_secs(60), stderr.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "server exited before listening");
        if line.contains("veldwerk is listening") {
            break;
        }
    }
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("stops within 20 s")
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}

#[tokio::test]
async fn serves_https_with_a_given_certificate() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::{self, pki_types::ServerName};

    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let server = TestServer::start_with(Db::sqlite(), |c| {
        c.tls = Some((cert.clone(), key.clone()));
        c.origin = "https://localhost:8443".into();
    })
    .await
    .into_tls()
    .await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake");
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("strict-transport-security: max-age="),
        "{response}"
    );
    // Plain HTTP on the TLS port gets nowhere.
    assert!(reqwest::get(server.http("/healthz")).await.is_err());
}
