//! Need to know: a person of an organisation not on a case's team cannot read
//! it, by sync or by API, and is told no more than for a case that does not exist.

use veldwerk_core::DocumentId;
use veldwerk_core::identity::{OrganisationKind, Role};

use crate::on_both_databases;
use crate::support::client::SocketEnd;
use crate::support::{Db, Socket, TestServer, TestUser};

async fn get(server: &TestServer, user: &TestUser, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(server.http(path))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

async fn other_organisations_cannot_read_a_case(db: Db) {
    let server = TestServer::start(db).await;
    let owner = server
        .user(
            "Gemeente Noord",
            OrganisationKind::Municipality,
            "noor",
            Role::CaseDirector,
        )
        .await;
    let teammate = server
        .user(
            "Gemeente Noord",
            OrganisationKind::Municipality,
            "nick",
            Role::FieldWorker,
        )
        .await;
    let outsider = server
        .user(
            "Politie Noord",
            OrganisationKind::Police,
            "piet",
            Role::CaseDirector,
        )
        .await;
    let admin = server
        .user(
            "Gemeente Noord",
            OrganisationKind::Municipality,
            "adm",
            Role::Admin,
        )
        .await;
    let case_id = server.create_case(&owner, "Familie Geheim").await;
    let path = format!("/api/cases/{case_id}");

    // The team reads it.
    let (status, body) = get(&server, &teammate, &path).await;
    assert_eq!(status, 200);
    assert_eq!(body["label"], "Familie Geheim");
    let (_, caseload) = get(&server, &teammate, "/api/cases").await;
    assert_eq!(caseload.as_array().unwrap().len(), 1);
    let mut socket = Socket::bearer(&server.ws(""), &teammate.token).await;
    socket
        .fetch(case_id)
        .await
        .expect("teammate syncs the case");

    // Another organisation: not in the caseload, 404 like a missing case, unavailable by sync.
    let (_, caseload) = get(&server, &outsider, "/api/cases").await;
    assert_eq!(caseload, serde_json::json!([]));
    let (status, forbidden) = get(&server, &outsider, &path).await;
    let missing_path = format!("/api/cases/{}", DocumentId::from_random_bytes([5; 16]));
    let (missing_status, missing) = get(&server, &outsider, &missing_path).await;
    assert_eq!((status, missing_status), (404, 404));
    assert_eq!(
        forbidden, missing,
        "a forbidden case looks exactly like a missing one"
    );
    let mut socket = Socket::bearer(&server.ws(""), &outsider.token).await;
    assert!(matches!(socket.fetch(case_id).await, Err(SocketEnd::Unavailable(d)) if d == case_id));

    // Admins manage people, not case content.
    let (status, _) = get(&server, &admin, &path).await;
    assert_eq!(status, 404);
    let (status, body) = get(&server, &admin, "/api/cases").await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let mut socket = Socket::bearer(&server.ws(""), &admin.token).await;
    assert!(matches!(
        socket.fetch(case_id).await,
        Err(SocketEnd::Unavailable(_))
    ));
}

async fn leaving_the_team_ends_access_at_once(db: Db) {
    let server = TestServer::start(db).await;
    let director = server
        .user(
            "Gemeente Zuid",
            OrganisationKind::Municipality,
            "zoe",
            Role::CaseDirector,
        )
        .await;
    let partner = server
        .user(
            "Jeugdzorg Zuid",
            OrganisationKind::YouthCare,
            "jip",
            Role::FieldWorker,
        )
        .await;
    let case_id = server.create_case(&director, "Familie Wissel").await;
    let team = |change: serde_json::Value| {
        let url = server.http(&format!("/api/cases/{case_id}/team"));
        let token = director.token.clone();
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&change)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    };
    team(serde_json::json!({ "add": "Jeugdzorg Zuid" })).await;
    let mut socket = Socket::bearer(&server.ws(""), &partner.token).await;
    socket.fetch(case_id).await.expect("on the team: readable");

    team(serde_json::json!({ "remove": "Jeugdzorg Zuid" })).await;
    // The open connection is told the document is no longer available.
    loop {
        match socket.next().await.expect("told") {
            veldwerk_core::protocol::Message::DocUnavailable { document_id, .. } => {
                assert_eq!(document_id, case_id.to_string());
                break;
            }
            _ => continue,
        }
    }
    assert!(matches!(
        socket.fetch(case_id).await,
        Err(SocketEnd::Unavailable(_))
    ));
    let (status, _) = get(&server, &partner, &format!("/api/cases/{case_id}")).await;
    assert_eq!(status, 404);
}

on_both_databases!(
    other_organisations_cannot_read_a_case,
    leaving_the_team_ends_access_at_once
);
