//! Enrolment with an invite link, sign-in, unlocking, and setting a PIN where
//! the passkey has no PRF.

use leptos::prelude::*;
use veldwerk_core::api::identity::{CeremonyFinish, CeremonyStart, LoginStart, RegisterStart};
use wasm_bindgen::JsValue;

use super::{Gate, t, ui};
use crate::app::{self, Me};
use crate::i18n::T;
use crate::platform::{self, Failure, bytes, from_js_json, js_json, to_vec};
use crate::store::LocalStore;
use crate::vault::{self, StoreKey, Unwrap};

fn rp_id() -> String {
    web_sys::window()
        .and_then(|w| w.location().hostname().ok())
        .unwrap_or_default()
}

fn credential_id(answer: &JsValue) -> Vec<u8> {
    js_sys::Reflect::get(answer, &"credentialId".into())
        .map(|v| to_vec(&v))
        .unwrap_or_default()
}

fn credential(answer: &JsValue) -> Result<serde_json::Value, Failure> {
    from_js_json(&js_sys::Reflect::get(answer, &"credential".into())?)
}

/// After a passkey ceremony: the store key from its PRF output, or none (set a PIN).
async fn key_from_passkey(answer: &JsValue, salt: Vec<u8>) -> Result<Option<StoreKey>, Failure> {
    let id = credential_id(answer);
    let output = match vault::prf_output(answer) {
        Some(output) => Some(output),
        // PRF is there, but gave no output at creation: ask once more, locally.
        None if vault::prf_enabled(answer) => {
            let again = platform::passkey_prf(&bytes(&id), &bytes(&salt), &rp_id()).await?;
            vault::prf_output(&again)
        }
        None => None,
    };
    match output {
        Some(prf) => Ok(Some(vault::create_with_prf(&prf, salt, id, rp_id()).await?)),
        None => Ok(None),
    }
}

async fn open_with(key: StoreKey, me: Option<Me>) -> Result<(), Failure> {
    app::open(LocalStore::new(key), me).await?;
    let _ = platform::persist_storage().await;
    ui().gate.set(Gate::Open);
    Ok(())
}

fn me_from(body: serde_json::Value) -> Result<Me, Failure> {
    serde_json::from_value(body).map_err(|e| Failure::Browser(e.to_string()))
}

/// A started passkey ceremony: WebAuthn's options, passed on to the browser as they are.
type Started = CeremonyStart<serde_json::Value>;

fn started(body: serde_json::Value) -> Result<Started, Failure> {
    serde_json::from_value(body).map_err(|e| Failure::Browser(e.to_string()))
}

async fn enroll(invite: String, handle: String, device: String) -> Result<(), Failure> {
    let salt = vault::new_salt();
    let body = platform::request(&RegisterStart {
        invite: Some(invite),
        handle: Some(handle),
        device_name: device,
    });
    let start = started(platform::api("POST", "/api/auth/register/start", Some(&body)).await?)?;
    let answer = platform::passkey_create(&js_json(&start.options)?, &bytes(&salt)).await?;
    let me = finish("/api/auth/register/finish", start, &answer).await?;
    // The invite is spent: take it out of the address bar and history.
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some("/#/"));
    }
    open_fresh(me, &answer, salt).await
}

/// Sends a passkey ceremony's answer to the server; who signed in.
async fn finish(path: &str, start: Started, answer: &JsValue) -> Result<Me, Failure> {
    let body = platform::request(&CeremonyFinish {
        challenge_id: start.challenge_id,
        credential: credential(answer)?,
    });
    let me = me_from(platform::api("POST", path, Some(&body)).await?)?;
    // A new session: a sign-out still waiting for the network was for the old one.
    super::signed_in();
    Ok(me)
}

/// Opens a new store for whoever just signed in on this tablet: a tablet used
/// before starts clean; its key comes from the passkey's PRF, or else a PIN.
async fn open_fresh(me: Me, answer: &JsValue, salt: Vec<u8>) -> Result<(), Failure> {
    crate::store::wipe().await?;
    match key_from_passkey(answer, salt).await? {
        Some(key) => open_with(key, Some(me)).await,
        None => {
            ui().gate.set(Gate::PinSetup(me));
            Ok(())
        }
    }
}

/// The sign-in ceremony; with `salt`, the passkey's PRF output comes along.
async fn ceremony(salt: Option<&[u8]>) -> Result<(Me, JsValue), Failure> {
    let body = platform::request(&LoginStart::default());
    let start = started(platform::api("POST", "/api/auth/login/start", Some(&body)).await?)?;
    let salt = salt.map_or(JsValue::NULL, |s| bytes(s).into());
    let answer = platform::passkey_get(&js_json(&start.options)?, &salt).await?;
    let me = finish("/api/auth/login/finish", start, &answer).await?;
    Ok((me, answer))
}

async fn sign_in() -> Result<(), Failure> {
    let salt = vault::new_salt();
    let (me, answer) = ceremony(Some(&salt)).await?;
    open_fresh(me, &answer, salt).await
}

/// A new session for an open app whose session ended; the store stays unlocked.
pub async fn sign_in_again() {
    if let Ok((me, _)) = ceremony(None).await {
        app::with(|r| r.me = Some(me));
        crate::sync::start();
    }
}

fn error_text(failure: &Failure) -> String {
    match failure {
        Failure::Offline => format!("{}: {failure}", t(T::Offline)),
        _ => format!("{}: {failure}", t(T::Error)),
    }
}

#[component]
pub fn Enroll(invite: Option<String>) -> impl IntoView {
    let handle = RwSignal::new(String::new());
    let device = RwSignal::new(String::from("Tablet"));
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let has_invite = invite.is_some();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(invite) = invite.clone() else { return };
        busy.set(true);
        error.set(None);
        let (h, d) = (handle.get_untracked(), device.get_untracked());
        leptos::task::spawn_local(async move {
            if let Err(e) = enroll(invite, h, d).await {
                error.set(Some(error_text(&e)));
            }
            busy.set(false);
        });
    };
    view! {
        <main id="main" class="center">
            <h1>{move || t(T::EnrollTitle)}</h1>
            {move || if has_invite {
                view! {
                    <form class="card" on:submit=submit.clone()>
                        <p>{t(T::EnrollIntro)}</p>
                        <label for="handle">{t(T::Handle)}</label>
                        <input id="handle" name="handle" autocomplete="username" required
                            prop:value=move || handle.get() on:input=move |ev| handle.set(event_target_value(&ev))/>
                        <label for="device">{t(T::DeviceName)}</label>
                        <input id="device" name="device" required
                            prop:value=move || device.get() on:input=move |ev| device.set(event_target_value(&ev))/>
                        <button type="submit" class="primary" disabled=move || busy.get()>{t(T::CreatePasskey)}</button>
                    </form>
                }.into_any()
            } else {
                view! { <p role="alert">{t(T::InviteMissing)}</p> }.into_any()
            }}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <button class="link" on:click=move |_| super::switch_language()>{move || t(T::SwitchLanguage)}</button>
        </main>
    }
}

/// Says so while a sign-out has not reached the server: this tablet is locked,
/// but the session ends there only once the network returns.
#[component]
fn SignOutPending() -> impl IntoView {
    let pending = ui().sign_out_pending;
    move || {
        pending
            .get()
            .then(|| view! { <p class="notice" role="status">{t(T::SignOutPending)}</p> })
    }
}

#[component]
pub fn SignIn() -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let go = move |_| {
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            if let Err(e) = sign_in().await {
                error.set(Some(error_text(&e)));
            }
            busy.set(false);
        });
    };
    view! {
        <main id="main" class="center">
            <h1>{move || t(T::SignInTitle)}</h1>
            <div class="card">
                <SignOutPending/>
                <p>{move || t(T::SignInIntro)}</p>
                <button class="primary" on:click=go disabled=move || busy.get()>{move || t(T::SignIn)}</button>
            </div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <button class="link" on:click=move |_| super::switch_language()>{move || t(T::SwitchLanguage)}</button>
        </main>
    }
}

#[component]
pub fn Unlock(method: Unwrap) -> impl IntoView {
    let pin = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let uses_pin = matches!(method, Unwrap::Pin { .. });
    let unlock = move || {
        busy.set(true);
        error.set(None);
        let entered = pin.get_untracked();
        leptos::task::spawn_local(async move {
            let key = if uses_pin {
                vault::unlock_with_pin(&entered)
                    .await
                    .map_err(|_| t(T::PinWrong).to_owned())
            } else {
                vault::unlock_with_passkey()
                    .await
                    .map_err(|e| error_text(&e))
            };
            let opened = match key {
                Ok(key) => open_with(key, None).await.map_err(|e| error_text(&e)),
                Err(e) => Err(e),
            };
            if let Err(e) = opened {
                error.set(Some(e));
            }
            pin.set(String::new());
            busy.set(false);
        });
    };
    view! {
        <main id="main" class="center">
            <h1>{move || t(T::UnlockTitle)}</h1>
            <form class="card" on:submit=move |ev| { ev.prevent_default(); unlock(); }>
                <SignOutPending/>
                <p>{move || t(T::UnlockIntro)}</p>
                {uses_pin.then(|| view! {
                    <label for="pin">{move || t(T::Pin)}</label>
                    <input id="pin" type="password" inputmode="numeric" autocomplete="current-password"
                        prop:value=move || pin.get() on:input=move |ev| pin.set(event_target_value(&ev))/>
                })}
                <button type="submit" class="primary" disabled=move || busy.get()>
                    {move || if uses_pin { t(T::UnlockPin) } else { t(T::UnlockPasskey) }}
                </button>
            </form>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </main>
    }
}

#[component]
pub fn PinSetup(me: Me) -> impl IntoView {
    let pin = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (p, r) = (pin.get_untracked(), repeat.get_untracked());
        if !vault::check_pin(&p) {
            error.set(Some(t(T::PinTooShort).to_owned()));
            return;
        }
        if p != r {
            error.set(Some(t(T::PinMismatch).to_owned()));
            return;
        }
        busy.set(true);
        let me = me.clone();
        leptos::task::spawn_local(async move {
            let result = match vault::create_with_pin(&p).await {
                Ok(key) => open_with(key, Some(me)).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                error.set(Some(error_text(&e)));
            }
            busy.set(false);
        });
    };
    view! {
        <main id="main" class="center">
            <h1>{move || t(T::PinSetupTitle)}</h1>
            <form class="card" on:submit=save>
                <p>{move || t(T::PinSetupIntro)}</p>
                <label for="pin">{move || t(T::Pin)}</label>
                <input id="pin" type="password" inputmode="numeric" autocomplete="new-password"
                    prop:value=move || pin.get() on:input=move |ev| pin.set(event_target_value(&ev))/>
                <label for="pin-repeat">{move || t(T::PinRepeat)}</label>
                <input id="pin-repeat" type="password" inputmode="numeric" autocomplete="new-password"
                    prop:value=move || repeat.get() on:input=move |ev| repeat.set(event_target_value(&ev))/>
                <button type="submit" class="primary" disabled=move || busy.get()>{move || t(T::SavePin)}</button>
            </form>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </main>
    }
}
