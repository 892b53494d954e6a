//! Every field of a case with concurrent values, shown the same way: each
//! value with who wrote it, a button to keep it, and for text a way to write
//! a new one. One component over `CaseRecord::conflicts`, for whatever field
//! two people changed at once.

use leptos::prelude::*;
use veldwerk_core::DocumentId;
use veldwerk_core::case::{AddressStatus, CaseView, FieldConflict, FieldValue, MemberRole, settle};

use super::case::{field_text, role_text, status_text, writer_name};
use super::fields::Drafts;
use super::{format_time, t};
use crate::app;
use crate::i18n::T;

/// A value as people read it: roles and statuses in words, times as times.
fn shown(conflict: &FieldConflict, value: &FieldValue) -> String {
    match value {
        FieldValue::Text(s) => match conflict.path.last().map(String::as_str) {
            Some("role") => {
                MemberRole::parse(s).map_or_else(|| s.clone(), |r| role_text(r).to_owned())
            }
            Some("addressStatus") => {
                AddressStatus::parse(s).map_or_else(|| s.clone(), |a| status_text(a).to_owned())
            }
            _ => s.clone(),
        },
        FieldValue::Bool(true) => t(T::Yes).to_owned(),
        FieldValue::Bool(false) => t(T::No).to_owned(),
        FieldValue::Int(i) => i.to_string(),
        FieldValue::Timestamp(ms) => format_time(*ms),
    }
}

/// The case's conflicts; nothing when there are none.
#[component]
pub fn Conflicts(id: DocumentId, view: CaseView, drafts: Drafts) -> impl IntoView {
    let error = drafts.error;
    let conflicts = view.conflicts.clone();
    (!conflicts.is_empty()).then(|| {
        view! {
            <section class="conflicts" aria-labelledby="conflicts-h">
                <h2 id="conflicts-h">{t(T::ConflictTitle)}</h2>
                <p>{t(T::ConflictIntro)}</p>
                {conflicts.into_iter().map(|c| view! { <Conflict id=id view=view.clone() conflict=c drafts=drafts/> }).collect_view()}
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </section>
        }
    })
}

#[component]
fn Conflict(
    id: DocumentId,
    view: CaseView,
    conflict: FieldConflict,
    drafts: Drafts,
) -> impl IntoView {
    let error = drafts.error;
    let my_actor = app::read(|r| r.me.as_ref().map(app::Me::actor));
    let dotted = conflict.dotted();
    let field = field_text(&dotted);
    // The address keeps the name its tests and people already know it by.
    let testid = format!(
        "{}-conflict",
        conflict.path.last().cloned().unwrap_or_default()
    );
    let key = format!("conflict:{dotted}");
    let path = conflict.path.clone();
    let keep = move |value: FieldValue| {
        let path = path.clone();
        leptos::task::spawn_local(async move {
            match app::edit(id, move |tx| settle(tx, &path, &value)).await {
                Ok(()) => {
                    error.set(None);
                    drafts.editing.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let heading = format!("conflict-{}", dotted.replace('.', "-"));
    let labelled_by = heading.clone();
    let input = format!("{}-new", dotted.replace('.', "-"));
    let keep_new = keep.clone();
    view! {
        <div class="conflict" role="group" aria-labelledby=labelled_by data-testid=testid data-path=dotted>
            <h3 id=heading>{field}</h3>
            <div class="side-by-side">
                {conflict.values.iter().map(|v| {
                    let text = shown(&conflict, &v.value);
                    let chosen = v.value.clone();
                    let keep = keep.clone();
                    let editable = match &v.value { FieldValue::Text(s) => Some(s.clone()), _ => None };
                    view! {
                        <div class="alternative">
                            <p class="value">{text}</p>
                            <p class="writer">{format!("{} {}", t(T::WrittenBy), writer_name(&view, my_actor.as_ref(), &v.actor))}</p>
                            <button class="primary" on:click=move |_| keep(chosen.clone())>{t(T::Choose)}</button>
                            {editable.map(|s| {
                                let key = key.clone();
                                view! { <button on:click=move |_| {
                                    drafts.text.set(s.clone());
                                    drafts.editing.set(Some(key.clone()));
                                }>{t(T::EditValue)}</button> }
                            })}
                        </div>
                    }
                }).collect_view()}
            </div>
            {move || drafts.is_open(&key).then(|| {
                let keep = keep_new.clone();
                let input = input.clone();
                view! {
                    <form class="card" on:submit=move |ev| {
                        ev.prevent_default();
                        keep(FieldValue::Text(drafts.text.get_untracked().trim().to_owned()));
                    }>
                        <label for=input.clone()>{t(T::NewValue)}</label>
                        <input id=input prop:value=move || drafts.text.get()
                            on:input=move |ev| drafts.text.set(event_target_value(&ev))/>
                        <button type="submit" class="primary">{t(T::Save)}</button>
                        <button type="button" on:click=move |_| drafts.editing.set(None)>{t(T::Cancel)}</button>
                    </form>
                }
            })}
        </div>
    }
}
