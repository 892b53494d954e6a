//! The seed inputs of the corpora in `fuzz/corpus/<target>/`: real protocol
//! frames, real sync payloads and saved documents of the fixtures, real JSON
//! bodies, and identifiers as people type them. Made here rather than typed
//! in, so they stay what the code really sends; `tests/seeds.rs` writes them
//! (with `VELDWERK_WRITE_SEEDS=1`) and checks that the files still match.

use std::collections::BTreeMap;

use automerge::sync::{self, SyncDoc};
use automerge::{ActorId, Automerge, AutomergeError};
use veldwerk_core::DocumentId;
use veldwerk_core::case::{self, NewVisit, Theme, VisitKind, VisitStatus};
use veldwerk_core::protocol::{HeadsAt, Message, PeerMetadata};

use crate::fixtures;

/// One seed: its target, its file name, its bytes.
pub struct Seed {
    pub target: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Seed {
    Seed {
        target,
        name: name.into(),
        bytes: bytes.into(),
    }
}

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let payloads = sync_payloads();
    let largest = payloads.iter().max_by_key(|p| p.len()).expect("a payload");
    seeds.extend(protocol(largest));
    for (i, payload) in payloads.into_iter().enumerate() {
        seeds.push(seed("sync_payload", format!("round-{i}"), payload));
    }
    seeds.extend(documents());
    seeds.extend(subjects());
    seeds.extend(bodies());
    seeds
}

/// What a peer with nothing is sent of the general fixture, round by round,
/// then one v1 payload of a change a tablet makes.
fn sync_payloads() -> Vec<Vec<u8>> {
    let doc = fixtures::general();
    let mut peer = Automerge::new();
    let (mut ours, mut theirs) = (sync::State::new(), sync::State::new());
    let mut payloads = Vec::new();
    let mut server = doc.clone();
    while let Some(message) = server.generate_sync_message(&mut ours) {
        payloads.push(message.clone().encode());
        peer.receive_sync_message(&mut theirs, message)
            .expect("automerge reads its own message");
        if let Some(reply) = peer.generate_sync_message(&mut theirs) {
            server
                .receive_sync_message(&mut ours, reply)
                .expect("automerge reads its own message");
        }
    }
    let mut tablet = doc
        .fork()
        .with_actor(ActorId::from(fixtures::TABLET_ACTOR.as_slice()));
    tablet
        .transact::<_, _, AutomergeError>(|tx| {
            case::set_address(tx, "Molenweg 3", case::AddressStatus::Moved)
        })
        .map_err(|failure| failure.error)
        .expect("set_address writes");
    let change = tablet.get_last_local_change().expect("just made").clone();
    payloads.push(
        sync::Message {
            heads: tablet.get_heads(),
            need: Vec::new(),
            have: Vec::new(),
            changes: vec![change.raw_bytes().to_vec()].into(),
            flags: None,
            version: sync::MessageVersion::V1,
        }
        .encode(),
    );
    payloads
}

/// Every message type, as a frame; the sync message carries a real payload.
fn protocol(payload: &[u8]) -> Vec<Seed> {
    let doc = DocumentId::from_random_bytes([7; 16]).to_string();
    let a = || -> String { "tablet-1".into() };
    let b = || -> String { "server".into() };
    let messages = vec![
        Message::Join {
            sender_id: a(),
            peer_metadata: PeerMetadata {
                storage_id: Some("storage-1".into()),
                is_ephemeral: Some(false),
            },
            supported_protocol_versions: vec!["1".into()],
        },
        Message::Peer {
            sender_id: b(),
            target_id: a(),
            peer_metadata: PeerMetadata::default(),
            selected_protocol_version: "1".into(),
        },
        Message::Error {
            sender_id: b(),
            target_id: Some(a()),
            message: "document unavailable".into(),
        },
        Message::Request {
            sender_id: a(),
            target_id: b(),
            document_id: doc.clone(),
            data: payload.to_vec(),
        },
        Message::Sync {
            sender_id: a(),
            target_id: b(),
            document_id: doc.clone(),
            data: payload.to_vec(),
        },
        Message::DocUnavailable {
            sender_id: b(),
            target_id: a(),
            document_id: doc.clone(),
        },
        Message::Ephemeral {
            sender_id: a(),
            target_id: b(),
            count: 3,
            session_id: "session-1".into(),
            document_id: doc.clone(),
            data: vec![0xa1, 0x61, 0x78, 0x01],
        },
        Message::RemoteSubscriptionChange {
            sender_id: a(),
            target_id: b(),
            add: Some(vec!["storage-2".into()]),
            remove: None,
        },
        Message::RemoteHeadsChanged {
            sender_id: b(),
            target_id: a(),
            document_id: doc,
            new_heads: BTreeMap::from([(
                "storage-2".into(),
                HeadsAt {
                    heads: vec!["5f3a".into()],
                    timestamp: 1_700_000_000_000.0,
                },
            )]),
        },
    ];
    messages
        .into_iter()
        .map(|message| seed("protocol", message.kind(), message.encode()))
        .collect()
}

/// The fixtures saved, and a record long enough that automerge compresses
/// its columns.
fn documents() -> Vec<Seed> {
    let mut long = fixtures::general()
        .fork()
        .with_actor(ActorId::from(fixtures::TABLET_ACTOR.as_slice()));
    for n in 0..24 {
        long.transact::<_, _, AutomergeError>(|tx| {
            case::add_visit(
                tx,
                &NewVisit {
                    id: format!("visit-{n:02}"),
                    at_ms: 1_700_000_000_000 + n * 86_400_000,
                    author: "ada".into(),
                    organisation: "Gemeente Ergens".into(),
                    kind: VisitKind::Phone,
                    present: vec!["m1".into()],
                    observations: vec![(Theme::Safety, format!("Gesprek {n}: rustig."))],
                    status: VisitStatus::Draft,
                },
            )
        })
        .map_err(|failure| failure.error)
        .expect("add_visit writes");
    }
    vec![
        seed("document_load", "general", fixtures::general().save()),
        seed("document_load", "restricted", fixtures::restricted().save()),
        seed("document_load", "new-case", fixtures::new_case().save()),
        seed("document_load", "long", long.save()),
        seed("document_load", "long-uncompressed", long.save_nocompress()),
    ]
}

/// A BSN, a name and a birth date as the signal form sends them, split at 0xff.
fn subjects() -> Vec<Seed> {
    let fields = |bsn: &str, name: &str, date: &str| {
        [bsn.as_bytes(), name.as_bytes(), date.as_bytes()].join(&0xff)
    };
    [
        ("bsn", fields("111222333", "", "")),
        ("bsn-eight-digits", fields("11222333", "", "")),
        ("bsn-written", fields("1112.22.333", "", "")),
        ("bsn-wrong", fields("111222334", "", "")),
        ("name", fields("", "Jan de Vries", "2015-03-01")),
        (
            "name-diacritics",
            fields("", "JAN DE VRIËS-Ørsted", "2015-03-01"),
        ),
        ("name-no-date", fields("", "Jan", "")),
        ("both", fields("111222333", "Jan", "2015-02-29")),
    ]
    .into_iter()
    .map(|(name, bytes)| seed("signal_subject", name, bytes))
    .collect()
}

/// JSON bodies of the API, behind the byte that picks their type in the
/// `api_json` target.
fn bodies() -> Vec<Seed> {
    [
        (0, "create-case", r#"{"label":"Familie Ergens","address":"Kerkstraat 1","addressStatus":"known"}"#),
        (1, "team-change", r#"{"add":"Jeugdzorg Noord"}"#),
        (2, "writers-query", r#"{"actors":["0101010101010101","f0f0"]}"#),
        (3, "register-start", r#"{"invite":"secret","handle":"ada","deviceName":"Tablet 1"}"#),
        (4, "login-start", r#"{"handle":"ada"}"#),
        (5, "ceremony-finish", r#"{"challengeId":"c1","credential":{"id":"x","rawId":"eA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}}"#),
        (6, "logout", r#"{"everywhere":true}"#),
        (7, "new-invite", r#"{"organisation":"Gemeente Ergens","role":"field_worker"}"#),
        (8, "register-signal", r#"{"name":"Jan de Vries","birthDate":"2015-03-01","reference":"Z-1","contact":{"phone":"0612345678"}}"#),
        (10, "radar-settings", r#"{"noVisitDays":42}"#),
        (11, "ask-handover", r#"{"to":"Gemeente Elders","reason":"Verhuisd"}"#),
        (12, "handover-decision", r#"{"note":"Akkoord"}"#),
        (13, "link-household", r#"{"other":"2Uvk9RHdtydqSxzeiUTibnpkXWbc","basis":"same_address","note":""}"#),
        (14, "me", r#"{"handle":"ada","organisation":"Gemeente Ergens","organisationKind":"municipality","role":"field_worker","deviceId":1,"device":"Tablet 1","actorId":"0101"}"#),
        (22, "cases", r#"[{"id":1,"documentId":"2Uvk9RHdtydqSxzeiUTibnpkXWbc","label":"Familie Ergens","addressStatus":"known","lastVisitAt":null}]"#),
        (32, "error", r#"{"code":"not_found","message":"case not found"}"#),
    ]
    .into_iter()
    .map(|(kind, name, json)| {
        let mut bytes = vec![kind];
        bytes.extend_from_slice(json.as_bytes());
        seed("api_json", name, bytes)
    })
    .collect()
}
