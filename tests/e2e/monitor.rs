//! The monitor: per quarter, for the case director's own municipality, counts
//! with small cells suppressed — primary and secondary — in JSON and CSV; and
//! only for case directors of a municipality.

use veldwerk_core::case::{self, NewVisit, Theme, VisitKind, VisitStatus};
use veldwerk_core::identity::{OrganisationKind, Role};

use crate::on_both_databases;
use crate::support::{Db, Socket, Tablet, TestServer, TestUser};

const FEBRUARY_2026: i64 = 1_769_904_000_000;
const MAY_2026: i64 = 1_777_593_600_000;

async fn record_visits(
    server: &TestServer,
    worker: &TestUser,
    label: &str,
    visits: &[(i64, &[Theme])],
) {
    let case_id = server.create_case(worker, label).await;
    let mut tablet = Tablet::new(&worker.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &worker.token).await;
    tablet.adopt(case_id, socket.fetch(case_id).await.unwrap());
    let doc = tablet.doc(case_id);
    for (n, (at_ms, themes)) in visits.iter().enumerate() {
        let visit = NewVisit {
            id: format!("v{n}"),
            at_ms: *at_ms,
            author: worker.principal.handle.clone(),
            organisation: worker.principal.organisation.clone(),
            kind: VisitKind::Home,
            present: vec![],
            observations: themes.iter().map(|t| (*t, "tekst".to_owned())).collect(),
            status: VisitStatus::Submitted,
        };
        case::add_visit(doc, &visit).unwrap();
    }
    doc.commit();
    socket.sync(case_id, doc).await.unwrap();
}

async fn get(server: &TestServer, user: &TestUser, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(server.http(path))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap()
}

async fn the_monitor_suppresses_small_counts(db: Db) {
    let server = TestServer::start(db).await;
    let org = "Gemeente Monitor";
    let municipality = OrganisationKind::Municipality;
    let worker = server
        .user(org, municipality, "wim", Role::FieldWorker)
        .await;
    let director = server
        .user(org, municipality, "dora", Role::CaseDirector)
        .await;
    let elsewhere = server
        .user("Gemeente Elders", municipality, "eva", Role::CaseDirector)
        .await;

    // Q1: 9 visits in two households (housing 9×, health 3×); Q2: 6 visits in one (safety).
    let q1_a: Vec<(i64, &[Theme])> = (0..7)
        .map(|n| {
            let themes: &[Theme] = if n < 3 {
                &[Theme::Housing, Theme::Health]
            } else {
                &[Theme::Housing]
            };
            (FEBRUARY_2026 + n, themes)
        })
        .chain((0..6).map(|n| (MAY_2026 + n, &[Theme::Safety][..])))
        .collect();
    record_visits(&server, &worker, "Familie A", &q1_a).await;
    record_visits(
        &server,
        &worker,
        "Familie B",
        &[
            (FEBRUARY_2026, &[Theme::Housing]),
            (FEBRUARY_2026 + 9, &[Theme::Housing]),
        ],
    )
    .await;

    let response = get(&server, &director, "/api/monitor?year=2026").await;
    assert_eq!(response.status(), 200);
    let m: serde_json::Value = response.json().await.unwrap();
    serde_json::from_value::<veldwerk_core::api::oversight::Monitor>(m.clone())
        .expect("the monitor reads as core::api's type");
    assert_eq!(m["municipality"], org);
    assert_eq!(m["quarters"][0], "2026-Q1");
    // Two and one households: under 5, so hidden; empty quarters show 0.
    assert_eq!(m["households"], serde_json::json!([null, null, 0, 0]));
    // Visits 9, 6; no returned visits; nothing small, nothing hidden.
    assert_eq!(
        m["activity"]["cells"],
        serde_json::json!([[9, 0], [6, 0], [0, 0], [0, 0]])
    );
    assert_eq!(m["activity"]["columnTotals"], serde_json::json!([15, 0]));

    let themes: Vec<&str> = m["themes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let col = |theme: &str| themes.iter().position(|t| *t == theme).unwrap();
    let cells = &m["observations"]["cells"];
    // Health 3 in Q1: hidden (primary). Housing 9 in Q1 would give it away from
    // Q1's total (9 + 3 = 12): hidden too (secondary), and so are the column
    // totals that would do the same.
    assert!(cells[0][col("health")].is_null());
    assert!(
        cells[0][col("housing")].is_null(),
        "secondary suppression: {m}"
    );
    assert_eq!(m["observations"]["rowTotals"][0], 12);
    assert!(m["observations"]["columnTotals"][col("health")].is_null());
    assert!(m["observations"]["columnTotals"][col("housing")].is_null());
    assert_eq!(cells[1][col("safety")], 6);

    // CSV: the same table, suppressed cells as <5.
    let response = get(&server, &director, "/api/monitor.csv?year=2026").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("quarter,households,visits,returned_visits,observations_housing")
    );
    assert!(
        lines.next().unwrap().starts_with("2026-Q1,<5,9,0,<5"),
        "{csv}"
    );

    // Another municipality's director sees their own (empty) figures; others none at all.
    let other: serde_json::Value = get(&server, &elsewhere, "/api/monitor?year=2026")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other["activity"]["columnTotals"], serde_json::json!([0, 0]));
    assert_eq!(
        get(&server, &worker, "/api/monitor?year=2026")
            .await
            .status(),
        403
    );
    assert_eq!(
        get(&server, &director, "/api/monitor?year=1800")
            .await
            .status(),
        400
    );
}

on_both_databases!(the_monitor_suppresses_small_counts);
