//! Every class of bad input gets a clear error, changes nothing stored, and
//! leaves other clients syncing as before.

use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use veldwerk_core::DocumentId;
use veldwerk_core::case::{self, AddressStatus};
use veldwerk_core::identity::{OrganisationKind, Role};
use veldwerk_core::protocol::Message;

use crate::on_both_databases;
use crate::support::client::SocketEnd;
use crate::support::{Db, Socket, Tablet, TestServer, TestUser};

const LIMIT: usize = 64 * 1024;

struct World {
    server: TestServer,
    worker: TestUser,
    bystander: TestUser,
    case_id: DocumentId,
}

async fn world(db: Db) -> World {
    let server = TestServer::start_with(db, |c| c.max_frame_bytes = LIMIT).await;
    let worker = server
        .user(
            "Wijkteam Zuid",
            OrganisationKind::SocialWork,
            "wim",
            Role::FieldWorker,
        )
        .await;
    let bystander = server
        .user(
            "Wijkteam Zuid",
            OrganisationKind::SocialWork,
            "bea",
            Role::FieldWorker,
        )
        .await;
    let case_id = server.create_case(&worker, "Familie Stevig").await;
    World {
        server,
        worker,
        bystander,
        case_id,
    }
}

impl World {
    async fn stored(&self) -> Vec<String> {
        self.server
            .store
            .logged_change_hashes(&self.case_id.to_string())
            .await
            .unwrap()
    }

    /// Another client, on its own connection, still changes the case and is acknowledged.
    async fn bystander_still_syncs(&self, note: &str) {
        let mut tablet = Tablet::new(&self.bystander.principal.actor_id);
        let mut socket = Socket::bearer(&self.server.ws(""), &self.bystander.token).await;
        let doc = socket.fetch(self.case_id).await.expect("bystander fetches");
        tablet.adopt(self.case_id, doc);
        let doc = tablet.doc(self.case_id);
        case::set_address(doc, note, AddressStatus::Known).unwrap();
        doc.commit();
        let before = self.stored().await.len();
        socket
            .sync(self.case_id, doc)
            .await
            .expect("bystander syncs");
        assert_eq!(self.stored().await.len(), before + 1);
        socket.close().await;
    }

    fn sync_message(&self, data: Vec<u8>) -> Message {
        Message::Sync {
            sender_id: "tester".into(),
            target_id: "server".into(),
            document_id: self.case_id.to_string(),
            data,
        }
    }
}

fn cbor(value: ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(&value, &mut out).unwrap();
    out
}

async fn malformed_cbor_is_refused(db: Db) {
    let w = world(db).await;
    let before = w.stored().await;
    let mut socket = Socket::bearer(&w.server.ws(""), &w.worker.token).await;
    socket.send_raw(vec![0xbf, 0x61, 0xff, 0x00, 0x13]).await;
    assert_eq!(
        socket.next_error().await.unwrap(),
        "frame is not valid CBOR"
    );
    socket.send_text("{\"type\":\"sync\"}").await;
    assert!(
        socket
            .next_error()
            .await
            .unwrap()
            .contains("text frames are not part of the protocol")
    );
    // The same connection keeps working.
    socket.fetch(w.case_id).await.expect("still usable");
    assert_eq!(w.stored().await, before);
    w.bystander_still_syncs("Na kapotte CBOR").await;
}

async fn unknown_message_type_is_refused(db: Db) {
    let w = world(db).await;
    let before = w.stored().await;
    let mut socket = Socket::bearer(&w.server.ws(""), &w.worker.token).await;
    let frame = cbor(ciborium::Value::Map(vec![
        ("type".into(), "delete-everything".into()),
        ("senderId".into(), "x".into()),
    ]));
    socket.send_raw(frame).await;
    assert_eq!(
        socket.next_error().await.unwrap(),
        "unknown message type \"delete-everything\""
    );
    // A known type with a missing field is named too.
    let frame = cbor(ciborium::Value::Map(vec![
        ("type".into(), "sync".into()),
        ("senderId".into(), "x".into()),
    ]));
    socket.send_raw(frame).await;
    assert!(
        socket
            .next_error()
            .await
            .unwrap()
            .starts_with("malformed \"sync\" message")
    );
    assert_eq!(w.stored().await, before);
    w.bystander_still_syncs("Na onbekend bericht").await;
}

async fn oversized_frame_is_refused(db: Db) {
    let w = world(db).await;
    let before = w.stored().await;
    let mut socket = Socket::bearer(&w.server.ws(""), &w.worker.token).await;
    let message = w.sync_message(vec![0x42; LIMIT + 1000]);
    socket.send(&message).await;
    let error = socket.next_error().await.unwrap();
    assert!(
        error.contains(&format!("exceeds the limit of {LIMIT} bytes")),
        "{error}"
    );
    match socket.next().await {
        Err(SocketEnd::Closed(Some(frame))) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected a close for the oversized frame, got {other:?}"),
    }
    assert_eq!(w.stored().await, before);
    w.bystander_still_syncs("Na te groot frame").await;
}

async fn invalid_automerge_bytes_are_refused(db: Db) {
    let w = world(db).await;
    let before = w.stored().await;
    let mut socket = Socket::bearer(&w.server.ws(""), &w.worker.token).await;
    // Not a sync message at all.
    socket
        .send(&w.sync_message(b"not automerge".to_vec()))
        .await;
    let error = socket.next_error().await.unwrap();
    assert!(error.contains("not an automerge sync message"), "{error}");
    // A sync message whose change bytes are garbage.
    let mut message = automerge::sync::Message::decode(&valid_sync_payload()).unwrap();
    message.changes = vec![vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 5]].into();
    socket.send(&w.sync_message(message.encode())).await;
    let error = socket.next_error().await.unwrap();
    assert!(
        error.contains("change 0 of the sync payload is not valid automerge data"),
        "{error}"
    );
    assert_eq!(w.stored().await, before);
    socket.fetch(w.case_id).await.expect("still usable");
    w.bystander_still_syncs("Na kapotte automerge").await;
}

/// A compressed change chunk of zeros: 48 MiB once inflated, about 48 KB
/// on the wire. Automerge would inflate it whole before anything checks it.
fn decompression_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut deflated = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    for _ in 0..48 {
        deflated.write_all(&block).unwrap();
    }
    let body = deflated.finish().unwrap();
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let mut len = body.len();
    while len >= 0x80 {
        chunk.push((len & 0x7f) as u8 | 0x80);
        len >>= 7;
    }
    chunk.push(len as u8);
    chunk.extend_from_slice(&body);
    let mut message = automerge::sync::Message::decode(&valid_sync_payload()).unwrap();
    message.changes = vec![chunk].into();
    message.encode()
}

async fn a_decompression_bomb_is_refused_before_it_is_inflated(db: Db) {
    let w = world(db).await;
    let before = w.stored().await;
    let mut socket = Socket::bearer(&w.server.ws(""), &w.worker.token).await;
    let bomb = decompression_bomb();
    assert!(bomb.len() < LIMIT, "{} bytes", bomb.len());
    let started = std::time::Instant::now();
    socket.send(&w.sync_message(bomb)).await;
    let error = socket.next_error().await.unwrap();
    assert!(error.contains("would inflate to more than"), "{error}");
    // Refused after counting a few MiB, not after inflating 48 MiB (debug
    // build: well under a second, where inflating it whole took seconds).
    eprintln!("bomb refused after {:?}", started.elapsed());
    assert_eq!(w.stored().await, before);
    socket.fetch(w.case_id).await.expect("still usable");
    w.bystander_still_syncs("Na de bom").await;
}

fn valid_sync_payload() -> Vec<u8> {
    use automerge::sync::SyncDoc;
    let doc = automerge::Automerge::new();
    doc.generate_sync_message(&mut automerge::sync::State::new())
        .unwrap()
        .encode()
}

async fn wrong_protocol_version_is_refused(db: Db) {
    let w = world(db).await;
    let mut socket = Socket::raw(&w.server.ws(""), &w.worker.token).await;
    socket
        .send(&Message::Join {
            sender_id: "old-client".into(),
            peer_metadata: Default::default(),
            supported_protocol_versions: vec!["0".into()],
        })
        .await;
    let error = socket.next_error().await.unwrap();
    assert!(error.contains("unsupported protocol version"), "{error}");
    assert!(matches!(
        socket.next().await,
        Err(SocketEnd::Closed(Some(_)))
    ));
    // And a message before the handshake.
    let mut socket = Socket::raw(&w.server.ws(""), &w.worker.token).await;
    socket.send(&w.sync_message(valid_sync_payload())).await;
    assert!(
        socket
            .next_error()
            .await
            .unwrap()
            .contains("expected \"join\" first")
    );
    w.bystander_still_syncs("Na verkeerde versie").await;
}

async fn unknown_and_forbidden_documents_look_the_same(db: Db) {
    let w = world(db).await;
    let outsider = w
        .server
        .user(
            "Politie Oost",
            OrganisationKind::Police,
            "olaf",
            Role::FieldWorker,
        )
        .await;
    let mut socket = Socket::bearer(&w.server.ws(""), &outsider.token).await;
    let unknown = DocumentId::from_random_bytes([3; 16]);
    assert!(matches!(socket.fetch(unknown).await, Err(SocketEnd::Unavailable(d)) if d == unknown));
    assert!(
        matches!(socket.fetch(w.case_id).await, Err(SocketEnd::Unavailable(d)) if d == w.case_id)
    );
    // Pushing changes to a forbidden document changes nothing.
    let before = w.stored().await;
    let mut tablet = Tablet::new(&outsider.principal.actor_id);
    let doc = tablet.doc(w.case_id);
    case::init_case(
        doc,
        &case::NewCase {
            label: "Overname".into(),
            address: String::new(),
            address_status: AddressStatus::Unknown,
        },
    )
    .unwrap();
    assert!(matches!(
        socket.sync(w.case_id, doc).await,
        Err(SocketEnd::Unavailable(_))
    ));
    assert_eq!(w.stored().await, before);
    // A malformed id gets a reason.
    socket
        .send(&Message::Request {
            sender_id: "x".into(),
            target_id: "y".into(),
            document_id: "not-an-id".into(),
            data: valid_sync_payload(),
        })
        .await;
    assert!(
        socket
            .next_error()
            .await
            .unwrap()
            .contains("is not a document id")
    );
    w.bystander_still_syncs("Na verboden document").await;
}

async fn bad_credentials_are_refused(db: Db) {
    let w = world(db).await;
    let upgrade = |url: String, token: Option<String>| async move {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request().unwrap();
        if let Some(token) = token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok(_) => None,
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Some((
                response.status().as_u16(),
                String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                    .into_owned(),
            )),
            Err(e) => panic!("unexpected failure: {e}"),
        }
    };
    let (status, body) = upgrade(w.server.ws(""), Some("vwt_forged".into()))
        .await
        .expect("refused");
    assert_eq!(status, 401);
    assert!(body.contains("invalid_credentials"), "{body}");
    let (status, _) = upgrade(w.server.ws(""), None).await.expect("refused");
    assert_eq!(status, 401);
    let (status, body) = upgrade(w.server.ws("?ticket=vws_made_up"), None)
        .await
        .expect("refused");
    assert_eq!(status, 401);
    assert!(body.contains("unknown"), "{body}");

    let ticket = w.server.ticket(&w.worker).await;
    let mut socket = Socket::url(&w.server.ws(&format!("?ticket={ticket}"))).await;
    socket.fetch(w.case_id).await.expect("a ticket admits once");
    let (status, body) = upgrade(w.server.ws(&format!("?ticket={ticket}")), None)
        .await
        .expect("replay refused");
    assert_eq!(status, 401);
    assert!(body.contains("already used"), "{body}");

    // The API refuses the same way, in the same shape.
    let response = reqwest::Client::new()
        .get(w.server.http("/api/cases"))
        .bearer_auth("vwt_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "invalid_credentials");
    w.bystander_still_syncs("Na vals token").await;
}

async fn an_expired_ticket_is_refused(db: Db) {
    let w = world(db).await;
    let ticket = "vws_expired_for_the_test";
    w.server
        .store
        .add_sync_ticket(
            w.worker.principal.device_id,
            &veldwerk_server::auth::secret_hash(ticket),
            veldwerk_server::now_ms() - 1,
        )
        .await
        .unwrap();
    let err = tokio_tungstenite::connect_async(w.server.ws(&format!("?ticket={ticket}")))
        .await
        .unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status().as_u16(), 401);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(body.contains("expired"), "{body}");
        }
        e => panic!("unexpected failure: {e}"),
    }
}

/// A client written against the API that calls a path nobody serves gets a
/// JSON error it can read, not the tablet app's HTML with a 200.
async fn unknown_api_paths_answer_with_a_json_404(db: Db) {
    let server = TestServer::start(db).await;
    let user = server
        .user(
            "Gemeente Ergens",
            veldwerk_core::identity::OrganisationKind::Municipality,
            "ada",
            veldwerk_core::identity::Role::FieldWorker,
        )
        .await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/nothing-here"),
        (reqwest::Method::POST, "/api/cases/abc/unknown"),
        (reqwest::Method::GET, "/api"),
    ] {
        let (status, body) = server.api(&user, method, path, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("not_found")),
            "{path}: {body}"
        );
    }
}

on_both_databases!(
    unknown_api_paths_answer_with_a_json_404,
    malformed_cbor_is_refused,
    unknown_message_type_is_refused,
    oversized_frame_is_refused,
    invalid_automerge_bytes_are_refused,
    a_decompression_bomb_is_refused_before_it_is_inflated,
    wrong_protocol_version_is_refused,
    unknown_and_forbidden_documents_look_the_same,
    bad_credentials_are_refused,
    an_expired_ticket_is_refused,
);
