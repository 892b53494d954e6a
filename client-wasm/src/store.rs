//! The encrypted local store: named records in IndexedDB, each encrypted with
//! AES-GCM under the store key, with the record's name as associated data (a
//! record cannot be passed off as another). Every write resolves only once
//! IndexedDB has committed it durably.

use wasm_bindgen::JsValue;

use crate::platform::{self, Failure, bytes, to_vec};
use crate::vault::StoreKey;

const RECORDS: &str = "records";
const IV_LEN: usize = 12;

pub struct LocalStore {
    key: StoreKey,
}

impl LocalStore {
    pub fn new(key: StoreKey) -> Self {
        Self { key }
    }

    pub async fn put(&self, name: &str, plaintext: &[u8]) -> Result<(), Failure> {
        let iv = platform::random(IV_LEN as u32);
        let sealed = platform::encrypt(&self.key.0, &bytes(&iv), &bytes(plaintext), name).await?;
        let mut record = iv;
        record.extend_from_slice(&to_vec(&sealed));
        platform::idb_put(RECORDS, name, &bytes(&record).into()).await?;
        Ok(())
    }

    pub async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        let value = platform::idb_get(RECORDS, name).await?;
        if value.is_null() {
            return Ok(None);
        }
        let record = to_vec(&value);
        if record.len() < IV_LEN {
            return Err(Failure::Browser(format!("local record {name} is damaged")));
        }
        let (iv, sealed) = record.split_at(IV_LEN);
        let plain = platform::decrypt(&self.key.0, &bytes(iv), &bytes(sealed), name)
            .await
            .map_err(|_| Failure::Browser(format!("local record {name} cannot be decrypted")))?;
        Ok(Some(to_vec(&plain)))
    }

    pub async fn put_json<T: serde::Serialize>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), Failure> {
        let text = serde_json::to_vec(value).map_err(|e| Failure::Browser(e.to_string()))?;
        self.put(name, &text).await
    }

    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, Failure> {
        match self.get(name).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Failure::Browser(format!("local record {name}: {e}"))),
        }
    }

    pub async fn names(&self) -> Result<Vec<String>, Failure> {
        let keys = platform::idb_keys(RECORDS).await?;
        Ok(js_sys::Array::from(&keys)
            .iter()
            .filter_map(|k| k.as_string())
            .collect())
    }

    pub async fn delete(&self, name: &str) -> Result<(), Failure> {
        platform::idb_delete(RECORDS, name).await?;
        Ok(())
    }
}

/// Deletes every record and the wrapped key: nothing of the case records stays.
pub async fn wipe() -> Result<(), Failure> {
    platform::idb_wipe().await?;
    Ok(())
}

/// The raw bytes IndexedDB holds for a record, as they lie on disk (for tests).
pub async fn raw(name: &str) -> Result<Option<Vec<u8>>, Failure> {
    let value: JsValue = platform::idb_get(RECORDS, name).await?;
    Ok((!value.is_null()).then(|| to_vec(&value)))
}
