//! A browser as the server sees one: JSON calls from the server's origin,
//! with the session cookie it was given, and a software passkey.

use reqwest::StatusCode;
use serde_json::{Value, json};
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse,
};

use super::TestServer;

pub struct Browser {
    base: String,
    pub origin: String,
    client: reqwest::Client,
    pub cookie: Option<String>,
}

/// A person's passkey: the software authenticator that holds it.
pub struct Passkey {
    pub authenticator: SoftPasskey,
    pub credential_id: String,
    pub user_handle: Vec<u8>,
}

impl Browser {
    pub fn new(server: &TestServer) -> Self {
        Self {
            base: server.http(""),
            origin: server.origin(),
            client: reqwest::Client::new(),
            cookie: None,
        }
    }

    pub async fn post(&mut self, path: &str, body: Value) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("origin", &self.origin)
            .json(&body);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        self.finish(request).await
    }

    pub async fn get(&mut self, path: &str) -> (StatusCode, Value) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        self.finish(request).await
    }

    async fn finish(&mut self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("request");
        let status = response.status();
        if let Some(set) = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
        {
            let pair = set.split(';').next().unwrap_or_default().to_owned();
            self.cookie = if pair.ends_with('=') {
                None
            } else {
                Some(pair)
            };
        }
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Enrolls with an invite; returns the new passkey and the finish response.
    pub async fn enroll(
        &mut self,
        invite_url: &str,
        handle: &str,
        device: &str,
    ) -> (Passkey, StatusCode, Value) {
        let invite = invite_url.split_once("#invite=").expect("an invite URL").1;
        let (status, start) = self
            .post(
                "/api/auth/register/start",
                json!({ "invite": invite, "handle": handle, "deviceName": device }),
            )
            .await;
        assert_eq!(status, 200, "{start}");
        let mut authenticator = SoftPasskey::new(true);
        let (status, body, credential_id, user_handle) = self
            .register(&mut authenticator, &start, &self.origin.clone())
            .await;
        (
            Passkey {
                authenticator,
                credential_id,
                user_handle,
            },
            status,
            body,
        )
    }

    /// Answers a registration challenge with `authenticator`, as `origin` would.
    pub async fn register(
        &mut self,
        authenticator: &mut SoftPasskey,
        start: &Value,
        origin: &str,
    ) -> (StatusCode, Value, String, Vec<u8>) {
        let options: CreationChallengeResponse =
            serde_json::from_value(start["options"].clone()).expect("options");
        let user_handle = options.public_key.user.id.to_vec();
        let credential = authenticator
            .do_registration(Url::parse(origin).expect("origin"), options)
            .expect("the soft passkey registers");
        let credential_id = credential.id.clone();
        let (status, body) = self
            .post(
                "/api/auth/register/finish",
                json!({ "challengeId": start["challengeId"], "credential": credential }),
            )
            .await;
        (status, body, credential_id, user_handle)
    }

    /// Signs in by handle with a passkey.
    pub async fn sign_in(&mut self, passkey: &mut Passkey, handle: &str) -> (StatusCode, Value) {
        let (status, start) = self
            .post("/api/auth/login/start", json!({ "handle": handle }))
            .await;
        assert_eq!(status, 200, "{start}");
        let credential = self.assert(passkey, &start, false);
        self.post(
            "/api/auth/login/finish",
            json!({ "challengeId": start["challengeId"], "credential": credential }),
        )
        .await
    }

    /// Signs in without a name, as an authenticator with a discoverable credential does.
    pub async fn sign_in_discoverable(&mut self, passkey: &mut Passkey) -> (StatusCode, Value) {
        let (status, start) = self.post("/api/auth/login/start", json!({})).await;
        assert_eq!(status, 200, "{start}");
        assert_eq!(
            start["options"]["publicKey"]["allowCredentials"],
            json!([]),
            "usernameless: no credentials named"
        );
        let credential = self.assert(passkey, &start, true);
        self.post(
            "/api/auth/login/finish",
            json!({ "challengeId": start["challengeId"], "credential": credential }),
        )
        .await
    }

    /// The authenticator's answer to a sign-in challenge. The software passkey
    /// keeps no discoverable credentials, so for usernameless sign-in the test
    /// plays the part of one: it picks the credential and returns the user handle.
    pub fn assert(
        &self,
        passkey: &mut Passkey,
        start: &Value,
        discoverable: bool,
    ) -> PublicKeyCredential {
        let mut options = start["options"].clone();
        if discoverable {
            options["publicKey"]["allowCredentials"] =
                json!([{ "type": "public-key", "id": passkey.credential_id }]);
        }
        let options: RequestChallengeResponse = serde_json::from_value(options).expect("options");
        let mut credential = passkey
            .authenticator
            .do_authentication(Url::parse(&self.origin).expect("origin"), options)
            .expect("the soft passkey signs");
        if discoverable {
            credential.response.user_handle = Some(passkey.user_handle.clone());
        }
        credential
    }
}

/// Runs one SQL statement on a test database, to age or tamper with rows.
pub async fn sql(url: &str, statement: &str) {
    let statement = sqlx::AssertSqlSafe(statement.to_owned());
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
        sqlx::query(statement)
            .execute(&pool)
            .await
            .expect("statement");
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.expect("postgres");
        sqlx::query(statement)
            .execute(&pool)
            .await
            .expect("statement");
        pool.close().await;
    }
}
