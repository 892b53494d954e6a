//! A case's restricted record on the tablet: what the police and justice know
//! about the family, for the directing case director, the police and the
//! prosecutor. The section exists only where the server named the record to
//! this person; nobody else's tablet ever holds it. Police and prosecutor add
//! signals here, offline too; a case director who opens it tells the server,
//! so the family leaves their radar.

use leptos::prelude::*;
use veldwerk_core::DocumentId;
use veldwerk_core::case::{CaseRecord, SignalEntry, SignalKind};
use veldwerk_core::identity::{OrganisationKind, Role};

use super::{format_time, t};
use crate::app;
use crate::i18n::T;

fn kind_text(kind: SignalKind) -> &'static str {
    match kind {
        SignalKind::Police => t(T::SignalKindPolice),
        SignalKind::Justice => t(T::SignalKindJustice),
        SignalKind::MinorInCrime => t(T::SignalKindMinor),
    }
}

/// The signals, newest first; `None` until the record is on the tablet.
fn signals(restricted: DocumentId) -> Option<Vec<SignalEntry>> {
    app::read(|r| {
        let local = r.docs.get(&restricted).filter(|l| l.has_content())?;
        Some(CaseRecord::new(&local.doc).signals())
    })
}

#[component]
pub fn Restricted(case: DocumentId) -> impl IntoView {
    // A memo: the section is made again only when the record's id changes,
    // not at every change of the model (which would reset the form).
    let restricted = Memo::new(move |_| app::read(|r| r.restricted_of(case)));
    move || {
        restricted
            .get()
            .map(|restricted| view! { <RestrictedRecord case=case restricted=restricted/> })
    }
}

#[component]
fn RestrictedRecord(case: DocumentId, restricted: DocumentId) -> impl IntoView {
    let me = app::read(|r| r.me.clone());
    let kind = me
        .as_ref()
        .and_then(|m| OrganisationKind::parse(&m.organisation_kind));
    let writes = matches!(
        kind,
        Some(OrganisationKind::Police | OrganisationKind::Prosecutor)
    );
    let directs = me.as_ref().and_then(|m| m.role()) == Some(Role::CaseDirector);
    if directs {
        // Opened: the signals are no longer news on this director's radar.
        leptos::task::spawn_local(async move {
            let path = format!("/api/cases/{case}/restricted/seen");
            let _ = crate::platform::api("POST", &path, None).await;
        });
    }
    view! {
        <section class="restricted" aria-labelledby="restricted-h">
            <h2 id="restricted-h">{move || t(T::RestrictedRecord)}</h2>
            <p class="subtitle">{move || t(T::RestrictedIntro)}</p>
            {move || match signals(restricted) {
                None => view! { <p>{t(T::RestrictedLoading)}</p> }.into_any(),
                Some(list) if list.is_empty() => view! { <p class="empty">{t(T::NoRestrictedSignals)}</p> }.into_any(),
                Some(list) => view! {
                    <ul class="restricted-signals">
                        {list.into_iter().map(|s| view! {
                            <li class="card" data-signal=s.id.clone()>
                                <p class="subtitle">
                                    <strong>{kind_text(s.kind)}</strong>
                                    {format!(" · {} · {} ({})", format_time(s.at_ms), s.author, s.organisation)}
                                </p>
                                <p class="text">{s.text.clone()}</p>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            {writes.then(|| view! { <AddSignal restricted=restricted/> })}
        </section>
    }
}

#[component]
fn AddSignal(restricted: DocumentId) -> impl IntoView {
    let kind = RwSignal::new(SignalKind::Police);
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let body = text.get_untracked();
        if body.trim().is_empty() {
            error.set(Some(t(T::SignalTextRequired).to_owned()));
            return;
        }
        let chosen = kind.get_untracked();
        leptos::task::spawn_local(async move {
            match crate::restricted::add_signal(restricted, chosen, &body).await {
                Ok(()) => {
                    error.set(None);
                    text.set(String::new());
                    saved.set(true);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <form class="card" on:submit=submit novalidate>
            <h3>{move || t(T::AddRestrictedSignal)}</h3>
            <label for="restricted-kind">{move || t(T::SignalKindLabel)}</label>
            <select id="restricted-kind" on:change=move |ev| {
                if let Some(k) = SignalKind::parse(&event_target_value(&ev)) { kind.set(k) }
            }>
                {SignalKind::ALL.iter().map(|k| view! {
                    <option value=k.as_str() selected=move || kind.get() == *k>{move || kind_text(*k)}</option>
                }).collect_view()}
            </select>
            <label for="restricted-text">{move || t(T::SignalTextLabel)}</label>
            <textarea id="restricted-text" rows="3" prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            <button type="submit" class="primary">{move || t(T::AddRestrictedSignal)}</button>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div role="status" aria-live="polite">
                {move || saved.get().then(|| view! { <p class="outcome">{t(T::SignalSaved)}</p> })}
            </div>
        </form>
    }
}
