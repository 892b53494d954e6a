//! The restricted record as the chain uses it: two police officers each add
//! the first signal while offline and both arrive, nothing quarantined; the
//! directing case director's caseload names the record and the radar says a
//! signal came from the police until the director has opened it; a partner
//! on the same team is never told the record exists.

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use serde_json::json;
use veldwerk_core::DocumentId;
use veldwerk_core::api::cases::CaseItem;
use veldwerk_core::api::oversight::{NEW_SIGNAL, Radar};
use veldwerk_core::case::{self, NewSignal, SignalKind};
use veldwerk_core::identity::{OrganisationKind, Role};

use crate::on_both_databases;
use crate::support::{Db, Socket, Tablet, TestServer, TestUser};

const MUNICIPALITY: &str = "Gemeente Oost";
const POLICE: &str = "Politie Oost";
const YOUTH: &str = "Jeugdzorg Oost";

async fn caseload(server: &TestServer, user: &TestUser) -> Vec<CaseItem> {
    let (status, body) = server
        .api(user, reqwest::Method::GET, "/api/cases", None)
        .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

async fn radar(server: &TestServer, director: &TestUser) -> Radar {
    let (status, body) = server
        .api(director, reqwest::Method::GET, "/api/radar", None)
        .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

/// A police officer's tablet: the first signal made offline, on the shared skeleton.
fn signal_offline(officer: &TestUser, id: DocumentId, signal_id: &str, text: &str) -> Tablet {
    let mut tablet = Tablet::new(&officer.principal.actor_id);
    let doc = tablet.doc(id);
    doc.apply_changes([case::restricted_skeleton(&id)]).unwrap();
    case::add_signal(
        doc,
        &NewSignal {
            id: signal_id.into(),
            at_ms: 1_767_000_000_000,
            author: officer.principal.handle.clone(),
            organisation: officer.principal.organisation.clone(),
            kind: SignalKind::MinorInCrime,
            text: text.into(),
        },
    )
    .unwrap();
    doc.commit();
    tablet
}

async fn police_signals_reach_the_directing_case_director_only(db: Db) {
    let server = TestServer::start(db).await;
    let municipality = OrganisationKind::Municipality;
    let director = server
        .user(MUNICIPALITY, municipality, "dana", Role::CaseDirector)
        .await;
    let piet = server
        .user(POLICE, OrganisationKind::Police, "piet", Role::FieldWorker)
        .await;
    let petra = server
        .user(POLICE, OrganisationKind::Police, "petra", Role::FieldWorker)
        .await;
    let youth = server
        .user(
            YOUTH,
            OrganisationKind::YouthCare,
            "joost",
            Role::FieldWorker,
        )
        .await;
    let id = server.create_case(&director, "Familie Veld").await;
    for org in [POLICE, YOUTH] {
        let (status, body) = server
            .api(
                &director,
                reqwest::Method::POST,
                &format!("/api/cases/{id}/team"),
                Some(json!({ "add": org })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    // The caseload names the restricted record for the director and the
    // police, and not for youth care.
    let restricted_of = |cases: Vec<CaseItem>| {
        cases
            .into_iter()
            .find(|c| c.document_id == id.to_string())
            .expect("the case is listed")
            .restricted_document_id
    };
    let restricted: DocumentId = restricted_of(caseload(&server, &director).await)
        .expect("the director may read the restricted record")
        .parse()
        .unwrap();
    assert_eq!(
        restricted_of(caseload(&server, &piet).await),
        Some(restricted.to_string())
    );
    assert_eq!(restricted_of(caseload(&server, &youth).await), None);
    assert!(radar(&server, &director).await.items.is_empty());

    // Both officers add the first signal offline, then sync one after the other.
    let mut tablets = [
        signal_offline(&piet, restricted, "s-piet", "Zoon (15) aangehouden."),
        signal_offline(&petra, restricted, "s-petra", "Melding huiselijk geweld."),
    ];
    for (tablet, officer) in tablets.iter_mut().zip([&piet, &petra]) {
        let mut socket = Socket::bearer(&server.ws(""), &officer.token).await;
        socket
            .sync(restricted, tablet.doc(restricted))
            .await
            .expect("the signal is accepted");
    }
    assert!(
        server.store.quarantine(100).await.unwrap().is_empty(),
        "nothing is quarantined"
    );

    // The director reads both; the radar says the police added to it.
    let mut socket = Socket::bearer(&server.ws(""), &director.token).await;
    let mut doc = socket
        .fetch(restricted)
        .await
        .expect("the director reads it");
    let signals = case::CaseRecord::new(doc.document()).signals();
    let mut texts: Vec<&str> = signals.iter().map(|s| s.text.as_str()).collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        ["Melding huiselijk geweld.", "Zoon (15) aangehouden."]
    );
    let items = radar(&server, &director).await.items;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].reasons, [NEW_SIGNAL]);
    assert_eq!(items[0].new_signal_from.as_deref(), Some(POLICE));

    // Youth care cannot read it, nor say it was seen.
    let mut outsider = Socket::bearer(&server.ws(""), &youth.token).await;
    assert!(outsider.fetch(restricted).await.is_err());
    let seen = format!("/api/cases/{id}/restricted/seen");
    let (status, _) = server.api(&youth, reqwest::Method::POST, &seen, None).await;
    assert_eq!(status, 404);

    // Once the director opened it, it is off the radar, until the next signal.
    let (status, body) = server
        .api(&director, reqwest::Method::POST, &seen, None)
        .await;
    assert_eq!(status, 204, "{body}");
    assert!(radar(&server, &director).await.items.is_empty());
    let mut tablet = Tablet::new(&piet.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &piet.token).await;
    tablet.adopt(restricted, socket.fetch(restricted).await.unwrap());
    let doc = tablet.doc(restricted);
    case::add_signal(
        doc,
        &NewSignal {
            id: "s-later".into(),
            at_ms: 1_767_100_000_000,
            author: "piet".into(),
            organisation: POLICE.into(),
            kind: SignalKind::Police,
            text: "Weer aangehouden.".into(),
        },
    )
    .unwrap();
    doc.commit();
    socket.sync(restricted, doc).await.unwrap();
    assert_eq!(
        radar(&server, &director).await.items[0]
            .new_signal_from
            .as_deref(),
        Some(POLICE)
    );

    // A signal in another organisation's name is refused.
    let doc = tablet.doc(restricted);
    let signals = match doc.get(automerge::ROOT, "signals").unwrap() {
        Some((_, signals)) => signals,
        None => unreachable!(),
    };
    let forged = doc
        .put_object(&signals, "s-forged", automerge::ObjType::Map)
        .unwrap();
    doc.put(&forged, "at", automerge::ScalarValue::Timestamp(1))
        .unwrap();
    doc.put(&forged, "author", "piet").unwrap();
    doc.put(&forged, "organisation", YOUTH).unwrap();
    doc.put(&forged, "kind", "police").unwrap();
    doc.put(&forged, "text", "Namens een ander.").unwrap();
    doc.commit();
    let reason = socket.sync_until_refused(restricted, doc).await;
    assert!(reason.contains("organisation"), "{reason}");
}

on_both_databases!(police_signals_reach_the_directing_case_director_only);
