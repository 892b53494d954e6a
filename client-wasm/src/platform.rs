//! Bindings to `js/platform.js`: IndexedDB, WebCrypto, WebAuthn and fetch, as
//! awaitable functions. Bytes cross as `Uint8Array` copies, never as views into
//! wasm memory, which may move while a promise is pending.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/platform.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    pub async fn idb_get(store: &str, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn idb_put(store: &str, key: &str, value: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn idb_delete(store: &str, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn idb_keys(store: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn idb_wipe() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn persist_storage() -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch)]
    pub async fn generate_store_key() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn kek_from_prf(prf: &Uint8Array, salt: &Uint8Array) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn kek_from_pin(
        pin: &str,
        salt: &Uint8Array,
        iterations: u32,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn wrap_key(
        key: &JsValue,
        kek: &JsValue,
        iv: &Uint8Array,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn unwrap_key(
        wrapped: &Uint8Array,
        kek: &JsValue,
        iv: &Uint8Array,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn encrypt(
        key: &JsValue,
        iv: &Uint8Array,
        plaintext: &Uint8Array,
        label: &str,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn decrypt(
        key: &JsValue,
        iv: &Uint8Array,
        ciphertext: &Uint8Array,
        label: &str,
    ) -> Result<JsValue, JsValue>;
    fn random_bytes(n: u32) -> Uint8Array;

    #[wasm_bindgen(catch)]
    pub async fn passkey_create(options: &JsValue, salt: &Uint8Array) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn passkey_get(options: &JsValue, salt: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn passkey_prf(
        credential_id: &Uint8Array,
        salt: &Uint8Array,
        rp_id: &str,
    ) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch)]
    async fn fetch_json(method: &str, path: &str, body: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch)]
    pub async fn register_service_worker(
        on_update: &js_sys::Function,
        on_sync: &js_sys::Function,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn request_background_sync() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    pub async fn activate_waiting_worker() -> Result<JsValue, JsValue>;
}

pub fn random(n: u32) -> Vec<u8> {
    random_bytes(n).to_vec()
}

pub fn bytes(value: &[u8]) -> Uint8Array {
    Uint8Array::from(value)
}

pub fn to_vec(value: &JsValue) -> Vec<u8> {
    Uint8Array::new(value).to_vec()
}

/// Why something the app asked of the browser or the server did not happen.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// No network, or the server could not be reached.
    Offline,
    /// The server answered with an error: status, stable code and message.
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// The browser refused (a cancelled passkey prompt, a crypto failure…).
    Browser(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Offline => f.write_str("the server cannot be reached"),
            Failure::Server { message, .. } => f.write_str(message),
            Failure::Browser(message) => f.write_str(message),
        }
    }
}

impl From<JsValue> for Failure {
    fn from(value: JsValue) -> Self {
        let message = js_sys::Reflect::get(&value, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .or_else(|| value.as_string())
            .unwrap_or_else(|| "unknown browser error".into());
        Failure::Browser(message)
    }
}

/// Calls the server's JSON API; a 2xx answer's body, or why not.
pub async fn api(
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<serde_json::Value, Failure> {
    let body = body
        .map(|b| JsValue::from_str(&b.to_string()))
        .unwrap_or(JsValue::NULL);
    let answer = fetch_json(method, path, &body)
        .await
        .map_err(|_| Failure::Offline)?;
    let status = js_sys::Reflect::get(&answer, &"status".into())
        .ok()
        .and_then(|s| s.as_f64())
        .unwrap_or(0.0) as u16;
    let text = js_sys::Reflect::get(&answer, &"text".into())
        .ok()
        .and_then(|t| t.as_string())
        .unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        let error = serde_json::from_value::<veldwerk_core::api::ErrorBody>(body).unwrap_or(
            veldwerk_core::api::ErrorBody {
                code: "error".to_owned(),
                message: "the server refused".to_owned(),
            },
        );
        Err(Failure::Server {
            status,
            code: error.code,
            message: error.message,
        })
    }
}

/// An API request's body as JSON. The request types of `veldwerk_core::api`
/// are plain data, so they always serialise.
pub fn request<T: serde::Serialize>(body: &T) -> serde_json::Value {
    serde_json::to_value(body).unwrap_or_default()
}

/// A JSON value as a plain JS object (for WebAuthn options).
pub fn js_json(value: &serde_json::Value) -> Result<JsValue, Failure> {
    Ok(js_sys::JSON::parse(&value.to_string())?)
}

/// A plain JS object as JSON (for WebAuthn credentials).
pub fn from_js_json(value: &JsValue) -> Result<serde_json::Value, Failure> {
    let text: String = js_sys::JSON::stringify(value)?.into();
    serde_json::from_str(&text).map_err(|e| Failure::Browser(e.to_string()))
}

pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}
