//! Recording a home visit, editing it until it is approved, and answering a
//! supervisor who returned it.

use automerge::{ObjType, ROOT, ScalarValue, transaction::Transactable};
use leptos::prelude::*;
use veldwerk_core::DocumentId;
use veldwerk_core::case::{
    NewVisit, Theme, VisitKind, VisitStatus, VisitView, add_agreement, add_visit, answer_review,
    submit_visit,
};
use wasm_bindgen::JsValue;

use super::case::visit_state;
use super::{Route, go, t};
use crate::app;
use crate::i18n::T;
use crate::platform::now_ms;

pub fn theme_text(theme: Theme) -> &'static str {
    match theme {
        Theme::Housing => t(T::ThemeHousing),
        Theme::WorkIncome => t(T::ThemeWorkIncome),
        Theme::Education => t(T::ThemeEducation),
        Theme::Health => t(T::ThemeHealth),
        Theme::Safety => t(T::ThemeSafety),
        Theme::Wellbeing => t(T::ThemeWellbeing),
    }
}

pub fn kind_text(kind: VisitKind) -> &'static str {
    match kind {
        VisitKind::Home => t(T::KindHome),
        VisitKind::Phone => t(T::KindPhone),
        VisitKind::Office => t(T::KindOffice),
        VisitKind::School => t(T::KindSchool),
        VisitKind::Other => t(T::KindOther),
    }
}

/// `YYYY-MM-DDTHH:MM` in local time, as `<input type="datetime-local">` wants it.
fn local_input(ms: i64) -> String {
    let d = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

fn parse_local_input(value: &str) -> Option<i64> {
    let ms = js_sys::Date::new(&JsValue::from_str(value)).get_time();
    (!ms.is_nan()).then_some(ms as i64)
}

#[derive(Clone, Copy)]
struct Form {
    at: RwSignal<String>,
    kind: RwSignal<VisitKind>,
    present: RwSignal<Vec<String>>,
    observations: [RwSignal<String>; 6],
    follow_up: RwSignal<String>,
    answer: RwSignal<String>,
}

impl Form {
    fn new(existing: Option<&VisitView>) -> Self {
        let observation = |theme: Theme| {
            RwSignal::new(
                existing
                    .and_then(|v| v.observation(theme))
                    .unwrap_or_default()
                    .to_owned(),
            )
        };
        Form {
            at: RwSignal::new(local_input(existing.map_or_else(now_ms, |v| v.at_ms))),
            kind: RwSignal::new(existing.map_or(VisitKind::Home, |v| v.kind)),
            present: RwSignal::new(existing.map(|v| v.present.clone()).unwrap_or_default()),
            observations: [
                observation(Theme::Housing),
                observation(Theme::WorkIncome),
                observation(Theme::Education),
                observation(Theme::Health),
                observation(Theme::Safety),
                observation(Theme::Wellbeing),
            ],
            follow_up: RwSignal::new(String::new()),
            answer: RwSignal::new(existing.and_then(|v| v.answer.clone()).unwrap_or_default()),
        }
    }

    fn observations(&self) -> Vec<(Theme, String)> {
        Theme::ALL
            .iter()
            .zip(self.observations.iter())
            .map(|(theme, text)| (*theme, text.get_untracked().trim().to_owned()))
            .filter(|(_, text)| !text.is_empty())
            .collect()
    }
}

/// What the save button asks for.
#[derive(Clone, Copy, PartialEq)]
enum Intent {
    Draft,
    Submit,
    Answer,
}

#[component]
pub fn VisitForm(case_id: DocumentId, visit_id: Option<String>) -> impl IntoView {
    let snapshot = app::read(|r| {
        let view = r.docs.get(&case_id).and_then(app::LocalDoc::view)?;
        let me = r.me.clone()?;
        Some((view, me))
    });
    let Some((case, me)) = snapshot else {
        return view! { <p>{move || t(T::Loading)}</p> }.into_any();
    };
    let existing = visit_id.as_deref().and_then(|id| case.visit(id)).cloned();
    let form = Form::new(existing.as_ref());
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let editable = existing
        .as_ref()
        .is_none_or(|v| v.author == me.handle && !v.is_approved());
    let awaits_answer = existing.as_ref().is_some_and(VisitView::awaits_answer);
    let members = case.members.clone();
    let is_edit = existing.is_some();
    let visit_key = visit_id.clone();

    let save = move |intent: Intent| {
        let observations = form.observations();
        if observations.is_empty() {
            error.set(Some(t(T::EmptyVisit).to_owned()));
            return;
        }
        let Some(at_ms) = parse_local_input(&form.at.get_untracked()) else {
            error.set(Some(format!(
                "{}: {}",
                t(T::VisitDate),
                form.at.get_untracked()
            )));
            return;
        };
        let kind = form.kind.get_untracked();
        let present = form.present.get_untracked();
        let follow_ups: Vec<String> = form
            .follow_up
            .get_untracked()
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        let answer = form.answer.get_untracked();
        let me = me.clone();
        let existing_id = visit_key.clone();
        leptos::task::spawn_local(async move {
            let id = existing_id.clone().unwrap_or_else(app::new_id);
            let visit = id.clone();
            let now = now_ms();
            let result = app::edit(case_id, move |tx| {
                match &existing_id {
                    None => add_visit(
                        tx,
                        &NewVisit {
                            id: visit.clone(),
                            at_ms,
                            author: me.handle.clone(),
                            organisation: me.organisation.clone(),
                            kind,
                            present,
                            observations: observations.clone(),
                            status: VisitStatus::Draft,
                        },
                    )?,
                    Some(_) => update_visit(tx, &visit, at_ms, kind, &present, &observations)?,
                }
                for text in &follow_ups {
                    add_agreement(tx, &app::new_id(), text, Some(&visit), None)?;
                }
                if intent == Intent::Answer {
                    answer_review(tx, &visit, answer.trim())?;
                }
                if intent != Intent::Draft {
                    submit_visit(tx, &visit, now)?;
                }
                Ok(())
            })
            .await;
            match result {
                Ok(()) => {
                    saved.set(true);
                    error.set(None);
                    go(Route::Case(case_id));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let save_draft = save.clone();
    let save_submit = save.clone();

    view! {
        <nav class="crumbs"><a href=Route::Case(case_id).href()>{move || t(T::Back)}</a></nav>
        <h1>{move || if is_edit { t(T::EditVisit) } else { t(T::RecordVisit) }}</h1>
        <p class="subtitle">{case.label.clone()}</p>
        {existing.as_ref().map(|v| {
            let state = visit_state(v.status, v.review.as_ref().map(|r| r.status));
            view! { <p class="badge">{state}</p> }
        })}
        {existing.as_ref().and_then(|v| v.review.clone()).filter(|r| !r.comment.is_empty()).map(|review| view! {
            <section class="review" aria-labelledby="review-h">
                <h2 id="review-h">{move || t(T::ReviewComment)}</h2>
                <p data-testid="review-comment">{review.comment.clone()}</p>
                <p class="writer">{review.reviewer.clone()}</p>
            </section>
        })}
        {(!editable).then(|| view! { <p role="status">{move || t(T::NotEditable)}</p> })}
        <form class="visit-form" on:submit=move |ev| ev.prevent_default()>
            <fieldset disabled=!editable>
                <div class="row">
                    <div>
                        <label for="visit-at">{move || t(T::VisitDate)}</label>
                        <input id="visit-at" type="datetime-local" prop:value=move || form.at.get()
                            on:input=move |ev| form.at.set(event_target_value(&ev))/>
                    </div>
                    <div>
                        <label for="visit-kind">{move || t(T::VisitKind)}</label>
                        <select id="visit-kind" on:change=move |ev| {
                            if let Some(kind) = VisitKind::parse(&event_target_value(&ev)) { form.kind.set(kind); }
                        }>
                            {VisitKind::ALL.iter().map(|k| view! {
                                <option value=k.as_str() selected=move || form.kind.get() == *k>{move || kind_text(*k)}</option>
                            }).collect_view()}
                        </select>
                    </div>
                </div>
                {(!members.is_empty()).then(|| view! {
                    <fieldset class="present">
                        <legend>{move || t(T::Present)}</legend>
                        {members.iter().map(|m| {
                            let id = m.id.clone();
                            let checked_id = id.clone();
                            view! {
                                <label class="check">
                                    <input type="checkbox" prop:checked=move || form.present.get().contains(&checked_id)
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            let id = id.clone();
                                            form.present.update(|p| { p.retain(|x| *x != id); if on { p.push(id); } });
                                        }/>
                                    {m.name.clone()}
                                </label>
                            }
                        }).collect_view()}
                    </fieldset>
                })}
                <fieldset class="observations">
                    <legend>{move || t(T::Observations)}</legend>
                    {Theme::ALL.iter().zip(form.observations).map(|(theme, text)| {
                        let id = format!("obs-{}", theme.as_str());
                        view! {
                            <label for=id.clone()>{move || theme_text(*theme)}</label>
                            <textarea id=id rows="3" prop:value=move || text.get()
                                on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                        }
                    }).collect_view()}
                </fieldset>
                <label for="follow-up">{move || t(T::FollowUp)}</label>
                <textarea id="follow-up" rows="3" placeholder=move || t(T::FollowUpPlaceholder)
                    prop:value=move || form.follow_up.get() on:input=move |ev| form.follow_up.set(event_target_value(&ev))></textarea>
                {awaits_answer.then(|| view! {
                    <label for="answer">{move || t(T::YourAnswer)}</label>
                    <textarea id="answer" rows="3" prop:value=move || form.answer.get()
                        on:input=move |ev| form.answer.set(event_target_value(&ev))></textarea>
                })}
                <div class="actions">
                    {if awaits_answer {
                        view! {
                            <button type="button" class="primary" on:click=move |_| save(Intent::Answer)>{move || t(T::AnswerAndResubmit)}</button>
                        }.into_any()
                    } else {
                        view! {
                            <button type="button" on:click=move |_| save_draft(Intent::Draft)>{move || t(T::SaveDraft)}</button>
                            <button type="button" class="primary" on:click=move |_| save_submit(Intent::Submit)>{move || t(T::Submit)}</button>
                        }.into_any()
                    }}
                </div>
            </fieldset>
        </form>
        {move || saved.get().then(|| view! { <p role="status">{t(T::Saved)}</p> })}
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
    }
    .into_any()
}

/// Writes only what differs, so concurrent edits of other fields stay intact.
fn update_visit<T: Transactable>(
    tx: &mut T,
    visit: &str,
    at_ms: i64,
    kind: VisitKind,
    present: &[String],
    observations: &[(Theme, String)],
) -> Result<(), automerge::AutomergeError> {
    let object = |tx: &T, obj: &automerge::ObjId, key: &str| match tx.get(obj, key)? {
        Some((automerge::Value::Object(_), id)) => Ok(id),
        _ => Err(automerge::AutomergeError::InvalidOp(ObjType::Map)),
    };
    let visits = object(tx, &ROOT, "visits")?;
    let obj = object(tx, &visits, visit)?;
    let text = |tx: &T, obj: &automerge::ObjId, key: &str| -> Option<String> {
        match tx.get(obj, key).ok()?? {
            (automerge::Value::Scalar(s), _) => match s.as_ref() {
                ScalarValue::Str(s) => Some(s.to_string()),
                _ => None,
            },
            (automerge::Value::Object(ObjType::Text), id) => tx.text(&id).ok(),
            _ => None,
        }
    };
    if !matches!(tx.get(&obj, "at")?, Some((automerge::Value::Scalar(s), _)) if *s == ScalarValue::Timestamp(at_ms))
    {
        tx.put(&obj, "at", ScalarValue::Timestamp(at_ms))?;
    }
    if text(tx, &obj, "kind").as_deref() != Some(kind.as_str()) {
        tx.put(&obj, "kind", kind.as_str())?;
    }
    let list = object(tx, &obj, "present")?;
    let current: Vec<String> = (0..tx.length(&list))
        .filter_map(|i| match tx.get(&list, i).ok()?? {
            (automerge::Value::Scalar(s), _) => s.as_str().map(str::to_owned),
            _ => None,
        })
        .collect();
    if current != present {
        for index in (0..current.len()).rev() {
            tx.delete(&list, index)?;
        }
        for (index, member) in present.iter().enumerate() {
            tx.insert(&list, index, member.as_str())?;
        }
    }
    let observations_obj = object(tx, &obj, "observations")?;
    for theme in Theme::ALL {
        let new = observations
            .iter()
            .find(|(t, _)| t == theme)
            .map(|(_, text)| text.as_str());
        let old = text(tx, &observations_obj, theme.as_str());
        match (old.as_deref(), new) {
            (old, Some(new)) if old != Some(new) => {
                tx.put(&observations_obj, theme.as_str(), new)?
            }
            (Some(_), None) => tx.delete(&observations_obj, theme.as_str())?,
            _ => {}
        }
    }
    Ok(())
}
