//! Signals: a professional registers in the signal index that their
//! organisation is involved with a person (a BSN, or name and birth date) and
//! sees their organisation's signals with the organisations that registered
//! the same person. The index is a lookup on the server, so this screen needs
//! the network; the identifier is checked here (the eleven test) and sent, but
//! never stored on the tablet.

use leptos::prelude::*;
use veldwerk_core::api::signals::{
    Contact, ContactInput, RegisterSignal, Registered, Signal, Signals,
};
use veldwerk_core::signal::{Subject, SubjectError};

use super::{format_date, t};
use crate::app::{self, Connection};
use crate::i18n::T;
use crate::platform::{Failure, api, request};

fn subject_error(error: SubjectError) -> &'static str {
    match error {
        SubjectError::BsnLength => t(T::BsnLength),
        SubjectError::BsnElevenTest => t(T::BsnElevenTest),
        SubjectError::Ambiguous | SubjectError::Missing => t(T::SubjectMissing),
        SubjectError::Name => t(T::SubjectName),
        SubjectError::BirthDate => t(T::SubjectBirthDate),
    }
}

fn failure(e: &Failure) -> String {
    match e {
        Failure::Offline => t(T::SignalsOffline).to_owned(),
        other => format!("{}: {other}", t(T::Error)),
    }
}

fn contact_line(c: &Contact) -> String {
    [&c.name, &c.phone, &c.email]
        .into_iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" · ")
}

#[component]
pub fn SignalsScreen() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let data = LocalResource::new(move || {
        version.track();
        async move {
            let body = api("GET", "/api/signals", None).await?;
            serde_json::from_value::<Signals>(body).map_err(|e| Failure::Browser(e.to_string()))
        }
    });
    let by_bsn = RwSignal::new(true);
    let bsn = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let birth_date = RwSignal::new(String::new());
    let reference = RwSignal::new(String::new());
    let contact_name = RwSignal::new(String::new());
    let phone = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let outcome = RwSignal::new(None::<Registered>);
    let busy = RwSignal::new(false);
    // Set after a withdrawal: the list is loaded again and says so.
    let withdrawn = RwSignal::new(None::<Result<(), String>>);
    Effect::new(move |_| {
        if withdrawn.get() == Some(Ok(())) {
            version.update(|v| *v += 1);
        }
    });
    let offline = move || app::read(|r| r.connection) == Some(Connection::Offline);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        outcome.set(None);
        let (b, n, d) = if by_bsn.get_untracked() {
            (bsn.get_untracked(), String::new(), String::new())
        } else {
            (
                String::new(),
                name.get_untracked(),
                birth_date.get_untracked(),
            )
        };
        if let Err(e) = Subject::from_input(Some(&b), Some(&n), Some(&d)) {
            error.set(Some(subject_error(e).to_owned()));
            return;
        }
        if phone.get_untracked().trim().is_empty() && email.get_untracked().trim().is_empty() {
            error.set(Some(t(T::ContactRequired).to_owned()));
            return;
        }
        let body = request(&RegisterSignal {
            bsn: Some(b),
            name: Some(n),
            birth_date: Some(d),
            reference: Some(reference.get_untracked()),
            contact: ContactInput {
                name: Some(contact_name.get_untracked()),
                phone: Some(phone.get_untracked()),
                email: Some(email.get_untracked()),
            },
        });
        busy.set(true);
        leptos::task::spawn_local(async move {
            let answer = api("POST", "/api/signals", Some(&body))
                .await
                .and_then(|v| {
                    serde_json::from_value::<Registered>(v)
                        .map_err(|e| Failure::Browser(e.to_string()))
                });
            busy.set(false);
            match answer {
                Ok(registered) => {
                    error.set(None);
                    // The identifier leaves the form once the server has it.
                    bsn.set(String::new());
                    name.set(String::new());
                    birth_date.set(String::new());
                    reference.set(String::new());
                    outcome.set(Some(registered));
                    version.update(|v| *v += 1);
                }
                Err(e) => error.set(Some(failure(&e))),
            }
        });
    };

    view! {
        <section class="signals">
            <h1>{move || t(T::Signals)}</h1>
            <p>{move || t(T::SignalsIntro)}</p>
            {move || offline().then(|| view! { <p class="banner" role="status">{t(T::SignalsOffline)}</p> })}
            <form class="card" on:submit=submit novalidate>
                <fieldset>
                    <legend>{move || t(T::WhoIsItAbout)}</legend>
                    <label class="check">
                        <input type="radio" name="subject-kind" prop:checked=move || by_bsn.get()
                            on:change=move |_| by_bsn.set(true)/>
                        {move || t(T::ByBsn)}
                    </label>
                    <label class="check">
                        <input type="radio" name="subject-kind" prop:checked=move || !by_bsn.get()
                            on:change=move |_| by_bsn.set(false)/>
                        {move || t(T::ByNameAndBirthDate)}
                    </label>
                    {move || if by_bsn.get() {
                        view! {
                            <label for="signal-bsn">{t(T::Bsn)}</label>
                            <input id="signal-bsn" inputmode="numeric" autocomplete="off"
                                prop:value=move || bsn.get() on:input=move |ev| bsn.set(event_target_value(&ev))/>
                        }.into_any()
                    } else {
                        view! {
                            <label for="signal-name">{t(T::FullName)}</label>
                            <input id="signal-name" autocomplete="off"
                                prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                            <label for="signal-birth-date">{t(T::BirthDate)}</label>
                            <input id="signal-birth-date" type="date" autocomplete="off"
                                prop:value=move || birth_date.get() on:input=move |ev| birth_date.set(event_target_value(&ev))/>
                        }.into_any()
                    }}
                </fieldset>
                <fieldset>
                    <legend>{move || t(T::YourContact)}</legend>
                    <label for="signal-contact-name">{move || t(T::ContactName)}</label>
                    <input id="signal-contact-name" autocomplete="name"
                        placeholder=move || app::read(|r| r.me.as_ref().map(|m| m.handle.clone())).unwrap_or_default()
                        prop:value=move || contact_name.get() on:input=move |ev| contact_name.set(event_target_value(&ev))/>
                    <label for="signal-phone">{move || t(T::Phone)}</label>
                    <input id="signal-phone" type="tel" autocomplete="tel"
                        prop:value=move || phone.get() on:input=move |ev| phone.set(event_target_value(&ev))/>
                    <label for="signal-email">{move || t(T::Email)}</label>
                    <input id="signal-email" type="email" autocomplete="email"
                        prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev))/>
                </fieldset>
                <label for="signal-reference">{move || t(T::OwnReference)}</label>
                <input id="signal-reference" autocomplete="off" aria-describedby="signal-reference-hint"
                    prop:value=move || reference.get() on:input=move |ev| reference.set(event_target_value(&ev))/>
                <p id="signal-reference-hint" class="subtitle">{move || t(T::OwnReferenceHint)}</p>
                <button type="submit" class="primary" prop:disabled=move || busy.get()>{move || t(T::Register)}</button>
            </form>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div role="status" aria-live="polite">
                {move || outcome.get().map(|r| {
                    let text = match (r.matched, r.refreshed) {
                        (true, _) => t(T::SignalMatched),
                        (false, true) => t(T::SignalRefreshed),
                        (false, false) => t(T::SignalNoMatch),
                    };
                    view! { <p class="outcome" data-matched=r.matched.to_string()>{text}</p> }
                })}
            </div>
            <h2>{move || t(T::OwnSignals)}</h2>
            <div role="status" aria-live="polite">
                {move || match withdrawn.get() {
                    Some(Ok(())) => Some(view! { <p class="outcome">{t(T::SignalWithdrawn)}</p> }.into_any()),
                    Some(Err(e)) => Some(view! { <p class="error" role="alert">{e}</p> }.into_any()),
                    None => None,
                }}
            </div>
            {move || match data.get() {
                None => view! { <p>{t(T::Loading)}</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{failure(&e)}</p> }.into_any(),
                Some(Ok(list)) if list.signals.is_empty() => view! { <p class="empty">{t(T::NoSignals)}</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ul class="signal-list">
                        {list.signals.into_iter().map(|s| signal_item(s, withdrawn)).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

/// A plain function, not a component: it runs inside the list's reactive
/// closure, so its texts follow a language switch.
fn signal_item(signal: Signal, withdrawn: RwSignal<Option<Result<(), String>>>) -> impl IntoView {
    // Two taps: a signal withdrawn by mistake cannot be brought back.
    let confirming = RwSignal::new(false);
    let path = format!("/api/signals/{}", signal.id);
    let withdraw = move |_| {
        if !confirming.get_untracked() {
            confirming.set(true);
            return;
        }
        let path = path.clone();
        leptos::task::spawn_local(async move {
            let answer = api("DELETE", &path, None).await;
            withdrawn.set(Some(answer.map(drop).map_err(|e| failure(&e))));
        });
    };
    let kind = if signal.kind == "bsn" {
        T::Bsn
    } else {
        T::ByNameAndBirthDate
    };
    let title = if signal.reference.is_empty() {
        // Not the id: it counts every organisation's registrations.
        format!("{} {}", t(T::Signal), t(T::NoReference))
    } else {
        signal.reference.clone()
    };
    let activity = if signal.active {
        format!("{} {}", t(T::ActiveUntil), format_date(signal.active_until))
    } else {
        t(T::NoLongerActive).to_owned()
    };
    view! {
        <li class="card signal" data-signal=signal.id.clone()>
            <h3>{title}</h3>
            <p class="subtitle">
                {format!("{} · {} {} {} {}", t(kind), t(T::RegisteredBy), signal.registered_by, t(T::On), format_date(signal.registered_at))}
                <br/>
                {format!("{activity} · {} {}", t(T::VisibleUntil), format_date(signal.visible_until))}
            </p>
            <button class="danger" on:click=withdraw>
                {move || if confirming.get() { t(T::ConfirmWithdrawSignal) } else { t(T::WithdrawSignal) }}
            </button>
            {if signal.matches.is_empty() {
                view! { <p class="empty">{t(T::NoMatches)}</p> }.into_any()
            } else {
                view! {
                    <ul class="matches" aria-label=t(T::Matches)>
                        {signal.matches.into_iter().map(|m| view! {
                            <li class="match">
                                <strong>{m.organisation.clone()}</strong>
                                {format!(": {} ({} {})", contact_line(&m.contact), t(T::MatchedOn), format_date(m.matched_at))}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </li>
    }
}
