//! The sync engine in a real browser against a real automerge-repo sync server
//! (the JS reference server, which `cargo xtask test` starts and names at build
//! time in `VELDWERK_TEST_SYNC_URL`): a household registered on the tablet is
//! pushed over a browser WebSocket, acknowledged (the pending count returns to
//! 0), and a wiped tablet fetches it back.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use veldwerk_app::app::{self, Me};
use veldwerk_app::store::{self, LocalStore};
use veldwerk_app::{sync, vault};
use veldwerk_core::case::CaseRecord;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SERVER: Option<&str> = option_env!("VELDWERK_TEST_SYNC_URL");

async fn sleep(duration: Duration) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                duration.as_millis() as i32,
            )
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// Waits up to 10 s for `done` (the test runner gives up at 20 s).
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        sleep(Duration::from_millis(100)).await;
    }
    let state = app::with(|r| {
        format!(
            "link {:?}, documents {:?}",
            r.connection,
            r.docs
                .iter()
                .map(|(id, d)| (id.to_string(), d.unsynced(), d.acked.len()))
                .collect::<Vec<_>>()
        )
    });
    panic!("timed out waiting until {what}: {state}");
}

fn me() -> Me {
    Me {
        handle: "jan".into(),
        organisation: "Gemeente Ergens".into(),
        organisation_kind: "municipality".into(),
        role: "field_worker".into(),
        device_id: 1,
        device: "Tablet 1".into(),
        actor_id: "0123456789abcdef0123456789abcdef".into(),
    }
}

async fn fresh_tablet() {
    store::wipe().await.unwrap();
    let key = vault::create_with_pin("482916").await.unwrap();
    app::open(LocalStore::new(key), Some(me())).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_household_goes_to_the_server_is_acknowledged_and_comes_back_to_a_wiped_tablet() {
    let url = SERVER.expect("VELDWERK_TEST_SYNC_URL is set by `cargo xtask test` at build time");
    sync::use_sync_server(url);
    fresh_tablet().await;

    let id = app::create_household("Familie Visser", "Havenweg 3, Ergens")
        .await
        .unwrap();
    // Stored locally before the server has it…
    assert_eq!(app::with(|r| r.docs[&id].unsynced()), 1);
    // …and acknowledged once the server's heads include it.
    eventually("the server acknowledged the household", || {
        app::with(|r| r.connection == Some(app::Connection::Online) && r.docs[&id].unsynced() == 0)
    })
    .await;
    assert!(app::with(|r| r.last_sync_ms.is_some()));

    // A wiped tablet knows nothing, until it asks the server for the household.
    app::wipe().await;
    fresh_tablet().await;
    assert!(app::with(|r| r.docs.is_empty()));
    sync::track(id);
    eventually("the household came back from the server", || {
        app::with(|r| {
            r.docs
                .get(&id)
                .and_then(|local| CaseRecord::new(&local.doc).view().ok())
                .is_some_and(|view| view.label == "Familie Visser")
        })
    })
    .await;
    sync::stop();
}
