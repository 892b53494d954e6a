//! The key that encrypts everything the app keeps on the tablet.
//!
//! A random AES-GCM store key is made once per device. It is kept only wrapped:
//! by a key derived (HKDF) from the passkey's PRF output, or — where the
//! authenticator has no PRF — from a PIN the worker sets (PBKDF2-SHA-256,
//! 600,000 iterations). Unwrapped, it is a non-extractable `CryptoKey` held in
//! memory until the app locks. The vault record itself holds no personal data.

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::platform::{self, Failure, bytes, to_vec};

/// PBKDF2 iterations for a PIN (OWASP's figure for PBKDF2-HMAC-SHA-256).
pub const PIN_ITERATIONS: u32 = 600_000;
/// Shortest PIN accepted.
pub const MIN_PIN_DIGITS: usize = 6;
const VAULT_STORE: &str = "vault";
const VAULT_KEY: &str = "store-key";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "method", rename_all = "camelCase")]
pub enum Unwrap {
    /// The passkey's PRF output, for this credential and salt.
    Prf {
        credential_id: Vec<u8>,
        rp_id: String,
    },
    /// A PIN.
    Pin { iterations: u32 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VaultRecord {
    unwrap: Unwrap,
    salt: Vec<u8>,
    iv: Vec<u8>,
    wrapped: Vec<u8>,
}

/// The unwrapped store key.
#[derive(Clone)]
pub struct StoreKey(pub(crate) JsValue);

/// A fresh random salt for a new vault (also the PRF input).
pub fn new_salt() -> Vec<u8> {
    platform::random(32)
}

/// How this device's store key is unwrapped, if it has one.
pub async fn method() -> Result<Option<Unwrap>, Failure> {
    Ok(read().await?.map(|r| r.unwrap))
}

async fn read() -> Result<Option<VaultRecord>, Failure> {
    let value = platform::idb_get(VAULT_STORE, VAULT_KEY).await?;
    match value.as_string() {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Failure::Browser(format!("the vault record is unreadable: {e}"))),
    }
}

/// Makes a new store key, wrapped by the PRF output of `credential_id` at `salt`.
pub async fn create_with_prf(
    prf: &[u8],
    salt: Vec<u8>,
    credential_id: Vec<u8>,
    rp_id: String,
) -> Result<StoreKey, Failure> {
    let kek = platform::kek_from_prf(&bytes(prf), &bytes(&salt)).await?;
    create(
        kek,
        salt,
        Unwrap::Prf {
            credential_id,
            rp_id,
        },
    )
    .await
}

/// Makes a new store key, wrapped by a key derived from `pin`.
pub async fn create_with_pin(pin: &str) -> Result<StoreKey, Failure> {
    let salt = new_salt();
    let kek = platform::kek_from_pin(pin, &bytes(&salt), PIN_ITERATIONS).await?;
    create(
        kek,
        salt,
        Unwrap::Pin {
            iterations: PIN_ITERATIONS,
        },
    )
    .await
}

async fn create(kek: JsValue, salt: Vec<u8>, unwrap: Unwrap) -> Result<StoreKey, Failure> {
    let key = platform::generate_store_key().await?;
    let iv = platform::random(12);
    let wrapped = to_vec(&platform::wrap_key(&key, &kek, &bytes(&iv)).await?);
    let record = VaultRecord {
        unwrap,
        salt,
        iv,
        wrapped,
    };
    let text = serde_json::to_string(&record).map_err(|e| Failure::Browser(e.to_string()))?;
    platform::idb_put(VAULT_STORE, VAULT_KEY, &JsValue::from_str(&text)).await?;
    // Use the key as it will be after every later unlock: non-extractable.
    unlock_with(&record, &kek).await
}

/// Unlocks with the passkey (works offline: the assertion stays on the tablet).
pub async fn unlock_with_passkey() -> Result<StoreKey, Failure> {
    let record = read().await?.ok_or_else(no_vault)?;
    let Unwrap::Prf {
        credential_id,
        rp_id,
    } = &record.unwrap
    else {
        return Err(Failure::Browser(
            "this tablet is unlocked with a PIN".into(),
        ));
    };
    let answer = platform::passkey_prf(&bytes(credential_id), &bytes(&record.salt), rp_id).await?;
    let prf = prf_output(&answer)
        .ok_or_else(|| Failure::Browser("the passkey gave no PRF output".into()))?;
    let kek = platform::kek_from_prf(&bytes(&prf), &bytes(&record.salt)).await?;
    unlock_with(&record, &kek).await
}

/// Unlocks with the PIN; a wrong PIN fails to unwrap (AES-GCM authenticates).
pub async fn unlock_with_pin(pin: &str) -> Result<StoreKey, Failure> {
    let record = read().await?.ok_or_else(no_vault)?;
    let Unwrap::Pin { iterations } = record.unwrap else {
        return Err(Failure::Browser(
            "this tablet is unlocked with a passkey".into(),
        ));
    };
    let kek = platform::kek_from_pin(pin, &bytes(&record.salt), iterations).await?;
    unlock_with(&record, &kek).await
}

async fn unlock_with(record: &VaultRecord, kek: &JsValue) -> Result<StoreKey, Failure> {
    let key = platform::unwrap_key(&bytes(&record.wrapped), kek, &bytes(&record.iv)).await?;
    Ok(StoreKey(key))
}

fn no_vault() -> Failure {
    Failure::Browser("this tablet has no store key yet".into())
}

/// The PRF output in an answer of `passkey_create`, `passkey_get` or `passkey_prf`.
pub fn prf_output(answer: &JsValue) -> Option<Vec<u8>> {
    let prf = js_sys::Reflect::get(answer, &"prf".into()).ok()?;
    let output = js_sys::Reflect::get(&prf, &"output".into()).ok()?;
    (!output.is_null() && !output.is_undefined()).then(|| to_vec(&output))
}

/// Whether the authenticator said it supports PRF.
pub fn prf_enabled(answer: &JsValue) -> bool {
    js_sys::Reflect::get(answer, &"prf".into())
        .and_then(|prf| js_sys::Reflect::get(&prf, &"enabled".into()))
        .is_ok_and(|e| e.as_bool() == Some(true))
}

/// Whether a PIN is acceptable: digits only, long enough.
pub fn check_pin(pin: &str) -> bool {
    pin.len() >= MIN_PIN_DIGITS && pin.chars().all(|c| c.is_ascii_digit())
}
