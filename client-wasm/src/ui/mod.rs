//! The screens. Which one shows is decided by two signals: the gate (enrolled?
//! unlocked? wiped?) and, once open, the route in the URL's hash, so reload and
//! the back button keep the worker where they were.

mod auth;
mod case;
mod caseload;
mod conflicts;
mod devices;
mod direction;
mod fields;
mod monitor;
mod radar;
mod restricted;
mod review;
mod signals;
mod summary;
mod visit;

use std::cell::RefCell;

use leptos::prelude::*;
use veldwerk_core::DocumentId;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::app::{self, Connection};
use crate::i18n::{self, Lang, T};
use crate::vault::Unwrap;

/// Where the app stands before any case can be shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    Starting,
    Enroll {
        invite: Option<String>,
    },
    SignIn,
    /// Signed in, but the authenticator has no PRF: the worker sets a PIN.
    PinSetup(app::Me),
    Unlock(Unwrap),
    Open,
    Wiped,
}

/// A screen of the open app, as written in the URL's hash.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Caseload,
    Case(DocumentId),
    NewVisit(DocumentId),
    Visit(DocumentId, String),
    NewHousehold,
    Review,
    ReviewVisit(DocumentId, String),
    Monitor,
    Radar,
    Handovers,
    Signals,
    Devices,
    Summary(DocumentId),
}

impl Route {
    fn parse(hash: &str) -> Route {
        let parts: Vec<&str> = hash
            .trim_start_matches('#')
            .trim_matches('/')
            .split('/')
            .collect();
        let case = |s: &str| s.parse::<DocumentId>().ok();
        match parts.as_slice() {
            ["case", id] => case(id).map_or(Route::Caseload, Route::Case),
            ["case", id, "summary"] => case(id).map_or(Route::Caseload, Route::Summary),
            ["case", id, "visit", "new"] => case(id).map_or(Route::Caseload, Route::NewVisit),
            ["case", id, "visit", visit] => {
                case(id).map_or(Route::Caseload, |id| Route::Visit(id, (*visit).to_owned()))
            }
            ["new-household"] => Route::NewHousehold,
            ["review"] => Route::Review,
            ["monitor"] => Route::Monitor,
            ["radar"] => Route::Radar,
            ["handovers"] => Route::Handovers,
            ["signals"] => Route::Signals,
            ["devices"] => Route::Devices,
            ["review", id, visit] => case(id).map_or(Route::Review, |id| {
                Route::ReviewVisit(id, (*visit).to_owned())
            }),
            _ => Route::Caseload,
        }
    }

    pub fn href(&self) -> String {
        match self {
            Route::Caseload => "#/".into(),
            Route::Case(id) => format!("#/case/{id}"),
            Route::NewVisit(id) => format!("#/case/{id}/visit/new"),
            Route::Visit(id, visit) => format!("#/case/{id}/visit/{visit}"),
            Route::NewHousehold => "#/new-household".into(),
            Route::Review => "#/review".into(),
            Route::Monitor => "#/monitor".into(),
            Route::Radar => "#/radar".into(),
            Route::Handovers => "#/handovers".into(),
            Route::Signals => "#/signals".into(),
            Route::Devices => "#/devices".into(),
            Route::Summary(id) => format!("#/case/{id}/summary"),
            Route::ReviewVisit(id, visit) => format!("#/review/{id}/{visit}"),
        }
    }
}

#[derive(Clone, Copy)]
pub struct Ui {
    pub gate: RwSignal<Gate>,
    pub route: RwSignal<Route>,
    pub lang: RwSignal<Lang>,
    pub update_ready: RwSignal<bool>,
    /// A sign-out the server has not confirmed yet (no network at the time).
    pub sign_out_pending: RwSignal<bool>,
}

thread_local! {
    static UI: RefCell<Option<Ui>> = const { RefCell::new(None) };
    static KEEP: RefCell<Vec<Closure<dyn FnMut()>>> = const { RefCell::new(Vec::new()) };
}

pub fn ui() -> Ui {
    UI.with(|u| u.borrow().expect("ui is mounted"))
}

/// A text in the current language, re-rendered when the language changes.
pub fn t(key: T) -> &'static str {
    ui().lang.track();
    key.s()
}

pub fn go(route: Route) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_hash(&route.href());
    }
    ui().route.set(route);
}

/// How long the app stays unlocked without a touch or key press.
const LOCK_AFTER_MS: f64 = 15.0 * 60.0 * 1000.0;

thread_local! {
    static LAST_ACTIVITY: std::cell::Cell<f64> = std::cell::Cell::new(js_sys::Date::now());
}

pub fn mount() {
    let lang = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item("veldwerk-lang").ok().flatten())
        .map_or(
            Lang::Nl,
            |code| if code == "en" { Lang::En } else { Lang::Nl },
        );
    i18n::set_lang(lang);
    let ui = Ui {
        gate: RwSignal::new(Gate::Starting),
        route: RwSignal::new(Route::parse(&current_hash())),
        lang: RwSignal::new(lang),
        update_ready: RwSignal::new(false),
        sign_out_pending: RwSignal::new(sign_out_pending()),
    };
    UI.with(|u| *u.borrow_mut() = Some(ui));
    set_document_lang(lang);
    install_listeners();
    // Mounting also starts Leptos' executor, which the tasks below need.
    leptos::mount::mount_to_body(App);
    leptos::task::spawn_local(decide_gate());
    retry_sign_out();
    leptos::task::spawn_local(async {
        let on_update = Closure::<dyn FnMut()>::new(|| self::ui().update_ready.set(true));
        let on_sync = Closure::<dyn FnMut()>::new(crate::sync::background_sync);
        let _ = crate::platform::register_service_worker(
            on_update.as_ref().unchecked_ref(),
            on_sync.as_ref().unchecked_ref(),
        )
        .await;
        KEEP.with(|k| k.borrow_mut().extend([on_update, on_sync]));
    });
}

fn current_hash() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

fn set_document_lang(lang: Lang) {
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", lang.code());
    }
}

pub fn switch_language() {
    let ui = ui();
    let lang = ui.lang.get_untracked().other();
    i18n::set_lang(lang);
    ui.lang.set(lang);
    set_document_lang(lang);
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item("veldwerk-lang", lang.code());
    }
}

fn install_listeners() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let on_hash = Closure::<dyn FnMut()>::new(|| ui().route.set(Route::parse(&current_hash())));
    let on_activity =
        Closure::<dyn FnMut()>::new(|| LAST_ACTIVITY.with(|l| l.set(js_sys::Date::now())));
    let on_idle_check = Closure::<dyn FnMut()>::new(|| {
        let idle = js_sys::Date::now() - LAST_ACTIVITY.with(std::cell::Cell::get);
        if idle > LOCK_AFTER_MS && ui().gate.get_untracked() == Gate::Open {
            leptos::task::spawn_local(lock_now());
        }
    });
    let _ = window.add_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
    let on_online = Closure::<dyn FnMut()>::new(retry_sign_out);
    let _ = window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
    for event in ["pointerdown", "keydown"] {
        let _ =
            window.add_event_listener_with_callback(event, on_activity.as_ref().unchecked_ref());
    }
    let _ = window.set_interval_with_callback_and_timeout_and_arguments_0(
        on_idle_check.as_ref().unchecked_ref(),
        30_000,
    );
    KEEP.with(|k| {
        k.borrow_mut()
            .extend([on_hash, on_online, on_activity, on_idle_check])
    });
}

/// Where a sign-out the server has not yet confirmed is remembered, so it is
/// sent again when the network returns.
const SIGN_OUT_PENDING: &str = "veldwerk-sign-out-pending";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

fn sign_out_pending() -> bool {
    local_storage().is_some_and(|s| s.get_item(SIGN_OUT_PENDING).ok().flatten().is_some())
}

fn set_sign_out_pending(pending: bool) {
    if let Some(storage) = local_storage() {
        let _ = if pending {
            storage.set_item(SIGN_OUT_PENDING, "1")
        } else {
            storage.remove_item(SIGN_OUT_PENDING)
        };
    }
    if let Some(ui) = UI.with(|u| *u.borrow()) {
        ui.sign_out_pending.set(pending);
    }
}

/// Ends the session on the server, then locks. Without a network the tablet
/// locks anyway and says so: the sign-out is sent when the network returns.
async fn sign_out() {
    end_session_on_server().await;
    lock_now().await;
}

/// Asks the server to end this tablet's session; remembers to ask again if it
/// could not be reached. An answer of 401 means the session had already ended.
async fn end_session_on_server() {
    let body = crate::platform::request(&veldwerk_core::api::identity::Logout::default());
    let answer = crate::platform::api("POST", "/api/auth/logout", Some(&body)).await;
    let ended = match answer {
        Ok(_) => true,
        Err(crate::platform::Failure::Server { status, .. }) => status == 401,
        Err(_) => false,
    };
    set_sign_out_pending(!ended);
}

/// Called at start and when the network returns.
fn retry_sign_out() {
    if sign_out_pending() {
        leptos::task::spawn_local(end_session_on_server());
    }
}

/// Forgets a sign-out still waiting for the network: a new sign-in replaced
/// the session it was for.
pub fn signed_in() {
    set_sign_out_pending(false);
}

/// Locks the app: keys and decrypted records leave memory.
pub async fn lock_now() {
    app::lock();
    match crate::vault::method().await {
        Ok(Some(method)) => ui().gate.set(Gate::Unlock(method)),
        _ => ui().gate.set(Gate::SignIn),
    }
}

async fn decide_gate() {
    let location = web_sys::window().map(|w| w.location());
    let path = location
        .as_ref()
        .and_then(|l| l.pathname().ok())
        .unwrap_or_default();
    if path == "/enroll" {
        let invite = current_hash()
            .trim_start_matches('#')
            .split('&')
            .find_map(|kv| kv.strip_prefix("invite="))
            .map(str::to_owned);
        ui().gate.set(Gate::Enroll { invite });
        return;
    }
    match crate::vault::method().await {
        Ok(Some(method)) => ui().gate.set(Gate::Unlock(method)),
        _ => ui().gate.set(Gate::SignIn),
    }
}

#[component]
fn App() -> impl IntoView {
    let ui = ui();
    // The engine reports a revoked device in the model; the device's data is gone.
    // The gate is tracked too: a screen chosen by a task that was already under
    // way when the device was revoked gives way to the wiped one.
    Effect::new(move |_| {
        if app::read(|r| r.revoked) && ui.gate.get() != Gate::Wiped {
            ui.gate.set(Gate::Wiped);
        }
    });
    view! {
        <a class="skip" href="#main">{move || t(T::Skip)}</a>
        {move || ui.update_ready.get().then(|| view! {
            <div class="banner" role="status">
                <span>{t(T::UpdateReady)}</span>
                <button on:click=move |_| {
                    leptos::task::spawn_local(async {
                        let _ = crate::platform::activate_waiting_worker().await;
                        if let Some(w) = web_sys::window() { let _ = w.location().reload(); }
                    });
                }>{t(T::Reload)}</button>
            </div>
        })}
        {move || match ui.gate.get() {
            Gate::Open => view! { <Shell/> }.into_any(),
            Gate::Starting => view! { <main id="main" class="center"><p>{t(T::Loading)}</p></main> }.into_any(),
            Gate::Enroll { invite } => view! { <auth::Enroll invite=invite/> }.into_any(),
            Gate::SignIn => view! { <auth::SignIn/> }.into_any(),
            Gate::PinSetup(me) => view! { <auth::PinSetup me=me/> }.into_any(),
            Gate::Unlock(method) => view! { <auth::Unlock method=method/> }.into_any(),
            Gate::Wiped => view! {
                <main id="main" class="center"><h1>{t(T::AppName)}</h1><p role="alert">{t(T::Wiped)}</p></main>
            }.into_any(),
        }}
    }
}

/// The open app: status bar, refusals, and the routed screen.
#[component]
fn Shell() -> impl IntoView {
    let ui = ui();
    view! {
        <StatusBar/>
        <Refusals/>
        <main id="main">
            {move || match ui.route.get() {
                Route::Caseload => view! { <caseload::Caseload/> }.into_any(),
                Route::Case(id) => view! { <case::Case id=id/> }.into_any(),
                Route::NewVisit(id) => view! { <visit::VisitForm case_id=id visit_id=None/> }.into_any(),
                Route::Visit(id, visit) => view! { <visit::VisitForm case_id=id visit_id=Some(visit)/> }.into_any(),
                Route::NewHousehold => view! { <case::NewHousehold/> }.into_any(),
                Route::Review => view! { <review::ReviewQueue/> }.into_any(),
                Route::Monitor => view! { <monitor::MonitorScreen/> }.into_any(),
                Route::Radar => view! { <radar::RadarScreen/> }.into_any(),
                Route::Handovers => view! { <direction::HandoversScreen/> }.into_any(),
                Route::Signals => view! { <signals::SignalsScreen/> }.into_any(),
                Route::Devices => view! { <devices::DevicesScreen/> }.into_any(),
                Route::Summary(id) => view! { <summary::Summary id=id/> }.into_any(),
                Route::ReviewVisit(id, visit) => view! { <review::ReviewVisit case_id=id visit_id=visit/> }.into_any(),
            }}
        </main>
    }
}

#[component]
fn StatusBar() -> impl IntoView {
    let confirming = RwSignal::new(None::<&'static str>);
    let connection_text = move || match app::read(|r| r.connection) {
        Some(Connection::Online) => t(T::Online),
        Some(Connection::Connecting) | None => t(T::Connecting),
        Some(Connection::Offline) => t(T::Offline),
        Some(Connection::SignedOut) => t(T::Offline),
    };
    let pending = move || {
        let n = app::pending_count();
        match n {
            0 => t(T::AllSynced).to_owned(),
            1 => format!("1 {}", t(T::PendingChange)),
            n => format!("{n} {}", t(T::PendingChanges)),
        }
    };
    let last_sync = move || {
        let label = t(T::LastSync);
        match app::read(|r| r.last_sync_ms) {
            Some(ms) => format!("{label}: {}", format_time(ms)),
            None => format!("{label}: {}", t(T::NeverSynced)),
        }
    };
    let signed_out = move || app::read(|r| r.connection) == Some(Connection::SignedOut);
    let is_director = move || {
        app::read(|r| {
            r.me.as_ref()
                .is_some_and(|m| m.role == "case_director" && m.organisation_kind == "municipality")
        })
    };
    let is_supervisor = move || {
        app::read(|r| r.me.as_ref().and_then(app::Me::role))
            == Some(veldwerk_core::identity::Role::Supervisor)
    };
    let is_professional = move || {
        app::read(|r| r.me.as_ref().and_then(app::Me::role))
            .is_some_and(veldwerk_core::identity::Role::works_on_cases)
    };
    let who = move || {
        app::read(|r| {
            r.me.as_ref()
                .map(|m| format!("{} · {}", m.handle, m.organisation))
        })
    };
    let act = move |action: &'static str| {
        if app::pending_count() > 0 && confirming.get_untracked() != Some(action) {
            confirming.set(Some(action));
            return;
        }
        confirming.set(None);
        leptos::task::spawn_local(async move {
            match action {
                "sign-out" => sign_out().await,
                _ => {
                    app::wipe().await;
                    ui().gate.set(Gate::SignIn);
                }
            }
        });
    };
    view! {
        <header class="status">
            <a class="brand" href="#/">{move || t(T::AppName)}</a>
            <div class="sync" role="status" aria-live="polite">
                <span class="connection" data-connection=move || format!("{:?}", app::read(|r| r.connection))>{connection_text}</span>
                <span class="pending" data-testid="pending">{pending}</span>
                <span class="last-sync">{last_sync}</span>
            </div>
            <nav class="menu" aria-label="menu">
                <span class="who">{who}</span>
                {move || is_supervisor().then(|| view! { <a class="button" href=Route::Review.href()>{t(T::ReviewQueue)}</a> })}
                {move || is_professional().then(|| view! { <a class="button" href=Route::Signals.href()>{t(T::Signals)}</a> })}
                {move || is_director().then(|| view! {
                    <a class="button" href=Route::Radar.href()>{t(T::Radar)}</a>
                    <a class="button" href=Route::Monitor.href()>{t(T::Monitor)}</a>
                    <a class="button" href=Route::Handovers.href()>{t(T::Handovers)}</a>
                })}
                <a class="button" href=Route::Devices.href()>{move || t(T::MyDevices)}</a>
                <button on:click=move |_| switch_language()>{move || t(T::SwitchLanguage)}</button>
                <button on:click=move |_| leptos::task::spawn_local(lock_now())>{move || t(T::Lock)}</button>
                <button on:click=move |_| act("sign-out")>{move || t(T::SignOut)}</button>
                <button on:click=move |_| act("clear")>{move || t(T::ClearData)}</button>
            </nav>
        </header>
        {move || confirming.get().map(|action| view! {
            <div class="banner warning" role="alertdialog" aria-label=move || t(T::ContinueAnyway)>
                <p>{if action == "sign-out" { t(T::SignOutWarning) } else { t(T::UnsyncedWarning) }}</p>
                <button class="danger" on:click=move |_| act(action)>{t(T::ContinueAnyway)}</button>
                <button on:click=move |_| confirming.set(None)>{t(T::Cancel)}</button>
            </div>
        })}
        {move || signed_out().then(|| view! {
            <div class="banner" role="status">
                <p>{t(T::SignInAgain)}</p>
                <button on:click=move |_| leptos::task::spawn_local(auth::sign_in_again())>{t(T::SignIn)}</button>
            </div>
        })}
    }
}

#[component]
fn Refusals() -> impl IntoView {
    let refusals = move || app::read(|r| r.refusals.clone());
    view! {
        {move || {
            let list = refusals();
            (!list.is_empty()).then(|| view! {
                <section class="refusals" role="alert">
                    <h2>{t(T::Refused)}</h2>
                    <ul>
                        {list.into_iter().enumerate().map(|(index, r)| view! {
                            <li>
                                <strong>{r.label}</strong>": "{r.reason}
                                <button on:click=move |_| app::dismiss_refusal(index)>{t(T::Dismiss)}</button>
                            </li>
                        }).collect_view()}
                    </ul>
                </section>
            })
        }}
    }
}

/// A local date and time, short, in the app's language.
pub fn format_time(ms: i64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    let locale = if ui().lang.get_untracked() == Lang::En {
        "en-GB"
    } else {
        "nl-NL"
    };
    let options = amsterdam();
    let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into());
    date.to_locale_string(locale, &options).into()
}

/// Formatting options that read the time in the Netherlands, wherever the
/// tablet's clock is set: the dates people agree on are Dutch dates.
fn amsterdam() -> js_sys::Object {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"timeZone".into(), &"Europe/Amsterdam".into());
    options
}

pub fn format_date(ms: i64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    let locale = if ui().lang.get_untracked() == Lang::En {
        "en-GB"
    } else {
        "nl-NL"
    };
    date.to_locale_date_string(locale, &amsterdam()).into()
}
