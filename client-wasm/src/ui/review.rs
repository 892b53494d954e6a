//! A supervisor's review: the queue of submitted visits of their organisation
//! (oldest first, filtered by worker, date and theme), and one visit with what
//! changed since it was returned, to approve or return with a comment.

use leptos::prelude::*;
use veldwerk_core::DocumentId;
use veldwerk_core::case::{
    ReviewStatus, Theme, VisitField, VisitView, awaits_review, review_visit, visit_as_reviewed,
    visit_changes,
};

use super::visit::{kind_text, theme_text};
use super::{Route, format_time, go, t};
use crate::app;
use crate::i18n::T;
use crate::platform::now_ms;

#[derive(Clone, PartialEq)]
struct Item {
    case_id: DocumentId,
    label: String,
    visit: VisitView,
}

fn queue() -> Vec<Item> {
    app::read(|r| {
        let Some(me) = &r.me else { return Vec::new() };
        let mut items: Vec<Item> = r
            .docs
            .iter()
            .filter_map(|(id, local)| Some((*id, local.view()?)))
            .flat_map(|(case_id, view)| {
                let label = view.label.clone();
                view.visits
                    .into_iter()
                    .filter(|v| v.organisation == me.organisation && awaits_review(v))
                    .map(move |visit| Item {
                        case_id,
                        label: label.clone(),
                        visit,
                    })
            })
            .collect();
        items.sort_by_key(|i| {
            (
                i.visit.submitted_at_ms.unwrap_or(i.visit.at_ms),
                i.visit.at_ms,
            )
        });
        items
    })
}

fn day_start_ms(value: &str) -> Option<i64> {
    let ms = js_sys::Date::new(&format!("{value}T00:00").into()).get_time();
    (!ms.is_nan()).then_some(ms as i64)
}

#[component]
pub fn ReviewQueue() -> impl IntoView {
    let worker = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let theme = RwSignal::new(String::new());
    let workers = move || {
        let mut names: Vec<String> = queue().into_iter().map(|i| i.visit.author).collect();
        names.sort();
        names.dedup();
        names
    };
    let shown = move || {
        let (w, f, th) = (worker.get(), from.get(), theme.get());
        let from_ms = day_start_ms(&f);
        let theme = Theme::parse(&th);
        queue()
            .into_iter()
            .filter(|i| w.is_empty() || i.visit.author == w)
            .filter(|i| from_ms.is_none_or(|ms| i.visit.at_ms >= ms))
            .filter(|i| theme.is_none_or(|th| i.visit.observation(th).is_some()))
            .collect::<Vec<_>>()
    };
    view! {
        <section class="review-queue">
            <h1>{move || t(T::ReviewQueue)}</h1>
            <div class="filters three">
                <div>
                    <label for="filter-worker">{move || t(T::Worker)}</label>
                    <select id="filter-worker" on:change=move |ev| worker.set(event_target_value(&ev))>
                        <option value="">{move || t(T::AllWorkers)}</option>
                        {move || workers().into_iter().map(|name| view! {
                            <option value=name.clone()>{name.clone()}</option>
                        }).collect_view()}
                    </select>
                </div>
                <div>
                    <label for="filter-from">{move || t(T::FromDate)}</label>
                    <input id="filter-from" type="date" prop:value=move || from.get()
                        on:input=move |ev| from.set(event_target_value(&ev))/>
                </div>
                <div>
                    <label for="filter-theme">{move || t(T::Theme)}</label>
                    <select id="filter-theme" on:change=move |ev| theme.set(event_target_value(&ev))>
                        <option value="">{move || t(T::AllThemes)}</option>
                        {Theme::ALL.iter().map(|th| view! {
                            <option value=th.as_str()>{move || theme_text(*th)}</option>
                        }).collect_view()}
                    </select>
                </div>
            </div>
            {move || {
                let items = shown();
                if items.is_empty() {
                    view! { <p class="empty">{t(T::NothingToReview)}</p> }.into_any()
                } else {
                    view! {
                        <ol class="timeline">
                            {items.into_iter().map(|item| {
                                let href = Route::ReviewVisit(item.case_id, item.visit.id.clone()).href();
                                let resubmitted = item.visit.review.is_some();
                                let themes = item.visit.observations.iter().map(|(th, _)| theme_text(*th)).collect::<Vec<_>>().join(", ");
                                view! {
                                    <li>
                                        <a class="visit-card" href=href>
                                            <span class="label">{item.label.clone()}</span>
                                            <span class="who">{format!("{} · {}", item.visit.author, format_time(item.visit.at_ms))}</span>
                                            <span class="summary">{themes}</span>
                                            {resubmitted.then(|| view! { <span class="badge returned">{t(T::Resubmitted)}</span> })}
                                        </a>
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }
            }}
        </section>
    }
}

fn field_text(field: VisitField) -> &'static str {
    match field {
        VisitField::At => t(T::VisitDate),
        VisitField::Kind => t(T::VisitKind),
        VisitField::Present => t(T::Present),
        VisitField::Observation(theme) => theme_text(theme),
        VisitField::Answer => t(T::WorkerAnswer),
    }
}

#[component]
pub fn ReviewVisit(case_id: DocumentId, visit_id: String) -> impl IntoView {
    let snapshot = app::read(|r| {
        let local = r.docs.get(&case_id)?;
        let view = local.view()?;
        let visit = view.visit(&visit_id)?.clone();
        let then = visit_as_reviewed(&local.doc, &visit_id);
        Some((view.label, visit, then, r.me.clone()?))
    });
    let Some((label, visit, then, me)) = snapshot else {
        return view! { <p>{move || t(T::Loading)}</p> }.into_any();
    };
    let comment = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let changes = then
        .as_ref()
        .map(|then| visit_changes(then, &visit))
        .unwrap_or_default();
    let previous = visit.review.clone();
    let pending_review = awaits_review(&visit);
    let decide = move |status: ReviewStatus| {
        let text = comment.get_untracked().trim().to_owned();
        if status == ReviewStatus::Returned && text.is_empty() {
            error.set(Some(t(T::CommentRequired).to_owned()));
            return;
        }
        let (visit, reviewer) = (visit_id.clone(), me.handle.clone());
        leptos::task::spawn_local(async move {
            let at = now_ms();
            match app::edit(case_id, move |tx| {
                review_visit(tx, &visit, status, &reviewer, &text, at)
            })
            .await
            {
                Ok(()) => go(Route::Review),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let approve = decide.clone();
    view! {
        <nav class="crumbs"><a href=Route::Review.href()>{move || t(T::Back)}</a></nav>
        <h1>{label}</h1>
        <p class="subtitle">{format!("{} · {} · {}", visit.author, format_time(visit.at_ms), kind_text(visit.kind))}</p>
        {previous.map(|review| view! {
            <section class="review" aria-labelledby="previous-h">
                <h2 id="previous-h">{move || t(T::ReviewComment)}</h2>
                <p>{review.comment.clone()}</p>
                {visit.answer.clone().map(|answer| view! {
                    <h3>{move || t(T::WorkerAnswer)}</h3>
                    <p data-testid="worker-answer">{answer}</p>
                })}
            </section>
        })}
        {(!changes.is_empty()).then(|| view! {
            <section aria-labelledby="changes-h">
                <h2 id="changes-h">{move || t(T::ChangedSinceReturn)}</h2>
                <table class="changes" data-testid="changes">
                    <thead><tr>
                        <th scope="col">{move || t(T::Field)}</th>
                        <th scope="col">{move || t(T::Before)}</th>
                        <th scope="col">{move || t(T::After)}</th>
                    </tr></thead>
                    <tbody>
                        {changes.iter().map(|c| {
                            let (before, after) = match c.field {
                                VisitField::At => (
                                    c.before.parse().map(format_time).unwrap_or_default(),
                                    c.after.parse().map(format_time).unwrap_or_default(),
                                ),
                                _ => (c.before.clone(), c.after.clone()),
                            };
                            view! { <tr><th scope="row">{field_text(c.field)}</th><td><del>{before}</del></td><td><ins>{after}</ins></td></tr> }
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        })}
        <section aria-labelledby="observations-h">
            <h2 id="observations-h">{move || t(T::Observations)}</h2>
            <dl>
                {visit.observations.iter().map(|(theme, text)| view! {
                    <dt>{theme_text(*theme)}</dt><dd>{text.clone()}</dd>
                }).collect_view()}
            </dl>
        </section>
        {pending_review.then(|| view! {
            <form class="card" on:submit=move |ev| ev.prevent_default()>
                <label for="review-comment">{move || t(T::Comment)}</label>
                <textarea id="review-comment" rows="3" prop:value=move || comment.get()
                    on:input=move |ev| comment.set(event_target_value(&ev))></textarea>
                <div class="actions">
                    <button type="button" class="primary" on:click=move |_| approve(ReviewStatus::Approved)>{move || t(T::Approve)}</button>
                    <button type="button" on:click=move |_| decide(ReviewStatus::Returned)>{move || t(T::ReturnVisit)}</button>
                </div>
            </form>
        })}
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
    }
    .into_any()
}
