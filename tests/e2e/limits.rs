//! Abuse limits on a sync connection, tried the way a hostile or broken
//! client would: a socket that stops reading while sign-outs pile up,
//! ephemeral messages that are too large or too many, a reader that falls
//! behind, a client that writes fast and reads everything, one that asks
//! for more documents, or faster, than a tablet ever does, one that
//! vanishes without closing, and a document grown past its size limit.

use std::time::Duration;

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use veldwerk_core::DocumentId;
use veldwerk_core::identity::{OrganisationKind, Role};
use veldwerk_core::protocol::Message;
use veldwerk_server::admin;

use crate::on_both_databases;
use crate::support::browser::Browser;
use crate::support::client::{PATIENCE, SocketEnd};
use crate::support::{Db, Socket, TestServer};

const ORG: &str = "Jeugdzorg Oost";
const MIB: usize = 1024 * 1024;

fn ephemeral(socket: &Socket, id: DocumentId, count: u64, len: usize) -> Message {
    Message::Ephemeral {
        sender_id: socket.conn.peer_id().clone(),
        target_id: "veldwerk-server".into(),
        count,
        session_id: "presence".into(),
        document_id: id.to_string(),
        data: vec![0x2a; len],
    }
}

fn unknown_document() -> DocumentId {
    DocumentId::from_random_bytes(*uuid::Uuid::new_v4().as_bytes())
}

/// Reads until the server closes the socket; panics if it stays open.
async fn close_frame(socket: &mut Socket) -> (u16, String) {
    loop {
        match socket.next().await {
            Ok(_) => continue,
            Err(SocketEnd::Closed(Some(frame))) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Err(end) => panic!("the server did not close the socket: {end:?}"),
        }
    }
}

async fn metric(server: &TestServer, name: &str) -> u64 {
    let text = reqwest::get(server.http("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("veldwerk_{name} ")))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("/metrics has no {name}"))
}

/// A tablet's socket stops reading while a flood is queued for it; its session
/// signs out, and hundreds of other sign-outs follow before the socket reads
/// again. It must still be closed as signed out, not keep reading documents.
async fn a_sign_out_missed_in_a_flood_still_closes_the_socket(db: Db) {
    let server = TestServer::start_with(db, |config| {
        config.max_ephemeral_bytes = MIB;
        config.ephemeral_per_sec = 1_000;
        config.max_queued_bytes = 256 * MIB;
        // Hundreds of sign-outs from one address, as a busy deployment sees
        // from many.
        config.auth_rate_per_min = 10_000;
    })
    .await;
    server.org(ORG, OrganisationKind::YouthCare).await;
    let org_id = server.store.organisation_id(ORG).await.unwrap();
    let (invite, _) = admin::create_invite(
        &server.store,
        &server.origin(),
        org_id,
        Role::FieldWorker,
        None,
        24,
    )
    .await
    .unwrap();
    let mut browser = Browser::new(&server);
    let (_passkey, status, me) = browser.enroll(&invite, "sanne", "tablet-1").await;
    assert_eq!(status, 200, "{me}");
    let cookie = browser.cookie.clone().expect("a session cookie");
    let colleague = server
        .user(ORG, OrganisationKind::YouthCare, "tom", Role::FieldWorker)
        .await;
    let id = server.create_case(&colleague, "Familie Stil").await;

    let mut tablet = Socket::cookie(&server.ws(""), &cookie).await;
    tablet.fetch(id).await.expect("sanne reads the case");
    let mut sender = Socket::bearer(&server.ws(""), &colleague.token).await;
    sender.fetch(id).await.unwrap();
    // More than the sockets' buffers hold: the server's writes to the tablet block.
    for n in 0..24 {
        sender.send(&ephemeral(&sender, id, n, MIB)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (status, _) = browser.post("/api/auth/logout", json!({})).await;
    assert_eq!(status, 200);
    for _ in 0..300 {
        let (status, _) = server
            .api(
                &colleague,
                reqwest::Method::POST,
                "/api/auth/logout",
                Some(json!({ "everywhere": true })),
            )
            .await;
        assert_eq!(status, 200);
    }

    let (code, reason) = close_frame(&mut tablet).await;
    assert_eq!(code, 4401, "{reason}");
    assert!(metric(&server, "session_rechecks_total").await >= 1);
}

/// A sender floods large ephemeral messages to its own sockets that do not
/// read: each is closed once more is queued for it than the limit, with a
/// reason naming the limit; the sender itself and other readers go on.
async fn readers_that_fall_behind_are_closed_by_bytes_queued(db: Db) {
    let server = TestServer::start_with(db, |config| {
        config.max_ephemeral_bytes = MIB;
        config.ephemeral_per_sec = 1_000;
        config.max_queued_bytes = config.max_frame_bytes;
    })
    .await;
    let worker = server
        .user(ORG, OrganisationKind::YouthCare, "tom", Role::FieldWorker)
        .await;
    let id = server.create_case(&worker, "Familie Vol").await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut socket = Socket::bearer(&server.ws(""), &worker.token).await;
        socket.fetch(id).await.unwrap();
        idle.push(socket);
    }
    let mut sender = Socket::bearer(&server.ws(""), &worker.token).await;
    sender.fetch(id).await.unwrap();
    for n in 0..40 {
        sender.send(&ephemeral(&sender, id, n, MIB)).await;
    }
    for socket in &mut idle {
        let (code, reason) = close_frame(socket).await;
        assert_eq!(code, 1008, "{reason}");
        assert!(reason.contains("VELDWERK_MAX_QUEUED_BYTES"), "{reason}");
    }
    assert!(metric(&server, "slow_readers_closed_total").await >= 4);
    sender.fetch(id).await.expect("the sender is still served");
}

/// Ephemeral messages past the size or the rate are dropped, and their
/// sender is told which limit it met (once a second, not once per message).
async fn ephemeral_messages_past_the_limits_are_dropped(db: Db) {
    let server = TestServer::start(db).await;
    let worker = server
        .user(ORG, OrganisationKind::YouthCare, "tom", Role::FieldWorker)
        .await;
    let id = server.create_case(&worker, "Familie Druk").await;
    let mut reader = Socket::bearer(&server.ws(""), &worker.token).await;
    reader.fetch(id).await.unwrap();
    let mut sender = Socket::bearer(&server.ws(""), &worker.token).await;
    sender.fetch(id).await.unwrap();

    sender.send(&ephemeral(&sender, id, 0, 64 * 1024)).await;
    let error = sender.next_error().await.unwrap();
    assert!(
        error.contains("65536 bytes") && error.contains("VELDWERK_MAX_EPHEMERAL_BYTES"),
        "{error}"
    );

    for n in 1..=200 {
        sender.send(&ephemeral(&sender, id, n, 100)).await;
    }
    let error = sender.next_error().await.unwrap();
    assert!(error.contains("VELDWERK_EPHEMERAL_PER_SEC"), "{error}");
    // After a second the rate allows more: this one is the last the reader awaits.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    sender.send(&ephemeral(&sender, id, 9_999, 100)).await;

    let mut relayed = Vec::new();
    loop {
        match reader.next().await.unwrap() {
            Message::Ephemeral { count: 9_999, .. } => break,
            Message::Ephemeral { count, data, .. } => {
                assert_eq!(data.len(), 100, "the oversized message is not relayed");
                relayed.push(count);
            }
            _ => {}
        }
    }
    assert!(
        (20..=60).contains(&relayed.len()),
        "{} of 200 relayed",
        relayed.len()
    );
    // The sender was told, but not once per message dropped.
    sender
        .send(&Message::Request {
            sender_id: sender.conn.peer_id().clone(),
            target_id: "veldwerk-server".into(),
            document_id: unknown_document().to_string(),
            data: Vec::new(),
        })
        .await;
    let mut told = 1;
    loop {
        match sender.next().await.unwrap() {
            Message::DocUnavailable { .. } => break,
            Message::Error { .. } => told += 1,
            _ => {}
        }
    }
    assert!(told <= 3, "told {told} times for one burst");
    assert!(metric(&server, "ephemeral_refused_total").await >= 170);
}

/// A client that sends thousands of requests without waiting, and reads every
/// answer, is served to the end rather than cut off as too slow.
async fn a_fast_writer_that_reads_everything_is_served(db: Db) {
    const REQUESTS: usize = 3_000;
    let server = TestServer::start(db).await;
    let worker = server
        .user(ORG, OrganisationKind::YouthCare, "tom", Role::FieldWorker)
        .await;
    let mut request = server.ws("").into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", worker.token).parse().unwrap(),
    );
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let (mut sink, mut stream) = ws.split();
    let peer = format!("writer-{}", uuid::Uuid::new_v4());
    let join = veldwerk_core::client::ClientConnection::new(peer.clone()).join();
    sink.send(WsMessage::Binary(join.encode().into()))
        .await
        .unwrap();

    let reading = tokio::spawn(async move {
        let mut answered = 0;
        while answered < REQUESTS {
            let frame = tokio::time::timeout(PATIENCE, stream.next())
                .await
                .map_err(|_| format!("silence after {answered} answers"))?;
            match frame {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    if let Message::DocUnavailable { .. } = Message::decode(&bytes).unwrap() {
                        answered += 1;
                    }
                }
                Some(Ok(WsMessage::Close(frame))) => {
                    return Err(format!("closed after {answered} answers: {frame:?}"));
                }
                Some(Ok(_)) => {}
                other => return Err(format!("ended after {answered} answers: {other:?}")),
            }
        }
        Ok(answered)
    });
    for _ in 0..REQUESTS {
        let request = Message::Request {
            sender_id: peer.clone(),
            target_id: "veldwerk-server".into(),
            document_id: unknown_document().to_string(),
            data: Vec::new(),
        };
        sink.feed(WsMessage::Binary(request.encode().into()))
            .await
            .unwrap();
    }
    sink.flush().await.unwrap();
    assert_eq!(reading.await.unwrap(), Ok(REQUESTS));
}

fn request(socket: &Socket, id: DocumentId) -> Message {
    Message::Request {
        sender_id: socket.conn.peer_id().clone(),
        target_id: "veldwerk-server".into(),
        document_id: id.to_string(),
        data: Vec::new(),
    }
}

/// A connection may have so many documents open at once: one more is
/// refused with an error naming the limit, and those open keep syncing.
async fn documents_past_the_open_limit_are_refused(db: Db) {
    let server = TestServer::start_with(db, |config| config.max_open_documents = 3).await;
    let worker = server
        .user(ORG, OrganisationKind::YouthCare, "tom", Role::FieldWorker)
        .await;
    let mut cases = Vec::new();
    for n in 0..4 {
        cases.push(server.create_case(&worker, &format!("Familie {n}")).await);
    }
    let mut socket = Socket::bearer(&server.ws(""), &worker.token).await;
    for id in &cases[..3] {
        socket.fetch(*id).await.unwrap();
    }
    socket.send(&request(&socket, cases[3])).await;
    let error = socket.next_error().await.unwrap();
    assert!(
        error.contains("at most 3 documents") && error.contains("VELDWERK_MAX_OPEN_DOCUMENTS"),
        "{error}"
    );
    assert_eq!(metric(&server, "document_requests_refused_total").await, 1);

    // The open ones are still served, and another connection gets the fourth.
    let mut doc = socket.fetch(cases[0]).await.unwrap();
    socket.sync(cases[0], &mut doc).await.unwrap();
    let mut other = Socket::bearer(&server.ws(""), &worker.token).await;
    other.fetch(cases[3]).await.unwrap();
}

/// Requests for documents past the rate (beyond the burst) are refused, and
/// the sender told once; a second later they are answered again.
async fn requests_for_documents_past_the_rate_are_refused(db: Db) {
    let server = TestServer::start_with(db, |config| {
        config.max_open_documents = 5;
        config.document_requests_per_sec = 5;
    })
    .await;
    let worker = server
        .user(ORG, OrganisationKind::YouthCare, "tom", Role::FieldWorker)
        .await;
    let mut socket = Socket::bearer(&server.ws(""), &worker.token).await;
    for _ in 0..50 {
        socket.send(&request(&socket, unknown_document())).await;
    }
    let last = unknown_document();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    socket.send(&request(&socket, last)).await;
    let (mut answered, mut told) = (0, Vec::new());
    loop {
        match socket.next().await.unwrap() {
            Message::DocUnavailable { document_id, .. } if document_id == last.to_string() => {
                break;
            }
            Message::DocUnavailable { .. } => answered += 1,
            Message::Error { message, .. } => told.push(message),
            _ => {}
        }
    }
    assert!((5..=10).contains(&answered), "{answered} of 50 answered");
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].contains("VELDWERK_DOCUMENT_REQUESTS_PER_SEC"),
        "{told:?}"
    );
    assert!(metric(&server, "document_requests_refused_total").await >= 40);
}

/// Opens a sync socket with a bearer token and joins.
async fn joined_socket(
    server: &TestServer,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = server.ws("").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let join =
        veldwerk_core::client::ClientConnection::new(format!("t-{}", uuid::Uuid::new_v4())).join();
    ws.send(WsMessage::Binary(join.encode().into()))
        .await
        .unwrap();
    ws
}

/// A tablet that vanishes without closing (switched off, out of range: the
/// TCP connection stays half open) answers no ping: its connection is
/// released after three, while a tablet that is merely quiet stays.
async fn a_peer_gone_without_closing_is_released(db: Db) {
    let server = TestServer::start_with(db, |config| {
        config.ping_interval = Duration::from_secs(1);
    })
    .await;
    let worker = server
        .user(ORG, OrganisationKind::YouthCare, "tom", Role::FieldWorker)
        .await;
    // Never read again, so it never answers a ping.
    let _gone = joined_socket(&server, &worker.token).await;
    // Reads (and so answers pings) but says nothing.
    let quiet = joined_socket(&server, &worker.token).await;
    let (_sink, mut stream) = quiet.split();
    let listening = tokio::spawn(async move {
        while let Some(frame) = stream.next().await {
            if let Ok(WsMessage::Close(_)) | Err(_) = frame {
                return;
            }
        }
    });
    // Both are counted once their joins are read; then the vanished one goes.
    let mut open = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now_open = metric(&server, "connections_open").await;
        if open.last() != Some(&now_open) {
            open.push(now_open);
        }
        if open.ends_with(&[2, 1]) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "connections open over time: {open:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(metric(&server, "silent_peers_closed_total").await, 1);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!listening.is_finished(), "the quiet tablet was closed");
    assert_eq!(metric(&server, "connections_open").await, 1);
}

/// Text that does not compress: what a change carrying it weighs is its length.
fn incompressible(bytes: usize) -> String {
    let mut text = String::new();
    while text.len() < bytes {
        text.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    text
}

/// A document may grow only so far: changes past the limit are refused with
/// an error naming it, nothing of them is kept, and the server and the other
/// documents go on.
async fn a_document_past_the_size_limit_is_refused(db: Db) {
    const LIMIT: usize = 48 * 1024;
    let server = TestServer::start_with(db, |config| config.max_document_bytes = LIMIT).await;
    let worker = server
        .user(ORG, OrganisationKind::YouthCare, "tom", Role::FieldWorker)
        .await;
    let big = server.create_case(&worker, "Familie Groot").await;
    let small = server.create_case(&worker, "Familie Klein").await;
    let mut tablet = crate::support::Tablet::new(&worker.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &worker.token).await;
    for id in [big, small] {
        let doc = socket.fetch(id).await.unwrap();
        tablet.adopt(id, doc);
    }

    // Far more than the limit in one change.
    let doc = tablet.doc(big);
    let household = doc.get(automerge::ROOT, "household").unwrap().unwrap().1;
    doc.put(&household, "label", incompressible(2 * LIMIT))
        .unwrap();
    doc.commit();
    let error = socket.sync_until_refused(big, doc).await;
    assert!(
        error.contains(&format!("past {LIMIT} bytes"))
            && error.contains("VELDWERK_MAX_DOCUMENT_BYTES"),
        "{error}"
    );
    assert!(metric(&server, "documents_too_large_total").await >= 1);

    // Nothing of it reached the record; the other document takes changes.
    let mut reader = Socket::bearer(&server.ws(""), &worker.token).await;
    let mut stored = reader.fetch(big).await.unwrap();
    assert_eq!(
        veldwerk_core::case::CaseRecord::new(stored.document())
            .project()
            .unwrap()
            .label,
        "Familie Groot"
    );
    let doc = tablet.doc(small);
    let household = doc.get(automerge::ROOT, "household").unwrap().unwrap().1;
    doc.put(&household, "label", "Familie Klein-Jansen")
        .unwrap();
    doc.commit();
    socket.sync(small, doc).await.unwrap();
    let caseload = server
        .api(&worker, reqwest::Method::GET, "/api/cases", None)
        .await
        .1;
    assert!(
        caseload.to_string().contains("Familie Klein-Jansen"),
        "{caseload}"
    );
}

on_both_databases!(
    a_document_past_the_size_limit_is_refused,
    a_peer_gone_without_closing_is_released,
    documents_past_the_open_limit_are_refused,
    requests_for_documents_past_the_rate_are_refused,
    a_sign_out_missed_in_a_flood_still_closes_the_socket,
    readers_that_fall_behind_are_closed_by_bytes_queued,
    ephemeral_messages_past_the_limits_are_dropped,
    a_fast_writer_that_reads_everything_is_served,
);
