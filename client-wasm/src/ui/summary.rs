//! A printable summary of a case for a case conference. It is made from the
//! record on this tablet, which holds only what its reader may see (the server
//! gives nothing else), and prints without the app's controls.

use leptos::prelude::*;
use veldwerk_core::DocumentId;

use super::case::{role_text, status_text, visit_state};
use super::visit::{kind_text, theme_text};
use super::{Route, format_date, format_time, t};
use crate::app;
use crate::i18n::T;

#[component]
pub fn Summary(id: DocumentId) -> impl IntoView {
    let view = app::read(|r| r.docs.get(&id).and_then(app::LocalDoc::view));
    let who = app::read(|r| {
        r.me.as_ref()
            .map(|m| format!("{} ({})", m.handle, m.organisation))
    })
    .unwrap_or_default();
    let Some(case) = view else {
        return view! { <p>{move || t(T::Loading)}</p> }.into_any();
    };
    let printed = format!(
        "{} {} · {}",
        t(T::PrintedBy),
        who,
        format_time(crate::platform::now_ms())
    );
    view! {
        <nav class="crumbs no-print"><a href=Route::Case(id).href()>{move || t(T::Back)}</a></nav>
        <article class="summary">
            <h1>{format!("{}: {}", t(T::CaseSummary), case.label)}</h1>
            <p class="subtitle">{printed}</p>
            <p class="confidential">{t(T::Confidential)}</p>
            <h2>{t(T::Household)}</h2>
            <dl>
                <dt>{t(T::Address)}</dt>
                <dd>{case.address.iter().map(|a| a.value.clone()).collect::<Vec<_>>().join(" / ")}</dd>
                <dt>{t(T::AddressStatus)}</dt>
                <dd>{status_text(case.address_status)}</dd>
            </dl>
            <h2>{t(T::Members)}</h2>
            <ul>
                {case.members.iter().map(|m| view! {
                    <li>{format!("{}{} · {}", m.name, m.birth_date.as_ref().map(|d| format!(" ({d})")).unwrap_or_default(), role_text(m.role))}</li>
                }).collect_view()}
            </ul>
            <h2>{t(T::Agreements)}</h2>
            <ul>
                {case.agreements.iter().map(|a| view! {
                    <li>{format!("{}{}", a.text, a.due.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())}</li>
                }).collect_view()}
            </ul>
            <h2>{t(T::Visits)}</h2>
            {case.visits.iter().map(|v| view! {
                <section class="summary-visit">
                    <h3>{format!("{} · {} · {} · {}", format_date(v.at_ms), kind_text(v.kind), v.author, v.organisation)}</h3>
                    <p class="badge">{visit_state(v.status, v.review.as_ref().map(|r| r.status))}</p>
                    <dl>
                        {v.observations.iter().map(|(theme, text)| view! {
                            <dt>{theme_text(*theme)}</dt><dd>{text.clone()}</dd>
                        }).collect_view()}
                    </dl>
                </section>
            }).collect_view()}
            <button class="primary no-print" on:click=move |_| {
                if let Some(w) = web_sys::window() { let _ = w.print(); }
            }>{t(T::Print)}</button>
        </article>
    }
    .into_any()
}
