//! Veldwerk's tablet app: Leptos (client-side rendering) compiled to wasm32,
//! sharing the case-record model, write rules and sync protocol with
//! `veldwerk-core`. Offline-first: every edit is stored, encrypted, on the
//! tablet before it shows as saved, and synced in the background.
#![cfg(target_arch = "wasm32")]

pub mod app;
pub mod i18n;
pub mod platform;
pub mod restricted;
pub mod store;
pub mod sync;
mod ui;
pub mod vault;

use wasm_bindgen::prelude::*;

/// Mounts the app; called by `index.js` once the module is initialised.
#[wasm_bindgen]
pub fn start() {
    // A panic aborts (the release profile); say why in the console first.
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("veldwerk: {info}").into());
    }));
    // The engine listens to the model before anything can open it.
    sync::install();
    ui::mount();
}
