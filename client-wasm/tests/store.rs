//! The encrypted local store in a real browser (headless Chromium through
//! wasm-bindgen-test-runner): records round-trip, what lies on disk is not the
//! plaintext, a record cannot pass for another, and only the right PIN unlocks.
#![cfg(target_arch = "wasm32")]

use veldwerk_app::platform::{self, bytes};
use veldwerk_app::store::{self, LocalStore};
use veldwerk_app::vault;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SECRET: &[u8] = b"Familie Jansen, Kerkstraat 2: vochtig huis, schimmel in de slaapkamer";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[wasm_bindgen_test]
async fn records_round_trip_encrypted_and_only_the_right_pin_unlocks() {
    store::wipe().await.unwrap();
    let local = LocalStore::new(vault::create_with_pin("482916").await.unwrap());
    local.put("doc/a", SECRET).await.unwrap();
    local
        .put_json("caseload", &vec!["Familie Jansen"])
        .await
        .unwrap();

    assert_eq!(local.get("doc/a").await.unwrap().as_deref(), Some(SECRET));
    assert_eq!(
        local.get_json::<Vec<String>>("caseload").await.unwrap(),
        Some(vec!["Familie Jansen".to_owned()])
    );
    assert_eq!(local.get("doc/missing").await.unwrap(), None);

    // On disk: neither the text nor any recognisable part of it.
    let raw = store::raw("doc/a").await.unwrap().unwrap();
    assert!(raw.len() >= SECRET.len() + 12 + 16, "iv and tag are stored");
    assert!(!contains(&raw, b"Jansen") && !contains(&raw, b"schimmel"));
    let raw_list = store::raw("caseload").await.unwrap().unwrap();
    assert!(!contains(&raw_list, b"Jansen"));

    // The record's name is authenticated: copied under another name, it does not decrypt.
    platform::idb_put("records", "doc/b", &bytes(&raw).into())
        .await
        .unwrap();
    assert!(local.get("doc/b").await.is_err());

    // After a lock, the PIN unwraps the same key; a wrong PIN unwraps nothing.
    assert!(vault::unlock_with_pin("000000").await.is_err());
    let again = LocalStore::new(vault::unlock_with_pin("482916").await.unwrap());
    assert_eq!(again.get("doc/a").await.unwrap().as_deref(), Some(SECRET));

    // The wipe leaves nothing: no records, no key.
    store::wipe().await.unwrap();
    assert_eq!(vault::method().await.unwrap(), None);
    assert_eq!(store::raw("doc/a").await.unwrap(), None);
}
