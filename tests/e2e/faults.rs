//! The database failing under a running server: PostgreSQL stopped
//! mid-stream and started again, and SQLite on a full disk. While it fails,
//! writes are refused with a clear answer and nothing is acknowledged that
//! was not stored; when it recovers, everything flows again without a
//! restart, and no change a tablet made is lost. The figures are printed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::{AutoCommit, ChangeHash, ReadDoc};
use sqlx::Connection;
use veldwerk_core::DocumentId;
use veldwerk_core::case::{self, NewVisit, Theme, VisitKind, VisitStatus};
use veldwerk_core::client::engine;
use veldwerk_core::identity::{OrganisationKind, Role};
use veldwerk_server::store::PageLimit;

use crate::support::client::PATIENCE;
use crate::support::postgres::OwnPostgres;
use crate::support::{Db, Offer, Socket, Tablet, TestServer, TestUser};

/// How long the test tablets wait before sending refused changes again
/// (the tablet app waits 2.5–5 s; the tests need not).
const RETRY: Duration = Duration::from_millis(100);

/// Records one more visit on the tablet's copy; returns the change's hash.
fn edit(tablet: &mut Tablet, id: DocumentId, n: usize) -> ChangeHash {
    let doc = tablet.doc(id);
    let visit = NewVisit {
        id: format!("visit-{n}"),
        at_ms: 1_790_000_000_000 + n as i64,
        author: "jan".into(),
        organisation: "Gemeente Ergens".into(),
        kind: VisitKind::Home,
        present: vec![],
        observations: vec![(Theme::Health, format!("Bezoek {n}: het gaat goed"))],
        status: VisitStatus::Draft,
    };
    case::add_visit(doc, &visit).expect("a visit");
    doc.commit();
    doc.get_heads()[0]
}

/// What a tablet did and heard while it kept working.
#[derive(Default)]
struct Log {
    made: Vec<ChangeHash>,
    /// Changes the server acknowledged (its heads included them), and when.
    acked: Vec<(ChangeHash, Instant)>,
    /// Each refusal: when, and what the server said.
    refused: Vec<(Instant, String)>,
}

/// A field worker who keeps recording visits, one offer per visit: offered
/// changes the server could not store stay on the tablet and go again with
/// the next offer. Once `stop` is set it offers until all are acknowledged.
async fn keep_working(
    server_ws: String,
    user: TestUser,
    id: DocumentId,
    log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
) -> AutoCommit {
    let mut tablet = Tablet::new(&user.principal.actor_id);
    let mut socket = Socket::bearer(&server_ws, &user.token).await;
    let doc = socket.fetch(id).await.expect("the case");
    tablet.adopt(id, doc);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut n = 0;
    loop {
        assert!(Instant::now() < deadline, "the tablet never got through");
        let stopping = stop.load(Ordering::SeqCst);
        if !stopping {
            let hash = edit(&mut tablet, id, n);
            n += 1;
            log.lock().expect("log").made.push(hash);
        }
        match socket
            .offer(id, tablet.doc(id))
            .await
            .expect("the socket stays open")
        {
            Offer::Acknowledged => {
                let now = Instant::now();
                let mut log = log.lock().expect("log");
                let newly: Vec<ChangeHash> = log
                    .made
                    .iter()
                    .filter(|h| !log.acked.iter().any(|(a, _)| a == *h))
                    .copied()
                    .collect();
                log.acked.extend(newly.into_iter().map(|h| (h, now)));
                if stopping {
                    break;
                }
            }
            Offer::TryAgain {
                message,
                server_heads,
            } => {
                // Refused, so not acknowledged: the server's heads leave it out.
                let head = tablet.doc(id).get_heads();
                assert!(
                    !engine::acknowledged(&head, server_heads.as_deref()),
                    "a refused change was acknowledged"
                );
                log.lock()
                    .expect("log")
                    .refused
                    .push((Instant::now(), message));
                tokio::time::sleep(RETRY).await;
            }
        }
    }
    socket.close().await;
    tablet.docs.remove(&id).expect("the tablet's copy")
}

/// Waits until `done` holds of the log, failing after a while.
async fn until(log: &Mutex<Log>, what: &str, done: impl Fn(&Log) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(&log.lock().expect("log")) {
        assert!(Instant::now() < deadline, "waited in vain for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The changes in `made` that the database does not hold, as a fresh
/// connection to it loads the document.
async fn lost(url: &str, id: DocumentId, made: &[ChangeHash]) -> Vec<ChangeHash> {
    let store = crate::support::server::open_store(url).await;
    let stored = store
        .load_document(&id.to_string())
        .await
        .expect("loading from the database")
        .expect("the case is stored");
    let mut doc = match &stored.snapshot {
        Some(snapshot) => automerge::Automerge::load(snapshot).expect("the snapshot"),
        None => automerge::Automerge::new(),
    };
    doc.load_incremental(&stored.changes.concat())
        .expect("the logged changes");
    store.close().await;
    made.iter()
        .filter(|h| doc.get_change_by_hash(h).is_none())
        .copied()
        .collect()
}

/// An API call's status, `code` and `Retry-After`.
async fn api_answer(
    server: &TestServer,
    user: &TestUser,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, String, Option<String>) {
    let mut request = reqwest::Client::new()
        .request(method, server.http(path))
        .bearer_auth(&user.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    (status, code, retry_after)
}

async fn readyz(server: &TestServer) -> (u16, Duration) {
    let started = Instant::now();
    let status = reqwest::get(server.http("/readyz"))
        .await
        .expect("the server answers")
        .status()
        .as_u16();
    (status, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_stream_and_started_again() {
    let postgres = match OwnPostgres::start() {
        Ok(postgres) => postgres,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let server = TestServer::start(Db::at(&postgres.url("postgres"))).await;
    let (org, kind) = ("Gemeente Ergens", OrganisationKind::Municipality);
    let jan = server.user(org, kind, "jan", Role::FieldWorker).await;
    let piet = server.user(org, kind, "piet", Role::FieldWorker).await;
    let id = server.create_case(&jan, "Familie Storing").await;

    // A colleague has the case open on another tablet throughout.
    let mut colleague = Socket::bearer(&server.ws(""), &piet.token).await;
    let mut colleague_doc = colleague.fetch(id).await.expect("the case");
    // And another tablet of theirs, for a household registered meanwhile
    // (one socket per document here: the test client attends to one at a time).
    let mut registering = Socket::bearer(&server.ws(""), &piet.token).await;

    let log = Arc::new(Mutex::new(Log::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let worker = tokio::spawn(keep_working(
        server.ws(""),
        jan.clone(),
        id,
        log.clone(),
        stop.clone(),
    ));
    until(&log, "changes stored before the outage", |l| {
        l.acked.len() >= 10
    })
    .await;

    // Mid-stream: the tablet is sending a visit every few milliseconds.
    let stopped_at = Instant::now();
    postgres.stop_abruptly();
    let (status, answered_in) = readyz(&server).await;
    assert_eq!(status, 503, "/readyz while PostgreSQL is down");
    let (status, code, retry_after) =
        api_answer(&server, &jan, reqwest::Method::GET, "/api/cases", None).await;
    assert_eq!((status, code.as_str()), (503, "database_unavailable"));
    assert!(retry_after.is_some(), "a 503 says when to try again");
    let (status, code, _) = api_answer(
        &server,
        &jan,
        reqwest::Method::POST,
        "/api/cases",
        Some(serde_json::json!({"label": "Familie Nieuw", "address": "Dorpsstraat 2"})),
    )
    .await;
    assert_eq!((status, code.as_str()), (503, "database_unavailable"));
    until(&log, "refusals during the outage", |l| {
        l.refused.iter().filter(|(at, _)| *at > stopped_at).count() >= 5
    })
    .await;
    let acked_before_return = log.lock().expect("log").acked.len();
    {
        let log = log.lock().expect("log");
        let (_, message) = log.refused.last().expect("a refusal");
        assert!(
            message.starts_with(&format!(
                "try-again: document {id}: the database is unavailable"
            )),
            "the refusal says what happened: {message}"
        );
    }
    // Nothing is acknowledged while the database is away, nor passed on to
    // the colleague, who hears only what is stored.
    let unstored: Vec<ChangeHash> = {
        let log = log.lock().expect("log");
        let acked: Vec<ChangeHash> = log.acked.iter().map(|(h, _)| *h).collect();
        log.made
            .iter()
            .filter(|h| !acked.contains(h))
            .copied()
            .collect()
    };
    let heard = tokio::time::timeout(
        Duration::from_millis(300),
        colleague.hear_until(id, &mut colleague_doc, |doc| {
            unstored.iter().any(|h| doc.get_change_by_hash(h).is_some())
        }),
    )
    .await;
    assert!(heard.is_err(), "the colleague was sent a change not stored");
    assert_eq!(log.lock().expect("log").acked.len(), acked_before_return);

    // Meanwhile the colleague registers a household on the tablet; it waits there.
    let mut piets_tablet = Tablet::new(&piet.principal.actor_id);
    let household = DocumentId::from_random_bytes(*uuid::Uuid::new_v4().as_bytes());
    let new_case = case::NewCase {
        label: "Familie Offline".into(),
        address: "Dorpsstraat 3".into(),
        address_status: case::AddressStatus::Known,
    };
    case::init_case(piets_tablet.doc(household), &new_case).expect("a new case");
    piets_tablet.doc(household).commit();
    let offer = registering
        .offer(household, piets_tablet.doc(household))
        .await
        .expect("offered");
    assert!(matches!(offer, Offer::TryAgain { .. }), "{offer:?}");

    postgres.start_again();
    let returned_at = Instant::now();
    until(&log, "a change accepted after the return", |l| {
        l.acked.iter().any(|(_, at)| *at > returned_at)
    })
    .await;
    let first_accepted = log
        .lock()
        .expect("log")
        .acked
        .iter()
        .map(|(_, at)| *at)
        .filter(|at| *at > returned_at)
        .min()
        .expect("an acknowledgement")
        - returned_at;
    crate::support::server::wait_ready(&server.http("/readyz")).await;
    let (status, _, _) = api_answer(&server, &jan, reqwest::Method::GET, "/api/cases", None).await;
    assert_eq!(status, 200, "the API answers again without a restart");
    let offer = registering
        .offer(household, piets_tablet.doc(household))
        .await
        .expect("offered");
    assert!(matches!(offer, Offer::Acknowledged), "{offer:?}");
    let (_, caseload) = server
        .api(&piet, reqwest::Method::GET, "/api/cases", None)
        .await;
    assert_eq!(
        caseload.as_array().map(Vec::len),
        Some(2),
        "the household registered during the outage is a case now"
    );

    until(&log, "more changes after the return", |l| {
        l.acked.iter().filter(|(_, at)| *at > returned_at).count() >= 20
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    let tablet_doc = worker.await.expect("the tablet");
    let log = std::mem::take(&mut *log.lock().expect("log"));
    let lost = lost(&server.db.url, id, &log.made).await;
    let refused_in_outage = log
        .refused
        .iter()
        .filter(|(at, _)| *at > stopped_at && *at < returned_at)
        .count();
    let after_return = log.acked.iter().filter(|(_, at)| *at > returned_at).count();
    let refused_after = log
        .refused
        .iter()
        .filter(|(at, _)| *at > returned_at)
        .count();
    eprintln!(
        "postgres outage: /readyz answered 503 in {answered_in:?}; {} offers refused during the \
         outage of {:?}; first change accepted {first_accepted:?} after PostgreSQL was back \
         (tablets retry every {RETRY:?}; {refused_after} refused after the return); \
         {after_return} changes acknowledged after the return; \
         {} of {} changes lost",
        refused_in_outage,
        returned_at - stopped_at,
        lost.len(),
        log.made.len(),
    );
    assert!(lost.is_empty(), "changes lost: {lost:?}");
    assert_eq!(
        log.acked.len(),
        log.made.len(),
        "every change was acknowledged in the end"
    );

    // The colleague's tablet, connected all along, receives everything.
    let heads = tablet_doc.clone().get_heads();
    let heard = colleague.hear_until(id, &mut colleague_doc, |doc| {
        heads.iter().all(|h| doc.get_change_by_hash(h).is_some())
    });
    tokio::time::timeout(PATIENCE, heard)
        .await
        .expect("the colleague hears the changes in time")
        .expect("the colleague hears the changes");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_refuses_writes_and_recovers() {
    let limit = PageLimit::default();
    let server =
        TestServer::start_with(Db::sqlite(), |config| config.page_limit = limit.clone()).await;
    let (org, kind) = ("Gemeente Ergens", OrganisationKind::Municipality);
    let jan = server.user(org, kind, "jan", Role::FieldWorker).await;
    let id = server.create_case(&jan, "Familie Vol").await;

    let mut tablet = Tablet::new(&jan.principal.actor_id);
    let mut socket = Socket::bearer(&server.ws(""), &jan.token).await;
    let doc = socket.fetch(id).await.expect("the case");
    tablet.adopt(id, doc);
    let mut made = Vec::new();
    for n in 0..5 {
        made.push(edit(&mut tablet, id, n));
        let offer = socket.offer(id, tablet.doc(id)).await.expect("offered");
        assert!(matches!(offer, Offer::Acknowledged), "{offer:?}");
    }
    let acked_before = made.len();

    // The disk is full: the database may not grow past the pages it has.
    let mut conn = sqlx::SqliteConnection::connect(&server.db.url)
        .await
        .expect("the database file");
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&mut conn)
        .await
        .expect("its size");
    conn.close().await.ok();
    limit.set(Some(u32::try_from(pages).expect("pages")));

    // Visits go on being recorded; the first that needs room is refused, and
    // so is every offer after it (each carries the refused changes too).
    let mut refusal = None;
    for n in made.len()..made.len() + 500 {
        made.push(edit(&mut tablet, id, n));
        match socket.offer(id, tablet.doc(id)).await.expect("offered") {
            Offer::Acknowledged => continue,
            Offer::TryAgain {
                message,
                server_heads,
            } => {
                let heads = tablet.doc(id).get_heads();
                assert!(
                    !engine::acknowledged(&heads, server_heads.as_deref()),
                    "nothing refused is acknowledged"
                );
                refusal = Some(message);
                break;
            }
        }
    }
    let refusal = refusal.expect("the full database refuses a write");
    assert!(
        refusal.starts_with(&format!(
            "try-again: document {id}: the server's storage is full"
        )),
        "the refusal says what happened: {refusal}"
    );
    let acked_while_filling = made.len() - 1;
    let mut refused = 1;
    for _ in 0..3 {
        made.push(edit(&mut tablet, id, made.len()));
        tokio::time::sleep(RETRY).await;
        let offer = socket.offer(id, tablet.doc(id)).await.expect("offered");
        assert!(
            matches!(offer, Offer::TryAgain { .. }),
            "still full: {offer:?}"
        );
        refused += 1;
    }

    // Writes through the API are refused too; reads keep working.
    let (status, code, _) = api_answer(
        &server,
        &jan,
        reqwest::Method::POST,
        "/api/cases",
        Some(serde_json::json!({"label": "Familie Nieuw", "address": "Dorpsstraat 2"})),
    )
    .await;
    assert_eq!((status, code.as_str()), (507, "storage_full"));
    let (status, caseload) = server
        .api(&jan, reqwest::Method::GET, "/api/cases", None)
        .await;
    assert_eq!(status, 200, "the caseload is read as before");
    assert_eq!(caseload.as_array().map(Vec::len), Some(1));
    let (status, _) = readyz(&server).await;
    assert_eq!(
        status, 200,
        "the database answers reads, so the node is ready"
    );

    // Room again, without a restart: the tablet's next offer gets through.
    limit.set(None);
    let returned_at = Instant::now();
    let deadline = returned_at + PATIENCE;
    loop {
        assert!(
            Instant::now() < deadline,
            "never stored after the room came back"
        );
        match socket.offer(id, tablet.doc(id)).await.expect("offered") {
            Offer::Acknowledged => break,
            Offer::TryAgain { .. } => {
                refused += 1;
                tokio::time::sleep(RETRY).await;
            }
        }
    }
    let first_accepted = returned_at.elapsed();
    let lost = lost(&server.db.url, id, &made).await;
    eprintln!(
        "sqlite full: {acked_before} changes stored before and {} while filling the last pages; \
         {refused} offers refused while full; first change accepted {first_accepted:?} after \
         the room came back; {} of {} changes lost",
        acked_while_filling - acked_before,
        lost.len(),
        made.len()
    );
    assert!(lost.is_empty(), "changes lost: {lost:?}");
    let (status, _, _) = api_answer(
        &server,
        &jan,
        reqwest::Method::POST,
        "/api/cases",
        Some(serde_json::json!({"label": "Familie Nieuw", "address": "Dorpsstraat 2"})),
    )
    .await;
    assert_eq!(status, 201, "the API writes again");
}
