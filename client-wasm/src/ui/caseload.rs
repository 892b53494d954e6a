//! The worker's families: search, sort, and what needs attention.

use leptos::prelude::*;
use veldwerk_core::DocumentId;

use super::{Route, format_date, go, t};
use crate::app;
use crate::i18n::T;

#[derive(Clone, PartialEq)]
struct Row {
    id: DocumentId,
    label: String,
    address: String,
    last_visit_ms: Option<i64>,
    unsynced: usize,
    returned: usize,
    conflict: bool,
    loaded: bool,
}

fn rows() -> Vec<Row> {
    app::read(|r| {
        let me = r.me.as_ref().map(|m| m.handle.clone()).unwrap_or_default();
        r.docs
            .iter()
            .filter(|(id, _)| !r.is_restricted(**id))
            .map(|(id, local)| match local.view() {
                Some(view) => Row {
                    id: *id,
                    address: view
                        .address
                        .first()
                        .map(|a| a.value.clone())
                        .unwrap_or_default(),
                    last_visit_ms: view.last_visit_ms(),
                    unsynced: local.unsynced(),
                    returned: view
                        .visits
                        .iter()
                        .filter(|v| v.author == me && v.awaits_answer())
                        .count(),
                    conflict: !view.conflicts().is_empty(),
                    label: view.label,
                    loaded: true,
                },
                None => Row {
                    id: *id,
                    label: r
                        .listed
                        .iter()
                        .find(|l| l.document_id == id.to_string())
                        .map(|l| l.label.clone())
                        .unwrap_or_default(),
                    address: String::new(),
                    last_visit_ms: None,
                    unsynced: 0,
                    returned: 0,
                    conflict: false,
                    loaded: false,
                },
            })
            .collect()
    })
}

#[component]
pub fn Caseload() -> impl IntoView {
    let query = RwSignal::new(String::new());
    let by_name = RwSignal::new(false);
    let may_create = move || {
        app::read(|r| {
            r.me.as_ref()
                .and_then(|m| m.role())
                .is_some_and(|role| role.may_create_cases())
        })
    };
    let shown = move || {
        let q = query.get().to_lowercase();
        let mut rows: Vec<Row> = rows()
            .into_iter()
            .filter(|r| {
                q.is_empty()
                    || r.label.to_lowercase().contains(&q)
                    || r.address.to_lowercase().contains(&q)
            })
            .collect();
        if by_name.get() {
            rows.sort_by_key(|r| r.label.to_lowercase());
        } else {
            // Longest without a visit first: they need attention.
            rows.sort_by(|a, b| {
                a.last_visit_ms
                    .cmp(&b.last_visit_ms)
                    .then_with(|| a.label.cmp(&b.label))
            });
        }
        rows
    };
    view! {
        <section class="caseload">
            <div class="toolbar">
                <h1>{move || t(T::Caseload)}</h1>
                {move || may_create().then(|| view! {
                    <button class="primary" on:click=move |_| go(Route::NewHousehold)>{t(T::NewHousehold)}</button>
                })}
            </div>
            <div class="filters">
                <label for="search" class="visually-hidden">{move || t(T::Search)}</label>
                <input id="search" type="search" placeholder=move || t(T::SearchPlaceholder)
                    prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev))/>
                <label for="sort" class="visually-hidden">{move || t(T::SortLastVisit)}</label>
                <select id="sort" on:change=move |ev| by_name.set(event_target_value(&ev) == "name")>
                    <option value="visit" selected=move || !by_name.get()>{move || t(T::SortLastVisit)}</option>
                    <option value="name" selected=move || by_name.get()>{move || t(T::SortName)}</option>
                </select>
            </div>
            {move || {
                let rows = shown();
                if rows.is_empty() {
                    view! { <p class="empty">{t(T::NoCases)}</p> }.into_any()
                } else {
                    view! {
                        <ul class="cases">
                            {rows.into_iter().map(|row| {
                                let href = Route::Case(row.id).href();
                                view! {
                                    <li>
                                        <a class="case-card" href=href>
                                            <span class="label">{row.label.clone()}</span>
                                            <span class="address">{row.address.clone()}</span>
                                            <span class="last-visit">
                                                {match row.last_visit_ms {
                                                    Some(ms) => format!("{}: {}", t(T::LastVisit), format_date(ms)),
                                                    None => t(T::NeverVisited).to_owned(),
                                                }}
                                            </span>
                                            <span class="badges">
                                                {(!row.loaded).then(|| view! { <span class="badge">{t(T::NotYetLoaded)}</span> })}
                                                {(row.unsynced > 0).then(|| view! {
                                                    <span class="badge unsynced">{format!("{} {}", row.unsynced, t(T::BadgeUnsynced))}</span>
                                                })}
                                                {(row.returned > 0).then(|| view! {
                                                    <span class="badge returned">{format!("{} {}", row.returned, t(T::BadgeReturned))}</span>
                                                })}
                                                {row.conflict.then(|| view! { <span class="badge conflict">{t(T::BadgeConflict)}</span> })}
                                            </span>
                                        </a>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }
            }}
        </section>
    }
}
