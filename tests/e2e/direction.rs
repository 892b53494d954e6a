//! Case direction between municipalities: a handover asked, refused, asked
//! again and accepted — with what each side may read before and after —,
//! households registered by a partner organisation awaiting direction, and
//! links between households with their recorded basis.

use reqwest::Method;
use serde_json::{Value, json};
use veldwerk_core::DocumentId;
use veldwerk_core::case::{self, NewVisit, Theme, VisitKind, VisitStatus};
use veldwerk_core::identity::{OrganisationKind, Role};
use veldwerk_core::protocol::Message;

use crate::on_both_databases;
use crate::support::client::SocketEnd;
use crate::support::{Db, Socket, Tablet, TestServer, TestUser};

async fn get(server: &TestServer, user: &TestUser, path: &str) -> (u16, Value) {
    server.api(user, Method::GET, path, None).await
}

async fn post(server: &TestServer, user: &TestUser, path: &str, body: Value) -> (u16, Value) {
    server.api(user, Method::POST, path, Some(body)).await
}

/// The labels of a person's caseload.
async fn caseload(server: &TestServer, user: &TestUser) -> Vec<String> {
    let (status, body) = get(server, user, "/api/cases").await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap().to_owned())
        .collect()
}

async fn radar(server: &TestServer, user: &TestUser) -> Value {
    let (status, body) = get(server, user, "/api/radar").await;
    assert_eq!(status, 200, "{body}");
    // The tablet reads the same answer through the shared type.
    serde_json::from_value::<veldwerk_core::api::oversight::Radar>(body.clone())
        .expect("the radar reads as core::api's type");
    body
}

/// Adds a visit with observations to a case through sync.
async fn add_visit(server: &TestServer, worker: &TestUser, id: DocumentId, text: &str) {
    let mut tablet = Tablet::new(&worker.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &worker.token).await;
    tablet.adopt(id, socket.fetch(id).await.unwrap());
    let doc = tablet.doc(id);
    let visit = NewVisit {
        id: "v1".into(),
        at_ms: 1_790_000_000_000,
        author: worker.principal.handle.clone(),
        organisation: worker.principal.organisation.clone(),
        kind: VisitKind::Home,
        present: vec![],
        observations: vec![(Theme::Housing, text.into())],
        status: VisitStatus::Submitted,
    };
    case::add_visit(doc, &visit).unwrap();
    doc.commit();
    socket.sync(id, doc).await.unwrap();
}

fn observation(doc: &automerge::AutoCommit) -> Option<String> {
    let view = case::CaseRecord::new(doc).view().ok()?;
    view.visits
        .first()?
        .observations
        .iter()
        .find(|(theme, _)| *theme == Theme::Housing)
        .map(|(_, text)| text.clone())
}

async fn a_handover_is_refused_then_accepted_and_moves_access(db: Db) {
    let server = TestServer::start(db).await;
    let municipality = OrganisationKind::Municipality;
    let from = "Gemeente Vertrek";
    let to = "Gemeente Aankomst";
    let sender = server
        .user(from, municipality, "saskia", Role::CaseDirector)
        .await;
    let worker = server
        .user(from, municipality, "wim", Role::FieldWorker)
        .await;
    let receiver = server
        .user(to, municipality, "roel", Role::CaseDirector)
        .await;
    let receiving_worker = server
        .user(to, municipality, "rita", Role::FieldWorker)
        .await;
    server.org("Politie Regio", OrganisationKind::Police).await;

    let id = server.create_case(&worker, "Familie Verhuis").await;
    add_visit(
        &server,
        &worker,
        id,
        "Dozen in de gang, verhuizing op komst",
    )
    .await;
    let handover = format!("/api/cases/{id}/handover");

    // Before: the receiving municipality knows nothing of the case.
    assert_eq!(caseload(&server, &receiver).await, Vec::<String>::new());
    assert_eq!(
        get(&server, &receiver, &format!("/api/cases/{id}")).await.0,
        404
    );
    let mut outsider = Socket::bearer(&server.ws(""), &receiving_worker.token).await;
    assert!(matches!(outsider.fetch(id).await, Err(SocketEnd::Unavailable(d)) if d == id));

    // Only the directing municipality's case director asks, to another municipality, with a reason.
    let ask = json!({ "to": to, "reason": "Gezin verhuist naar Aankomst" });
    assert_eq!(post(&server, &worker, &handover, ask.clone()).await.0, 403);
    assert_eq!(
        post(&server, &receiver, &handover, ask.clone()).await.0,
        404
    );
    for (body, what) in [
        (
            json!({ "to": "Politie Regio", "reason": "x" }),
            "not a municipality",
        ),
        (json!({ "to": from, "reason": "x" }), "another municipality"),
        (json!({ "to": to, "reason": "  " }), "reason is required"),
    ] {
        let (status, error) = post(&server, &sender, &handover, body).await;
        assert_eq!(status, 400, "{error}");
        assert!(error["message"].as_str().unwrap().contains(what), "{error}");
    }
    let (status, asked) = post(&server, &sender, &handover, ask.clone()).await;
    assert_eq!(status, 201, "{asked}");
    assert_eq!(asked["status"], "requested");
    let (status, again) = post(&server, &sender, &handover, ask.clone()).await;
    assert_eq!(status, 409, "one open request per case: {again}");

    // Both radars show it: the sender's case as pending, the receiver's count of requests.
    let sender_radar = radar(&server, &sender).await;
    let item = sender_radar["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "Familie Verhuis")
        .expect("the case is on the sender's radar");
    assert!(
        item["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("handover_pending"))
    );
    assert_eq!(item["handoverTo"], to);
    assert_eq!(radar(&server, &receiver).await["incomingHandovers"], 1);

    // The receiver sees the request (label, reason, who asked) but still not the case.
    let (_, list) = get(&server, &receiver, "/api/handovers").await;
    serde_json::from_value::<Vec<veldwerk_core::api::direction::HandoverItem>>(list.clone())
        .expect("the handovers read as core::api's type");
    let request = &list[0];
    assert_eq!(
        (
            &request["direction"],
            &request["label"],
            &request["from"],
            &request["requestedBy"]
        ),
        (
            &json!("incoming"),
            &json!("Familie Verhuis"),
            &json!(from),
            &json!("saskia")
        )
    );
    assert_eq!(
        get(&server, &receiver, &format!("/api/cases/{id}")).await.0,
        404
    );
    let request_id = request["id"].as_i64().unwrap();

    // Refused: it needs a reason, only the receiver refuses, and nothing moves.
    let refuse = format!("/api/handovers/{request_id}/refuse");
    assert_eq!(post(&server, &receiver, &refuse, json!({})).await.0, 400);
    assert_eq!(
        post(&server, &sender, &refuse, json!({ "note": "x" }))
            .await
            .0,
        403
    );
    let (status, refused) = post(
        &server,
        &receiver,
        &refuse,
        json!({ "note": "Gezin staat hier nog niet ingeschreven" }),
    )
    .await;
    assert_eq!(
        (status, &refused["status"]),
        (200, &json!("refused")),
        "{refused}"
    );
    assert_eq!(
        post(
            &server,
            &receiver,
            &format!("/api/handovers/{request_id}/accept"),
            json!({})
        )
        .await
        .0,
        409,
        "a decided request stays decided"
    );
    assert_eq!(caseload(&server, &receiver).await, Vec::<String>::new());
    assert_eq!(caseload(&server, &worker).await, vec!["Familie Verhuis"]);
    let (_, outgoing) = get(&server, &sender, "/api/handovers").await;
    assert_eq!(
        outgoing[0]["note"],
        "Gezin staat hier nog niet ingeschreven"
    );
    assert_eq!(radar(&server, &receiver).await["incomingHandovers"], 0);

    // Asked again, and accepted, while a worker of the sender has the case open.
    let mut open = Socket::bearer(&server.ws(""), &worker.token).await;
    let mut held = open.fetch(id).await.unwrap();
    let (_, asked) = post(&server, &sender, &handover, ask).await;
    let accept = format!("/api/handovers/{}/accept", asked["id"]);
    let (status, accepted) = post(&server, &receiver, &accept, json!({})).await;
    assert_eq!(
        (status, &accepted["status"]),
        (200, &json!("accepted")),
        "{accepted}"
    );

    // After: the sending side's open connection is told, and it can read nothing more.
    loop {
        match open.next().await.expect("told") {
            Message::DocUnavailable { document_id, .. } => {
                assert_eq!(document_id, id.to_string());
                break;
            }
            _ => continue,
        }
    }
    case::set_address(&mut held, "Nieuwe straat 1", case::AddressStatus::Known).unwrap();
    held.commit();
    let mut again = Socket::bearer(&server.ws(""), &worker.token).await;
    assert!(matches!(
        again.fetch(id).await,
        Err(SocketEnd::Unavailable(_))
    ));
    assert!(matches!(
        again.sync_until_refused_or_done(id, &mut held).await,
        Err(SocketEnd::Unavailable(_) | SocketEnd::Refused(_))
    ));
    for user in [&sender, &worker] {
        assert_eq!(caseload(&server, user).await, Vec::<String>::new());
        assert_eq!(get(&server, user, &format!("/api/cases/{id}")).await.0, 404);
    }
    assert_eq!(
        get(&server, &sender, &format!("/api/cases/{id}/handovers"))
            .await
            .0,
        404
    );
    // The sender keeps that the handover happened, to whom, and the label it knew.
    let (_, outgoing) = get(&server, &sender, "/api/handovers").await;
    assert_eq!(
        (
            &outgoing[0]["status"],
            &outgoing[0]["to"],
            &outgoing[0]["label"],
            &outgoing[0]["direction"]
        ),
        (
            &json!("accepted"),
            &json!(to),
            &json!("Familie Verhuis"),
            &json!("outgoing")
        )
    );

    // The receiving municipality directs it now: its people read the whole record.
    assert_eq!(
        caseload(&server, &receiving_worker).await,
        vec!["Familie Verhuis"]
    );
    let mut socket = Socket::bearer(&server.ws(""), &receiving_worker.token).await;
    let doc = socket
        .fetch(id)
        .await
        .expect("the receiving team syncs the case");
    assert_eq!(
        observation(&doc).as_deref(),
        Some("Dozen in de gang, verhuizing op komst"),
        "the record moved whole"
    );
    let (status, team) = get(&server, &receiver, &format!("/api/cases/{id}/team")).await;
    assert_eq!((status, team), (200, json!([to])));
    // And the trail: both requests, who decided what.
    let (status, trail) = get(&server, &receiver, &format!("/api/cases/{id}/handovers")).await;
    assert_eq!(status, 200);
    let trail: Vec<(&str, &str)> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["status"].as_str().unwrap(),
                h["decidedBy"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(trail, [("refused", "roel"), ("accepted", "roel")]);
    // Their radar no longer counts it as pending; the monitor counts it in.
    assert_eq!(radar(&server, &receiver).await["incomingHandovers"], 0);
    let (_, monitor) = get(&server, &receiver, "/api/monitor?year=2026").await;
    assert!(monitor["handovers"]["cells"].is_array(), "{monitor}");

    // The audit log holds each step.
    let (store, _) = server.stop().await;
    let actions: Vec<String> = store
        .audit_records(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .filter(|a| a.starts_with("case.handover"))
        .collect();
    assert_eq!(
        actions,
        [
            "case.handover.request",
            "case.handover.refuse",
            "case.handover.request",
            "case.handover.accept"
        ]
    );
}

async fn a_partner_registration_awaits_direction(db: Db) {
    let server = TestServer::start(db).await;
    let municipality = OrganisationKind::Municipality;
    let director = server
        .user("Gemeente Regie", municipality, "dora", Role::CaseDirector)
        .await;
    let elsewhere = server
        .user("Gemeente Elders", municipality, "eli", Role::CaseDirector)
        .await;
    let partner = server
        .user(
            "Jeugdzorg Regie",
            OrganisationKind::YouthCare,
            "jens",
            Role::FieldWorker,
        )
        .await;
    veldwerk_server::admin::set_municipality(&server.store, "Jeugdzorg Regie", "Gemeente Regie")
        .await
        .unwrap();
    let id = server.create_case(&partner, "Familie Nieuw").await;

    let awaiting = &radar(&server, &director).await["awaitingDirection"];
    assert_eq!(awaiting[0]["label"], "Familie Nieuw");
    assert_eq!(awaiting[0]["registeredBy"], "Jeugdzorg Regie");
    assert_eq!(
        radar(&server, &elsewhere).await["awaitingDirection"],
        json!([])
    );
    assert_eq!(caseload(&server, &director).await, Vec::<String>::new());

    let direction = format!("/api/cases/{id}/direction");
    assert_eq!(
        post(&server, &elsewhere, &direction, json!({})).await.0,
        404
    );
    assert_eq!(post(&server, &partner, &direction, json!({})).await.0, 403);
    assert_eq!(post(&server, &director, &direction, json!({})).await.0, 204);
    assert_eq!(post(&server, &director, &direction, json!({})).await.0, 404);
    assert_eq!(caseload(&server, &director).await, vec!["Familie Nieuw"]);
    assert_eq!(caseload(&server, &partner).await, vec!["Familie Nieuw"]);
    assert_eq!(
        radar(&server, &director).await["awaitingDirection"],
        json!([])
    );
    let (_, team) = get(&server, &director, &format!("/api/cases/{id}/team")).await;
    assert_eq!(team, json!(["Gemeente Regie", "Jeugdzorg Regie"]));
}

async fn links_between_households_have_a_basis_and_are_for_case_directors(db: Db) {
    let server = TestServer::start(db).await;
    let municipality = OrganisationKind::Municipality;
    let org = "Gemeente Socket";
    let director = server
        .user(org, municipality, "lotte", Role::CaseDirector)
        .await;
    let worker = server
        .user(org, municipality, "lars", Role::FieldWorker)
        .await;
    let other_director = server
        .user("Gemeente Ver", municipality, "vera", Role::CaseDirector)
        .await;
    let a = server.create_case(&worker, "Familie A").await;
    let b = server.create_case(&worker, "Familie B").await;
    let far = server.create_case(&other_director, "Familie Ver").await;
    let links = format!("/api/cases/{a}/links");

    // A basis is a behaviour from the list; origin is not one and never will be.
    for (body, what) in [
        (
            json!({ "other": b.to_string(), "basis": "origin" }),
            "never origin",
        ),
        (
            json!({ "other": b.to_string(), "basis": "nationality" }),
            "never origin",
        ),
        (
            json!({ "other": b.to_string(), "basis": "other" }),
            "required",
        ),
        (
            json!({ "other": a.to_string(), "basis": "same_address" }),
            "itself",
        ),
        (
            json!({ "other": far.to_string(), "basis": "same_address" }),
            "may read",
        ),
    ] {
        let (status, error) = post(&server, &director, &links, body).await;
        assert_eq!(status, 400, "{error}");
        assert!(error["message"].as_str().unwrap().contains(what), "{error}");
    }
    assert_eq!(
        get(&server, &director, &links).await.1,
        json!([]),
        "nothing stored"
    );
    let body = json!({ "other": b.to_string(), "basis": "member_moved_in", "note": "Oudste zoon woont sinds maart bij B" });
    assert_eq!(post(&server, &worker, &links, body.clone()).await.0, 403);
    let (status, listed) = post(&server, &director, &links, body.clone()).await;
    assert_eq!(status, 201, "{listed}");
    assert_eq!(post(&server, &director, &links, body).await.0, 409);

    // Shown on both cases, to case directors only.
    let (_, from_b) = get(&server, &director, &format!("/api/cases/{b}/links")).await;
    let typed: Vec<veldwerk_core::api::direction::LinkItem> =
        serde_json::from_value(from_b.clone()).expect("the links read as core::api's type");
    assert_eq!(typed[0].label.as_deref(), Some("Familie A"));
    assert_eq!(from_b[0]["label"], "Familie A");
    assert_eq!(from_b[0]["basis"], "member_moved_in");
    assert_eq!(from_b[0]["recordedBy"], "lotte");
    assert_eq!(from_b[0]["note"], "Oudste zoon woont sinds maart bij B");
    assert_eq!(get(&server, &worker, &links).await.0, 403);
    assert_eq!(get(&server, &other_director, &links).await.0, 404);

    // Removing a link keeps who removed it in the audit log, and it is gone from both.
    let link_id = listed[0]["id"].as_i64().unwrap();
    let (status, _) = server
        .api(
            &director,
            Method::DELETE,
            &format!("/api/cases/{b}/links/{link_id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(get(&server, &director, &links).await.1, json!([]));
}

/// The current year in the Netherlands, which the monitor reckons in.
fn this_year() -> i32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    veldwerk_core::calendar::Date::in_amsterdam(now).year()
}

async fn the_monitor_counts_handovers_in_and_out(db: Db) {
    let server = TestServer::start(db).await;
    let municipality = OrganisationKind::Municipality;
    let sender = server
        .user("Gemeente West", municipality, "wendy", Role::CaseDirector)
        .await;
    let receiver = server
        .user("Gemeente Oost", municipality, "otto", Role::CaseDirector)
        .await;
    for n in 0..6 {
        let id = server.create_case(&sender, &format!("Familie {n}")).await;
        let (status, asked) = post(
            &server,
            &sender,
            &format!("/api/cases/{id}/handover"),
            json!({ "to": "Gemeente Oost", "reason": "verhuisd" }),
        )
        .await;
        assert_eq!(status, 201, "{asked}");
        // Five accepted; the sixth refused, which is not a handover.
        let decision = if n < 5 { "accept" } else { "refuse" };
        let path = format!("/api/handovers/{}/{decision}", asked["id"]);
        let (status, _) = post(&server, &receiver, &path, json!({ "note": "nee" })).await;
        assert_eq!(status, 200);
    }
    let year = this_year();
    let (_, east) = get(&server, &receiver, &format!("/api/monitor?year={year}")).await;
    assert_eq!(east["handovers"]["columnTotals"], json!([5, 0]), "{east}");
    let (_, west) = get(&server, &sender, &format!("/api/monitor?year={year}")).await;
    assert_eq!(west["handovers"]["columnTotals"], json!([0, 5]), "{west}");
    let response = reqwest::Client::new()
        .get(server.http(&format!("/api/monitor.csv?year={year}")))
        .bearer_auth(&receiver.token)
        .send()
        .await
        .unwrap();
    let csv = response.text().await.unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",handovers_in,handovers_out"),
        "{csv}"
    );
    assert!(csv.lines().last().unwrap().ends_with(",5,0"), "{csv}");
}

async fn the_team_learns_who_wrote_with_which_actor(db: Db) {
    let server = TestServer::start(db).await;
    let municipality = OrganisationKind::Municipality;
    let worker = server
        .user("Gemeente Naam", municipality, "nina", Role::FieldWorker)
        .await;
    let director = server
        .user("Gemeente Naam", municipality, "niels", Role::CaseDirector)
        .await;
    let outsider = server
        .user("Gemeente Vreemd", municipality, "vic", Role::CaseDirector)
        .await;
    let id = server.create_case(&director, "Familie Schrijver").await;
    // The worker changes the address (no visit that would name her).
    let mut tablet = Tablet::new(&worker.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &worker.token).await;
    tablet.adopt(id, socket.fetch(id).await.unwrap());
    let doc = tablet.doc(id);
    case::set_address(doc, "Dorpsstraat 2", case::AddressStatus::Known).unwrap();
    doc.commit();
    socket.sync(id, doc).await.unwrap();

    let path = format!("/api/cases/{id}/writers");
    let unknown = "00112233445566778899aabbccddeeff";
    // vic exists, but never wrote to this case: asking about her names nobody.
    let ask = json!({ "actors": [
        worker.principal.actor_id,
        director.principal.actor_id,
        unknown,
        outsider.principal.actor_id,
    ] });
    let (status, writers) = post(&server, &director, &path, ask.clone()).await;
    assert_eq!(status, 200, "{writers}");
    assert_eq!(
        writers,
        json!([
            { "actor": worker.principal.actor_id, "handle": "nina", "organisation": "Gemeente Naam" },
            { "actor": director.principal.actor_id, "handle": "niels", "organisation": "Gemeente Naam" },
        ])
    );
    assert_eq!(post(&server, &outsider, &path, ask).await.0, 404);
    let (status, error) = post(&server, &director, &path, json!({ "actors": ["'; DROP"] })).await;
    assert_eq!(status, 400, "{error}");
}

on_both_databases!(
    a_handover_is_refused_then_accepted_and_moves_access,
    a_partner_registration_awaits_direction,
    links_between_households_have_a_basis_and_are_for_case_directors,
    the_team_learns_who_wrote_with_which_actor,
    the_monitor_counts_handovers_in_and_out,
);
