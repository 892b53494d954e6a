//! The signal index: two organisations that register the same person are told
//! of each other — only organisation, contact details and date, no identifier,
//! hash or case content; a BSN that fails the eleven test is refused with
//! nothing stored; names match whatever their case, spacing or diacritics;
//! registrations match for two years, stay visible for five, and are then
//! deleted by the retention job (run here with the server's clock moved on).

use std::time::Duration;

use serde_json::{Value, json};
use veldwerk_core::identity::{OrganisationKind, Role};
use veldwerk_server::Clock;

use crate::on_both_databases;
use crate::support::{Db, TestServer, TestUser};

const DAY_MS: i64 = 86_400_000;
const YEAR_MS: i64 = 31_556_952_000;
const BSN: &str = "123456782";
const OTHER_BSN: &str = "111222333";

async fn register(server: &TestServer, user: &TestUser, body: Value) -> (u16, Value) {
    server
        .api(user, reqwest::Method::POST, "/api/signals", Some(body))
        .await
}

async fn signals(server: &TestServer, user: &TestUser) -> Vec<Value> {
    let (status, body) = server
        .api(user, reqwest::Method::GET, "/api/signals", None)
        .await;
    assert_eq!(status, 200, "{body}");
    // The tablet reads the same answer through the shared type.
    serde_json::from_value::<veldwerk_core::api::signals::Signals>(body.clone())
        .expect("the signals read as core::api's type");
    body["signals"].as_array().unwrap().clone()
}

fn bsn(number: &str, phone: &str) -> Value {
    json!({ "bsn": number, "contact": { "phone": phone } })
}

/// Whether `text` holds something that looks like a stored hash: 64 hex digits in a row.
fn has_hash(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .any(|run| run.len() >= 64)
}

async fn organisations_that_register_the_same_person_are_told_of_each_other(db: Db) {
    let server = TestServer::start(db).await;
    let jana = server
        .user(
            "Jeugdzorg Noord",
            OrganisationKind::YouthCare,
            "jana",
            Role::FieldWorker,
        )
        .await;
    let piet = server
        .user(
            "Politie Oost",
            OrganisationKind::Police,
            "piet",
            Role::Supervisor,
        )
        .await;
    let sara = server
        .user(
            "School Zuid",
            OrganisationKind::School,
            "sara",
            Role::FieldWorker,
        )
        .await;
    let admin = server
        .user(
            "Jeugdzorg Noord",
            OrganisationKind::YouthCare,
            "adam",
            Role::Admin,
        )
        .await;
    // Case content the index must never carry.
    server.create_case(&jana, "Familie Geheim").await;

    let (status, first) = register(
        &server,
        &jana,
        json!({
            "bsn": BSN,
            "reference": "dossier J-17",
            "contact": { "name": "Jana Jansen", "phone": "06-11111111", "email": "jana@jeugdzorg.example" },
        }),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["matched"], false);
    assert_eq!(first["refreshed"], false);
    assert_eq!(first["signal"]["kind"], "bsn");
    assert_eq!(first["signal"]["reference"], "dossier J-17");
    assert_eq!(first["signal"]["active"], true);

    // The police register the same person, written differently.
    let (status, second) = register(&server, &piet, bsn("1234.56.782", "0900-8844")).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["matched"], true);
    assert_eq!(second["newMatches"], 1);
    let seen_by_police = &second["signal"]["matches"];
    assert_eq!(
        seen_by_police.as_array().unwrap().len(),
        1,
        "{seen_by_police}"
    );
    let other = &seen_by_police[0];
    assert_eq!(other["organisation"], "Jeugdzorg Noord");
    assert_eq!(
        other["contact"],
        json!({ "name": "Jana Jansen", "phone": "06-11111111", "email": "jana@jeugdzorg.example" })
    );
    assert!(other["matchedAt"].as_i64().is_some());
    assert_eq!(
        other.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["contact", "matchedAt", "organisation"],
        "a match is organisation, contact and date, nothing else"
    );

    // The youth-care worker is told too, with the police's contact (the name
    // defaults to the registrant's handle).
    let janas = signals(&server, &jana).await;
    assert_eq!(janas.len(), 1);
    let matches = janas[0]["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1);
    assert_eq!(matches[0]["organisation"], "Politie Oost");
    assert_eq!(
        matches[0]["contact"],
        json!({ "name": "piet", "phone": "0900-8844", "email": "" })
    );

    // A school with another child: no match, and nothing of the others.
    let (status, third) = register(&server, &sara, bsn(OTHER_BSN, "010-1234567")).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["matched"], false);
    let saras = signals(&server, &sara).await;
    assert_eq!(saras.len(), 1);
    assert_eq!(saras[0]["matches"], json!([]));

    // Registering again refreshes the organisation's signal; no duplicates.
    let (status, again) = register(&server, &jana, bsn(BSN, "06-22222222")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["refreshed"], true);
    assert_eq!(again["newMatches"], 0);
    assert_eq!(again["matched"], true);
    assert_eq!(signals(&server, &jana).await.len(), 1);
    assert_eq!(server.store.signal_counts().await.unwrap(), (3, 2));
    let piets = signals(&server, &piet).await;
    assert_eq!(piets[0]["matches"][0]["contact"]["phone"], "06-22222222");

    // No identifier, hash, case or case content in anything anyone was shown.
    let shown = [
        first,
        second,
        third,
        again,
        json!(signals(&server, &jana).await),
        json!(piets),
        json!(saras),
    ];
    for body in &shown {
        let text = body.to_string();
        for secret in [
            BSN,
            OTHER_BSN,
            "Familie Geheim",
            "Kerkstraat",
            "caseId",
            "documentId",
        ] {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
        assert!(!has_hash(&text), "a hash in {text}");
    }
    // The police never see the youth-care worker's own reference.
    assert!(!shown[1].to_string().contains("J-17"));
    assert!(!json!(piets).to_string().contains("J-17"));

    // Everything is audited, without personal data.
    let audit = server.store.audit_records(0, 1000).await.unwrap();
    for action in ["signal.register", "signal.match", "signal.read"] {
        assert!(audit.iter().any(|r| r.action == action), "{action} audited");
    }
    for record in audit.iter().filter(|r| r.action.starts_with("signal.")) {
        for secret in [BSN, OTHER_BSN, "Jansen", "06-", "jana@"] {
            assert!(!record.detail.contains(secret), "{:?}", record.detail);
        }
    }

    // Only professionals use the index.
    assert_eq!(register(&server, &admin, bsn(BSN, "1")).await.0, 403);
}

async fn names_match_whatever_their_case_spacing_and_diacritics(db: Db) {
    let server = TestServer::start(db).await;
    let anna = server
        .user(
            "Gemeente Noord",
            OrganisationKind::Municipality,
            "anna",
            Role::CaseDirector,
        )
        .await;
    let bert = server
        .user(
            "Woonstichting",
            OrganisationKind::Housing,
            "bert",
            Role::FieldWorker,
        )
        .await;
    let cees = server
        .user(
            "Maatschappelijk Werk",
            OrganisationKind::SocialWork,
            "cees",
            Role::FieldWorker,
        )
        .await;
    let named = |name: &str, date: &str| json!({ "name": name, "birthDate": date, "contact": { "email": "x@example.org" } });

    let (status, first) = register(&server, &anna, named("Jan de Vries", "2012-05-06")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["matched"], false);
    assert_eq!(first["signal"]["kind"], "name");
    let (_, second) = register(&server, &bert, named("  JAN   de VRIËS ", "2012-05-06")).await;
    assert_eq!(second["matched"], true, "{second}");
    assert_eq!(
        second["signal"]["matches"][0]["organisation"],
        "Gemeente Noord"
    );
    // Another birth date is another person; a BSN never matches a name.
    let (_, third) = register(&server, &cees, named("Jan de Vries", "2012-05-07")).await;
    assert_eq!(third["matched"], false, "{third}");
    let (_, fourth) = register(&server, &cees, bsn(BSN, "1")).await;
    assert_eq!(fourth["matched"], false, "{fourth}");
    for body in [first, second, third, fourth] {
        let text = body.to_string();
        assert!(
            !text.contains("Vries") && !text.contains("2012-05"),
            "{text}"
        );
    }
}

async fn invalid_input_is_refused_and_nothing_is_stored(db: Db) {
    let server = TestServer::start(db).await;
    let dana = server
        .user(
            "Jeugdzorg West",
            OrganisationKind::YouthCare,
            "dana",
            Role::FieldWorker,
        )
        .await;
    let refused = [
        (bsn("123456781", "1"), "elfproef"),
        (bsn("12345", "1"), "9 digits"),
        (
            json!({ "bsn": BSN, "contact": {} }),
            "phone number or an e-mail",
        ),
        (
            json!({ "bsn": BSN, "name": "Jan", "birthDate": "2012-05-06", "contact": { "phone": "1" } }),
            "not both",
        ),
        (
            json!({ "name": "Jan", "birthDate": "2012-02-30", "contact": { "phone": "1" } }),
            "real date",
        ),
        (
            json!({ "name": "Jan", "birthDate": "2199-01-01", "contact": { "phone": "1" } }),
            "future",
        ),
        (json!({ "contact": { "phone": "1" } }), "give a BSN"),
        (
            json!({ "bsn": BSN, "contact": { "phone": "1" }, "extra": 1 }),
            "unknown field",
        ),
    ];
    for (body, reason) in refused {
        let (status, error) = register(&server, &dana, body.clone()).await;
        assert_eq!(status, 400, "{body} → {error}");
        assert_eq!(error["code"], "bad_request");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(reason),
            "{body}: {message:?} lacks {reason:?}"
        );
        assert!(!message.contains("123456781"), "the number is not echoed");
    }
    assert_eq!(server.store.signal_counts().await.unwrap(), (0, 0));
    assert!(
        server
            .store
            .audit_records(0, 1000)
            .await
            .unwrap()
            .iter()
            .all(|r| !r.action.starts_with("signal.")),
        "nothing happened, so nothing is audited"
    );
}

/// Waits until the retention job has left `expected` (signals, matches).
async fn wait_for_counts(server: &TestServer, expected: (i64, i64)) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let counts = server.store.signal_counts().await.unwrap();
        if counts == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "signals and matches stayed {counts:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn signals_match_two_years_show_five_and_are_then_deleted(db: Db) {
    let clock = Clock::default();
    let interval = Duration::from_millis(50);
    let server = TestServer::start_with(db, |config| {
        config.clock = clock.clone();
        config.signal_retention_interval = interval;
    })
    .await;
    let mut people = Vec::new();
    for (organisation, handle) in [
        ("Organisatie A", "aad"),
        ("Organisatie B", "bea"),
        ("Organisatie C", "cor"),
        ("Organisatie D", "dik"),
    ] {
        let kind = OrganisationKind::YouthCare;
        people.push(
            server
                .user(organisation, kind, handle, Role::FieldWorker)
                .await,
        );
    }
    let [a, b, c, d] = &people[..] else {
        unreachable!()
    };

    // Year 0: A registers one child; C and D another, and match.
    register(&server, a, bsn(BSN, "1")).await;
    register(&server, c, bsn(OTHER_BSN, "3")).await;
    let (_, matched) = register(&server, d, bsn(OTHER_BSN, "4")).await;
    assert_eq!(matched["matched"], true);

    // Two years and a day on: A's signal no longer matches, but A still sees it,
    // and C still sees its match with D.
    clock.advance(2 * YEAR_MS + DAY_MS);
    let (status, late) = register(&server, b, bsn(BSN, "2")).await;
    assert_eq!(status, 200, "{late}");
    assert_eq!(late["matched"], false, "an inactive signal makes no match");
    let as_seen = signals(&server, a).await;
    assert_eq!(as_seen.len(), 1);
    assert_eq!(as_seen[0]["active"], false);
    assert_eq!(as_seen[0]["matches"], json!([]));
    let cs_seen = signals(&server, c).await;
    assert_eq!(cs_seen[0]["active"], false);
    assert_eq!(cs_seen[0]["matches"][0]["organisation"], "Organisatie D");

    // A day short of five years: the job runs (several intervals pass) and
    // deletes nothing. A negative can only be waited for.
    clock.advance(3 * YEAR_MS - 2 * DAY_MS);
    tokio::time::sleep(interval * 6).await;
    assert_eq!(server.store.signal_counts().await.unwrap(), (4, 2));
    assert_eq!(signals(&server, c).await.len(), 1);

    // Five years and a day: the job deletes A's, C's and D's signals and the
    // match; B's, two years younger, stays.
    clock.advance(2 * DAY_MS);
    wait_for_counts(&server, (1, 0)).await;
    assert_eq!(signals(&server, a).await, Vec::<Value>::new());
    assert_eq!(signals(&server, c).await, Vec::<Value>::new());
    let bs_seen = signals(&server, b).await;
    assert_eq!(bs_seen.len(), 1);
    assert_eq!(
        bs_seen[0]["active"], false,
        "active two years, visible five"
    );
    let audit = server.store.audit_records(0, 1000).await.unwrap();
    let retention: Vec<_> = audit
        .iter()
        .filter(|r| r.action == "signal.retention")
        .collect();
    assert_eq!(retention.len(), 1, "{retention:?}");
    assert_eq!(
        retention[0].detail,
        "deleted 3 signals and 2 matches past 5 years"
    );
    assert_eq!(retention[0].via, "server");
}

/// The organisation that registered a signal withdraws it: the match is gone
/// for the other side at once, the log says who withdrew it, and nobody else
/// can. The ids the API shows say nothing about the index's size or order.
async fn a_signal_is_withdrawn_by_its_organisation_only(db: Db) {
    let server = TestServer::start(db).await;
    let jana = server
        .user(
            "Jeugdzorg Noord",
            OrganisationKind::YouthCare,
            "jana",
            Role::FieldWorker,
        )
        .await;
    let piet = server
        .user(
            "Politie Oost",
            OrganisationKind::Police,
            "piet",
            Role::FieldWorker,
        )
        .await;
    let (_, first) = register(&server, &jana, bsn(BSN, "06-1")).await;
    let (_, other) = register(&server, &jana, bsn(OTHER_BSN, "06-1")).await;
    let (_, second) = register(&server, &piet, bsn(BSN, "0900-2")).await;
    assert_eq!(second["matched"], true);

    let ids: Vec<&str> = [&first, &other, &second]
        .iter()
        .map(|r| r["signal"]["id"].as_str().expect("ids are strings"))
        .collect();
    for id in &ids {
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "an opaque id, not a counter: {id}"
        );
    }
    assert_ne!(ids[0], ids[1]);

    // The police cannot withdraw the youth-care signal: it does not exist for them.
    let withdraw = |id: &str| format!("/api/signals/{id}");
    let (status, body) = server
        .api(&piet, reqwest::Method::DELETE, &withdraw(ids[0]), None)
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(signals(&server, &jana).await.len(), 2);

    // Youth care withdraws it: the police's signal no longer shows the match.
    let (status, body) = server
        .api(&jana, reqwest::Method::DELETE, &withdraw(ids[0]), None)
        .await;
    assert_eq!(status, 204, "{body}");
    let left = signals(&server, &jana).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], ids[1]);
    let polices = signals(&server, &piet).await;
    assert_eq!(polices[0]["matches"], json!([]), "{polices:?}");
    assert_eq!(server.store.signal_counts().await.unwrap(), (2, 0));
    // Withdrawn once; the second time there is nothing to withdraw.
    let (status, _) = server
        .api(&jana, reqwest::Method::DELETE, &withdraw(ids[0]), None)
        .await;
    assert_eq!(status, 404);

    let audit = server.store.audit_records(0, 1000).await.unwrap();
    let withdrawn: Vec<_> = audit
        .iter()
        .filter(|r| r.action == "signal.withdraw")
        .collect();
    assert_eq!(withdrawn.len(), 1, "{withdrawn:?}");
    assert_eq!(
        withdrawn[0].user_id,
        Some(jana.principal.user_id),
        "{withdrawn:?}"
    );
}

on_both_databases!(
    a_signal_is_withdrawn_by_its_organisation_only,
    organisations_that_register_the_same_person_are_told_of_each_other,
    names_match_whatever_their_case_spacing_and_diacritics,
    invalid_input_is_refused_and_nothing_is_stored,
    signals_match_two_years_show_five_and_are_then_deleted,
);

/// The key next to a SQLite database is made private on first start, and a
/// server given another key refuses to start rather than never matching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_another_signal_key_refuses_to_start() {
    use std::os::unix::fs::PermissionsExt;

    let server = TestServer::start(Db::sqlite()).await;
    let (_, db) = server.stop().await;
    let database = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://"));
    let key = database.with_file_name("signal.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key is the owner's only");
    assert_eq!(std::fs::read_to_string(&key).unwrap().trim().len(), 64);

    std::fs::write(&key, "ab".repeat(32)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = veldwerk_server::serve(
        listener,
        crate::support::server::config(&db.url),
        std::future::pending(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(refused.contains("key is not the one"), "{refused}");
    assert!(!refused.contains(&"ab".repeat(32)), "the key is not shown");
}

/// A key file named by `--signal-key-file` that does not exist yet is made,
/// private, and used from then on: an operator need not make it by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_at_a_new_path_is_made() {
    use std::os::unix::fs::PermissionsExt;

    let db = Db::sqlite();
    let database = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://"));
    let key = database.with_file_name("keys").join("veldwerk.key");
    let (store, _) = veldwerk_server::open_store(&db.url, Some(&key))
        .await
        .unwrap();
    store.close().await;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key is the owner's only");
    let made = std::fs::read_to_string(&key).unwrap();
    assert_eq!(made.trim().len(), 64);
    assert!(!database.with_file_name("signal.key").exists());

    // The same file is used again, and the database accepts it.
    let (store, _) = veldwerk_server::open_store(&db.url, Some(&key))
        .await
        .unwrap();
    store.close().await;
    assert_eq!(std::fs::read_to_string(&key).unwrap(), made);
}
