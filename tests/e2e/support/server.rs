//! Test servers and the databases under them.

use std::net::SocketAddr;
use std::time::Duration;

use sqlx::Connection;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use veldwerk_core::identity::{OrganisationKind, Role};
use veldwerk_server::config::DatabaseArgs;
use veldwerk_server::store::{Principal, Store, StoreError, Unique};
use veldwerk_server::{Config, ServeArgs, admin};

/// A database for one test: a SQLite file in a temporary folder, or a fresh
/// database on the test PostgreSQL server.
pub struct Db {
    pub url: String,
    _dir: TempDir,
}

impl Db {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}", dir.path().join("veldwerk.db").display());
        Self { url, _dir: dir }
    }

    /// Another handle on an existing database (whose owner keeps it alive).
    pub fn at(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            _dir: tempfile::tempdir().expect("temporary folder"),
        }
    }

    /// A new, empty database on the server `VELDWERK_TEST_POSTGRES_URL` names.
    pub async fn postgres() -> Option<Self> {
        let admin_url = std::env::var("VELDWERK_TEST_POSTGRES_URL").ok()?;
        let name = format!("veldwerk_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connecting to the test PostgreSQL server");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("creating a test database");
        conn.close().await.ok();
        Some(Self {
            url: with_database(&admin_url, &name),
            _dir: tempfile::tempdir().expect("temporary folder"),
        })
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A person with a device and its bearer token.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub token: String,
    pub principal: Principal,
}

/// A server running in this process, on its own port, on its own database.
pub struct TestServer {
    pub addr: SocketAddr,
    /// A second connection to the server's database, for setting up and checking.
    pub store: Store,
    pub db: Db,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

pub fn config(url: &str) -> Config {
    ServeArgs {
        listen: "127.0.0.1:0".parse().expect("address"),
        database: DatabaseArgs {
            url: url.to_owned(),
            signal_key_file: signal_key_file(url),
        },
        origin: None,
        max_frame_bytes: 8 * 1024 * 1024,
        max_queued_bytes: 32 * 1024 * 1024,
        max_ephemeral_bytes: 16 * 1024,
        ephemeral_per_sec: 20,
        max_open_documents: 5_000,
        document_requests_per_sec: 100,
        ping_secs: 30,
        max_document_bytes: 64 * 1024 * 1024,
        idle_unload_secs: 60,
        max_loaded_documents: 10_000,
        compact_after: 256,
        session_idle_mins: 60,
        session_max_hours: 12,
        auth_rate_per_min: 1000,
        tls_cert: None,
        tls_key: None,
        app_dir: "client-wasm/dist".into(),
        signal_retention_secs: 3600,
    }
    .validate()
    .expect("valid test configuration")
}

/// The signal index's key: with SQLite the server makes its own next to the
/// database (as in production); PostgreSQL needs one file that every node
/// shares, here a fixed test key in cargo's temporary folder for tests.
pub fn signal_key_file(url: &str) -> Option<std::path::PathBuf> {
    static FILE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    if url.starts_with("sqlite:") {
        return None;
    }
    let path = FILE.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join("signal-test.key");
        // Written whole and renamed: test binaries running at once read either none or all.
        let partial = dir.join(format!("signal-test.key.{}", std::process::id()));
        std::fs::write(&partial, "7e57".repeat(16)).expect("writing the test signal key");
        std::fs::rename(&partial, &path).expect("placing the test signal key");
        path
    });
    Some(path.clone())
}

/// The database at `url` with the key the test server uses (it is made, with
/// SQLite, next to the database on first use).
pub async fn open_store(url: &str) -> Store {
    veldwerk_server::open_store(url, signal_key_file(url).as_deref())
        .await
        .expect("opening the test database")
        .0
}

impl TestServer {
    pub async fn start(db: Db) -> Self {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: Db, configure: impl FnOnce(&mut Config)) -> Self {
        // Migrate first, so the server and the harness never race to do it.
        let store = open_store(&db.url).await;
        let mut config = config(&db.url);
        configure(&mut config);
        let tls = config.tls.is_some();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding port 0");
        let addr = listener.local_addr().expect("local address");
        if config.origin.ends_with(":0") {
            // Passkeys need a real origin; localhost is how a browser would reach us.
            config.origin = format!("http://localhost:{}", addr.port());
        }
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let stop = async move {
                let _ = stop.await;
            };
            if let Err(e) = veldwerk_server::serve(listener, config, stop).await {
                panic!("test server failed: {e}");
            }
        });
        let server = Self {
            addr,
            store,
            db,
            shutdown: Some(shutdown),
            task: Some(task),
        };
        if !tls {
            wait_ready(&server.http("/readyz")).await;
        }
        server
    }

    /// Waits until a server started with TLS accepts connections.
    pub async fn into_tls(self) -> Self {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(self.addr).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "TLS server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self
    }

    /// The origin browsers (and passkeys) see.
    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.addr.port())
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws(&self, query: &str) -> String {
        format!("ws://{}/sync{query}", self.addr)
    }

    /// An organisation, created if it does not exist yet.
    pub async fn org(&self, name: &str, kind: OrganisationKind) {
        match admin::add_organisation(&self.store, name, kind).await {
            Ok(_) | Err(StoreError::Taken(Unique::OrganisationName)) => {}
            Err(e) => panic!("adding organisation: {e}"),
        }
    }

    /// A person in an organisation (created as needed) with one device and token.
    pub async fn user(
        &self,
        org: &str,
        kind: OrganisationKind,
        handle: &str,
        role: Role,
    ) -> TestUser {
        self.org(org, kind).await;
        admin::add_user(&self.store, org, handle, role)
            .await
            .expect("adding user");
        self.device(handle, "tablet-1").await
    }

    /// Another device (with its own token) of an existing person.
    pub async fn device(&self, handle: &str, device: &str) -> TestUser {
        let (token, principal) = admin::issue_token(&self.store, handle, device)
            .await
            .expect("issuing token");
        TestUser { token, principal }
    }

    /// A single-use sync ticket, fetched through the API like a browser would.
    pub async fn ticket(&self, user: &TestUser) -> String {
        let response: serde_json::Value = reqwest::Client::new()
            .post(self.http("/api/sync-ticket"))
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("ticket request")
            .error_for_status()
            .expect("ticket granted")
            .json()
            .await
            .expect("ticket body");
        response["ticket"]
            .as_str()
            .expect("ticket field")
            .to_owned()
    }

    /// One API call with `user`'s bearer token: the status and the JSON body
    /// (`null` when there is none).
    pub async fn api(
        &self,
        user: &TestUser,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = reqwest::Client::new()
            .request(method, self.http(path))
            .bearer_auth(&user.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("API request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// Registers a case through the API; returns its document id.
    pub async fn create_case(&self, user: &TestUser, label: &str) -> veldwerk_core::DocumentId {
        let body = veldwerk_core::api::cases::CreateCase {
            label: label.to_owned(),
            address: "Kerkstraat 1, Ergens".to_owned(),
            address_status: None,
        };
        let case: veldwerk_core::api::cases::CaseItem = reqwest::Client::new()
            .post(self.http("/api/cases"))
            .bearer_auth(&user.token)
            .json(&body)
            .send()
            .await
            .expect("create case request")
            .error_for_status()
            .expect("case created")
            .json()
            .await
            .expect("case body");
        case.document_id.parse().expect("a document id")
    }

    /// Stops the server and waits until it has.
    pub async fn stop(mut self) -> (Store, Db) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
        (
            self.store.clone(),
            std::mem::replace(&mut self.db, Db::sqlite()),
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Polls a readiness URL until it answers 200, for at most 30 s.
pub async fn wait_ready(url: &str) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "server at {url} did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn replaces_the_database_name_in_a_url() {
    assert_eq!(
        with_database("postgres:///postgres?host=/tmp/pg&user=postgres", "t1"),
        "postgres:///t1?host=/tmp/pg&user=postgres"
    );
    assert_eq!(
        with_database("postgres://u:p@h:5432/db", "t2"),
        "postgres://u:p@h:5432/t2"
    );
    assert_eq!(with_database("postgres://h", "t3"), "postgres://h/t3");
}
