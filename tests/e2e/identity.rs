//! Passkeys end to end with a software authenticator against the running
//! server: enrollment by invite, sign-in by name and without, sessions,
//! devices and their revocation, and what is refused.

use std::time::Duration;

use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use veldwerk_core::DocumentId;
use veldwerk_core::identity::{OrganisationKind, Role};
use veldwerk_server::Clock;
use veldwerk_server::admin;

use crate::on_both_databases;
use crate::support::browser::{Browser, sql};
use crate::support::client::SocketEnd;
use crate::support::{Db, Socket, TestServer};

const HOUR_MS: i64 = 3_600_000;

async fn invite(server: &TestServer, org: &str, kind: OrganisationKind, role: Role) -> String {
    server.org(org, kind).await;
    let org_id = server.store.organisation_id(org).await.unwrap();
    admin::create_invite(&server.store, &server.origin(), org_id, role, None, 24)
        .await
        .unwrap()
        .0
}

async fn passkeys_enroll_and_sign_in(db: Db) {
    let server = TestServer::start(db).await;
    let url = invite(
        &server,
        "Jeugdzorg Oost",
        OrganisationKind::YouthCare,
        Role::FieldWorker,
    )
    .await;
    assert!(url.starts_with(&format!("{}/enroll#invite=", server.origin())));

    let mut browser = Browser::new(&server);
    let (mut passkey, status, me) = browser.enroll(&url, "sanne", "tablet-1").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["handle"].as_str(), me["role"].as_str()),
        (Some("sanne"), Some("field_worker"))
    );
    assert_eq!(me["organisation"], "Jeugdzorg Oost");
    assert_eq!(me["actorId"].as_str().unwrap().len(), 32);
    let typed: veldwerk_core::api::identity::Me =
        serde_json::from_value(me.clone()).expect("who signed in reads as core::api's type");
    assert_eq!(typed.role(), Some(Role::FieldWorker));
    let cookie = browser.cookie.clone().expect("a session cookie");
    let (status, again) = browser.get("/api/me").await;
    assert_eq!((status.as_u16(), &again["handle"]), (200, &json!("sanne")));

    // The session cookie opens the sync WebSocket too.
    let mut request = server.ws("").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("cookie upgrade");
    drop(socket);

    // Sign out: the cookie is cleared and no longer accepted.
    let (status, _) = browser.post("/api/auth/logout", json!({})).await;
    assert_eq!(status, 200);
    assert!(browser.cookie.is_none());
    browser.cookie = Some(cookie);
    assert_eq!(browser.get("/api/me").await.0, 401);

    // Sign in by name, and without one (a discoverable credential).
    let mut browser = Browser::new(&server);
    let (status, me) = browser.sign_in(&mut passkey, "sanne").await;
    assert_eq!(
        (status.as_u16(), &me["handle"]),
        (200, &json!("sanne")),
        "{me}"
    );
    let mut browser = Browser::new(&server);
    let (status, me) = browser.sign_in_discoverable(&mut passkey).await;
    assert_eq!(
        (status.as_u16(), &me["device"]),
        (200, &json!("tablet-1")),
        "{me}"
    );
    assert_eq!(browser.get("/api/me").await.0, 200);

    // A second device of the same person, added while signed in.
    let (status, start) = browser
        .post(
            "/api/auth/register/start",
            json!({ "deviceName": "tablet-2" }),
        )
        .await;
    assert_eq!(status, 200, "{start}");
    let mut second = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
    let origin = browser.origin.clone();
    let (status, me, ..) = browser.register(&mut second, &start, &origin).await;
    assert_eq!(
        (status.as_u16(), &me["device"]),
        (200, &json!("tablet-2")),
        "{me}"
    );
    let (_, devices) = browser.get("/api/devices").await;
    let names: Vec<&str> = devices
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tablet-1", "tablet-2"]);
}

async fn invites_challenges_and_origins_are_checked(db: Db) {
    let server = TestServer::start(db).await;
    let url = invite(
        &server,
        "Gemeente West",
        OrganisationKind::Municipality,
        Role::CaseDirector,
    )
    .await;
    let mut browser = Browser::new(&server);
    let (mut passkey, status, _) = browser.enroll(&url, "wouter", "tablet-1").await;
    assert_eq!(status, 200);

    // A used invite.
    let secret = url.split_once("#invite=").unwrap().1;
    let start = json!({ "invite": secret, "handle": "tweede", "deviceName": "t" });
    let (status, body) = Browser::new(&server)
        .post("/api/auth/register/start", start)
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    assert!(
        body["message"].as_str().unwrap().contains("already used"),
        "{body}"
    );

    // An expired invite.
    let url = invite(
        &server,
        "Gemeente West",
        OrganisationKind::Municipality,
        Role::FieldWorker,
    )
    .await;
    sql(
        &server.db.url,
        "UPDATE invites SET expires_at = 1 WHERE used_at IS NULL",
    )
    .await;
    let secret = url.split_once("#invite=").unwrap().1;
    let start = json!({ "invite": secret, "handle": "laat", "deviceName": "t" });
    let (status, body) = Browser::new(&server)
        .post("/api/auth/register/start", start)
        .await;
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    // A passkey made for another origin is refused.
    let url = invite(
        &server,
        "Gemeente West",
        OrganisationKind::Municipality,
        Role::FieldWorker,
    )
    .await;
    let secret = url.split_once("#invite=").unwrap().1;
    let mut browser = Browser::new(&server);
    let (_, start) = browser
        .post(
            "/api/auth/register/start",
            json!({ "invite": secret, "handle": "nep", "deviceName": "t" }),
        )
        .await;
    let mut soft = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
    let (status, body, ..) = browser
        .register(&mut soft, &start, "http://localhost:1")
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        server.store.user_count().await.unwrap(),
        1,
        "nobody was enrolled"
    );

    // A sign-in answer is good once: replaying it is refused.
    let mut browser = Browser::new(&server);
    let (_, start) = browser
        .post("/api/auth/login/start", json!({ "handle": "wouter" }))
        .await;
    let credential = browser.assert(&mut passkey, &start, false);
    let finish = json!({ "challengeId": start["challengeId"], "credential": credential });
    assert_eq!(
        browser
            .post("/api/auth/login/finish", finish.clone())
            .await
            .0,
        200
    );
    let (status, body) = Browser::new(&server)
        .post("/api/auth/login/finish", finish)
        .await;
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("already used"),
        "{body}"
    );
    // The same answer against a fresh challenge fails its signature check.
    let (_, fresh) = browser
        .post("/api/auth/login/start", json!({ "handle": "wouter" }))
        .await;
    let replay = json!({ "challengeId": fresh["challengeId"], "credential": credential });
    assert_eq!(
        Browser::new(&server)
            .post("/api/auth/login/finish", replay)
            .await
            .0,
        401
    );
}

async fn sessions_expire_and_end_everywhere(db: Db) {
    let server = TestServer::start(db).await;
    let url = invite(
        &server,
        "Politie Zuid",
        OrganisationKind::Police,
        Role::FieldWorker,
    )
    .await;
    let mut first = Browser::new(&server);
    let (mut passkey, ..) = first.enroll(&url, "pim", "tablet-1").await;
    let mut second = Browser::new(&server);
    assert_eq!(second.sign_in(&mut passkey, "pim").await.0, 200);

    // The second browser syncs over its session.
    let mut socket = Socket::cookie(&server.ws(""), second.cookie.as_deref().unwrap()).await;

    // Logout everywhere ends the other browser's session too, and its connection.
    let (status, body) = first
        .post("/api/auth/logout", json!({ "everywhere": true }))
        .await;
    assert_eq!((status.as_u16(), &body["sessionsEnded"]), (200, &json!(2)));
    assert_eq!(second.get("/api/me").await.0, 401);
    assert!(socket.next_error().await.unwrap().starts_with("signed-out"));
    match socket.next().await {
        Err(SocketEnd::Closed(Some(frame))) => assert_eq!(u16::from(frame.code), 4401),
        other => panic!("expected close 4401, got {other:?}"),
    }

    // An idle session expires.
    let mut third = Browser::new(&server);
    assert_eq!(third.sign_in(&mut passkey, "pim").await.0, 200);
    sql(
        &server.db.url,
        "UPDATE sessions SET last_seen_at = last_seen_at - 3600001",
    )
    .await;
    let (status, body) = third.get("/api/me").await;
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
}

/// A tablet's socket stays open across the day; when its session reaches the
/// end of its life (twelve hours by default), the socket is closed as signed
/// out, as it is at sign-out, and the session no longer opens one.
async fn a_live_socket_ends_with_its_session(db: Db) {
    let clock = Clock::default();
    let server = TestServer::start_with(db, |config| {
        config.clock = clock.clone();
        config.ping_interval = Duration::from_millis(100);
    })
    .await;
    let url = invite(
        &server,
        "Wijkteam Oost",
        OrganisationKind::SocialWork,
        Role::FieldWorker,
    )
    .await;
    let mut browser = Browser::new(&server);
    browser.enroll(&url, "iris", "tablet-1").await;
    let cookie = browser.cookie.clone().expect("a session cookie");
    let mut socket = Socket::cookie(&server.ws(""), &cookie).await;

    // Eleven hours on, the session is alive and so is the socket: several
    // pings later it still answers a request.
    clock.advance(11 * HOUR_MS);
    // Reading, so that the client answers the pings.
    let quiet = tokio::time::timeout(Duration::from_millis(500), socket.next()).await;
    assert!(quiet.is_err(), "nothing is said meanwhile: {quiet:?}");
    let unknown = DocumentId::from_random_bytes(*uuid::Uuid::new_v4().as_bytes());
    let answer = socket.fetch(unknown).await;
    assert!(
        matches!(answer, Err(SocketEnd::Unavailable(_))),
        "the socket stays open while the session lives: {answer:?}"
    );
    // Past twelve hours it is closed, with the reason first.
    clock.advance(HOUR_MS + 1);
    let error = socket
        .next_error()
        .await
        .expect("an error before the close");
    assert!(error.contains("expired"), "{error}");
    match socket.next().await {
        Err(SocketEnd::Closed(Some(frame))) => assert_eq!(u16::from(frame.code), 4401),
        other => panic!("expected close 4401, got {other:?}"),
    }
    assert_eq!(browser.get("/api/me").await.0, 401);
}

async fn revoked_devices_are_refused_and_told_to_wipe(db: Db) {
    let server = TestServer::start(db).await;
    let org = "Wijkteam Noord";
    let worker = server
        .user(org, OrganisationKind::SocialWork, "rik", Role::FieldWorker)
        .await;
    let other_tablet = server.device("rik", "tablet-2").await;
    let supervisor = server
        .user(org, OrganisationKind::SocialWork, "sara", Role::Supervisor)
        .await;
    let stranger = server
        .user(
            "Woonbron",
            OrganisationKind::Housing,
            "stan",
            Role::Supervisor,
        )
        .await;
    let case_id = server.create_case(&worker, "Familie Ingetrokken").await;

    let mut socket = Socket::bearer(&server.ws(""), &worker.token).await;
    socket
        .fetch(case_id)
        .await
        .expect("syncs before revocation");

    let revoke = |token: String, device: i64| {
        let url = server.http(&format!("/api/devices/{device}/revoke"));
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Another organisation's supervisor may not; a colleague supervisor may.
    assert_eq!(
        revoke(stranger.token.clone(), worker.principal.device_id).await,
        404
    );
    assert_eq!(
        revoke(supervisor.token.clone(), worker.principal.device_id).await,
        200
    );

    // The open connection is told to wipe and closed.
    let error = socket.next_error().await.expect("told before the close");
    assert!(error.starts_with("device-revoked"), "{error}");
    match socket.next().await {
        Err(SocketEnd::Closed(Some(frame))) => assert_eq!(u16::from(frame.code), 4403),
        other => panic!("expected close 4403, got {other:?}"),
    }
    // A new connection is let in only to hear the same.
    let mut socket = Socket::raw(&server.ws(""), &worker.token).await;
    assert!(
        socket
            .next_error()
            .await
            .unwrap()
            .starts_with("device-revoked")
    );
    // The API says so too, with a code the app acts on.
    let response = reqwest::Client::new()
        .get(server.http("/api/me"))
        .bearer_auth(&worker.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "device_revoked");

    // The person's other device still works, and they may revoke it themselves.
    let mut socket = Socket::bearer(&server.ws(""), &other_tablet.token).await;
    socket.fetch(case_id).await.expect("the other device syncs");
    assert_eq!(
        revoke(other_tablet.token.clone(), other_tablet.principal.device_id).await,
        200
    );
}

/// The tablet signs out with a bare POST, as browsers send it: no body, no
/// content type. The session must end; a malformed body changes nothing.
async fn signing_out_with_no_body_ends_the_session(db: Db) {
    let server = TestServer::start(db).await;
    let url = invite(
        &server,
        "Jeugdzorg Oost",
        OrganisationKind::YouthCare,
        Role::FieldWorker,
    )
    .await;
    let mut browser = Browser::new(&server);
    let (_passkey, status, me) = browser.enroll(&url, "sanne", "tablet-1").await;
    assert_eq!(status, 200, "{me}");
    let cookie = browser.cookie.clone().expect("a session cookie");
    let sign_out = |body: Option<&'static str>| {
        let request = reqwest::Client::new()
            .post(server.http("/api/auth/logout"))
            .header("origin", server.origin())
            .header("cookie", &cookie);
        match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(body),
            None => request,
        }
        .send()
    };

    let refused = sign_out(Some(r#"{"everywhere": "ja"}"#)).await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(
        browser.get("/api/me").await.0,
        200,
        "a bad request ends nothing"
    );

    let answer = sign_out(None).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        answer
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("Max-Age=0")),
        "the cookie is cleared"
    );
    assert_eq!(
        answer.json::<serde_json::Value>().await.unwrap()["sessionsEnded"],
        1
    );
    assert_eq!(browser.get("/api/me").await.0, 401, "the session is gone");
    let mut request = server.ws("").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    assert!(
        tokio_tungstenite::connect_async(request).await.is_err(),
        "the sync socket no longer opens with it"
    );
}

/// A sync ticket lasts a minute by the server's one clock, which issues it
/// and redeems it alike: moved past the minute, the ticket is refused.
async fn a_sync_ticket_expires_by_the_servers_clock(db: Db) {
    let clock = veldwerk_server::Clock::default();
    let server = TestServer::start_with(db, |config| config.clock = clock.clone()).await;
    let worker = server
        .user(
            "Gemeente Klok",
            OrganisationKind::Municipality,
            "kees",
            Role::FieldWorker,
        )
        .await;
    let ticket = server.ticket(&worker).await;
    clock.advance(veldwerk_server::auth::TICKET_LIFETIME_MS + 1_000);
    match tokio_tungstenite::connect_async(server.ws(&format!("?ticket={ticket}"))).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 401);
        }
        Err(other) => panic!("refused otherwise: {other}"),
        Ok(_) => panic!("a ticket past its minute opened the sync socket"),
    }
    // A fresh one works.
    let ticket = server.ticket(&worker).await;
    Socket::url(&server.ws(&format!("?ticket={ticket}"))).await;
}

on_both_databases!(
    a_live_socket_ends_with_its_session,
    a_sync_ticket_expires_by_the_servers_clock,
    signing_out_with_no_body_ends_the_session,
    passkeys_enroll_and_sign_in,
    invites_challenges_and_origins_are_checked,
    sessions_expire_and_end_everywhere,
    revoked_devices_are_refused_and_told_to_wipe,
);

/// The first start on an empty database prints a one-time invite for the
/// first admin; it enrolls an admin, and later starts print none.
#[tokio::test]
async fn the_first_start_prints_a_bootstrap_invite_for_the_first_admin() {
    use tokio::io::AsyncBufReadExt;

    async fn start(db: &Db) -> (tokio::process::Child, Vec<String>, String) {
        // Returns the process, what it printed on stdout, and its address.
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_veldwerk"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("VELDWERK_DATABASE_URL", &db.url)
            .env("VELDWERK_LOG_FORMAT", "json")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let address = loop {
            let line = tokio::time::timeout(std::time::Duration::from_secs(60), stderr.next_line())
                .await
                .unwrap()
                .unwrap()
                .expect("the server exited before listening");
            if line.contains("veldwerk is listening") {
                let line: serde_json::Value = serde_json::from_str(&line).unwrap();
                break line["fields"]["address"].as_str().unwrap().to_owned();
            }
        };
        // Everything printed before listening is on stdout by now.
        let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        while let Ok(Ok(Some(line))) =
            tokio::time::timeout(std::time::Duration::from_millis(300), stdout.next_line()).await
        {
            printed.push(line);
        }
        (child, printed, address)
    }

    let db = Db::sqlite();
    let (mut child, printed, _) = start(&db).await;
    let url = printed
        .iter()
        .find(|l| l.contains("/enroll#invite="))
        .expect("a bootstrap invite")
        .clone();
    child.kill().await.unwrap();
    // Started again before anyone enrolled: another link.
    let (mut child, printed, _) = start(&db).await;
    let second = printed
        .iter()
        .find(|l| l.contains("/enroll#invite="))
        .expect("a second bootstrap invite")
        .clone();
    child.kill().await.unwrap();

    // Enroll through it against a server on the same database.
    let server = TestServer::start(Db::at(&db.url)).await;
    let secret = url.split_once("#invite=").unwrap().1;
    let local = format!("{}/enroll#invite={secret}", server.origin());
    let mut browser = Browser::new(&server);
    let (_, status, me) = browser.enroll(&local, "eerste", "laptop").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["role"].as_str(), me["organisation"].as_str()),
        (Some("admin"), Some("Beheer"))
    );
    // Now that an admin exists, the other first-admin link opens nothing.
    let secret = second.split_once("#invite=").unwrap().1;
    let (status, refused) = Browser::new(&server)
        .post(
            "/api/auth/register/start",
            json!({ "invite": secret, "handle": "indringer", "deviceName": "laptop" }),
        )
        .await;
    assert_eq!(status, 401, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("no longer valid")),
        "{refused}"
    );
    drop(server);

    // With someone enrolled, no new bootstrap invite.
    let (mut child, printed, _) = start(&db).await;
    assert!(printed.iter().all(|l| !l.contains("invite")), "{printed:?}");
    child.kill().await.unwrap();
}
