//! One family: household, members, visits, agreements; settling a conflict;
//! registering a new household.

use leptos::prelude::*;
use veldwerk_core::DocumentId;
use veldwerk_core::case::{
    AddressStatus, CaseView, MemberRole, ReviewStatus, Theme, VisitStatus, add_member, history,
    set_address,
};

use super::{Route, format_time, go, t};
use crate::app;
use crate::i18n::T;

pub fn status_text(status: AddressStatus) -> &'static str {
    match status {
        AddressStatus::Known => t(T::StatusKnown),
        AddressStatus::Moved => t(T::StatusMoved),
        AddressStatus::Unknown => t(T::StatusUnknown),
    }
}

pub fn visit_state(status: VisitStatus, review: Option<ReviewStatus>) -> &'static str {
    match (review, status) {
        (Some(ReviewStatus::Approved), _) => t(T::Approved),
        (Some(ReviewStatus::Returned), _) => t(T::Returned),
        (None, VisitStatus::Draft) => t(T::Draft),
        (None, VisitStatus::Submitted) => t(T::Submitted),
    }
}

fn case_view(id: DocumentId) -> Option<CaseView> {
    app::read(|r| r.docs.get(&id).and_then(app::LocalDoc::view))
}

/// The state of the forms on a case screen. It lives as long as the screen, not
/// as one rendering of the record: the record re-renders whenever anything syncs,
/// and a half-typed address must survive that.
#[derive(Clone, Copy)]
struct Forms {
    /// The address being edited (draft), if the editor is open.
    address_open: RwSignal<bool>,
    address_draft: RwSignal<String>,
    address_status: RwSignal<AddressStatus>,
    member_open: RwSignal<bool>,
    member_name: RwSignal<String>,
    member_birth: RwSignal<String>,
    member_role: RwSignal<MemberRole>,
    history_open: RwSignal<bool>,
    error: RwSignal<Option<String>>,
}

#[component]
pub fn Case(id: DocumentId) -> impl IntoView {
    name_writers(id);
    let forms = Forms {
        address_open: RwSignal::new(false),
        address_draft: RwSignal::new(String::new()),
        address_status: RwSignal::new(AddressStatus::Known),
        member_open: RwSignal::new(false),
        member_name: RwSignal::new(String::new()),
        member_birth: RwSignal::new(String::new()),
        member_role: RwSignal::new(MemberRole::Child),
        history_open: RwSignal::new(false),
        error: RwSignal::new(None),
    };
    let drafts = super::fields::Drafts::new();
    view! {
        <nav class="crumbs"><a href="#/">{move || t(T::Back)}</a></nav>
        {move || match case_view(id) {
            None => view! { <p>{t(T::Loading)}</p> }.into_any(),
            Some(view) => {
                let members = view.members.clone();
                view! {
                    <article class="case">
                        <h1>{view.label.clone()}</h1>
                        <a class="button" href=Route::Summary(id).href()>{t(T::SummaryLink)}</a>
                        <super::conflicts::Conflicts id=id view=view.clone() drafts=drafts/>
                        <section aria-labelledby="household-h">
                            <h2 id="household-h">{t(T::Household)}</h2>
                            <Address id=id view=view.clone() forms=forms/>
                        </section>
                        <section aria-labelledby="members-h">
                            <h2 id="members-h">{t(T::Members)}</h2>
                            {if members.is_empty() {
                                view! { <p class="empty">{t(T::NoMembers)}</p> }.into_any()
                            } else {
                                view! { <ul class="members">{members.into_iter().map(|m| view! {
                                    <super::fields::MemberItem id=id member=m drafts=drafts/>
                                }).collect_view()}</ul> }.into_any()
                            }}
                            <AddMember id=id forms=forms/>
                        </section>
                        <section aria-labelledby="visits-h">
                            <div class="toolbar">
                                <h2 id="visits-h">{t(T::Visits)}</h2>
                                <button class="primary" on:click=move |_| go(Route::NewVisit(id))>{t(T::RecordVisit)}</button>
                            </div>
                            {if view.visits.is_empty() {
                                view! { <p class="empty">{t(T::NoVisits)}</p> }.into_any()
                            } else {
                                view! { <ol class="timeline">{view.visits.iter().map(|v| {
                                    let href = Route::Visit(id, v.id.clone()).href();
                                    let summary: String = v.observations.first().map(|(_, text)| text.chars().take(120).collect()).unwrap_or_default();
                                    view! {
                                        <li>
                                            <a href=href class="visit-card">
                                                <span class="when">{format_time(v.at_ms)}</span>
                                                <span class="who">{format!("{} · {}", v.author, v.organisation)}</span>
                                                <span class="badge">{visit_state(v.status, v.review.as_ref().map(|r| r.status))}</span>
                                                <span class="summary">{summary}</span>
                                            </a>
                                        </li>
                                    }
                                }).collect_view()}</ol> }.into_any()
                            }}
                        </section>
                        <History id=id view=view.clone() forms=forms/>
                        <section aria-labelledby="agreements-h">
                            <h2 id="agreements-h">{t(T::Agreements)}</h2>
                            {if view.agreements.is_empty() {
                                view! { <p class="empty">{t(T::NoAgreements)}</p> }.into_any()
                            } else {
                                view! { <ul class="agreements">{view.agreements.iter().map(|a| view! {
                                    <super::fields::AgreementItem id=id agreement=a.clone() drafts=drafts/>
                                }).collect_view()}</ul> }.into_any()
                            }}
                        </section>
                    </article>
                }.into_any()
            }
        }}
        <super::direction::Direction id=id/>
        <super::restricted::Restricted case=id/>
    }
}

/// Names the writers of a case's history once it is open (and again when it grew).
fn name_writers(id: DocumentId) {
    let heads = Memo::new(move |_| app::read(|r| r.docs.get(&id).map(|d| d.doc.get_heads())));
    Effect::new(move || {
        if heads.with(Option::is_some) {
            leptos::task::spawn_local(app::learn_writers(id));
        }
    });
}

/// Who wrote with `actor`: this tablet, a person the record or the server
/// names, or another device.
pub(super) fn writer_name(
    view: &CaseView,
    mine: Option<&automerge::ActorId>,
    actor: &automerge::ActorId,
) -> String {
    if Some(actor) == mine {
        return t(T::You).to_owned();
    }
    if let Some((handle, organisation)) = view.writer(actor) {
        return format!("{handle} ({organisation})");
    }
    match app::read(|r| r.writers.get(&actor.to_hex_string()).cloned()) {
        Some((handle, organisation)) => format!("{handle} ({organisation})"),
        None => t(T::OtherDevice).to_owned(),
    }
}

/// The address, and when two were entered at once, both side by side with who wrote each.
#[component]
fn Address(id: DocumentId, view: CaseView, forms: Forms) -> impl IntoView {
    let (open, draft, status, error) = (
        forms.address_open,
        forms.address_draft,
        forms.address_status,
        forms.error,
    );
    let recorded_status = view.address_status;
    let edit = move |value: String| {
        draft.set(value);
        status.set(recorded_status);
        open.set(true);
    };
    let save = move |address: String, s: AddressStatus| {
        leptos::task::spawn_local(async move {
            match app::edit(id, move |tx| set_address(tx, address.trim(), s)).await {
                Ok(()) => {
                    open.set(false);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let current = view
        .address
        .first()
        .map(|a| a.value.clone())
        .unwrap_or_default();
    view! {
        <dl>
            <dt>{t(T::Address)}</dt>
            <dd data-testid="address">{current.clone()}</dd>
            <dt>{t(T::AddressStatus)}</dt>
            <dd>{status_text(view.address_status)}</dd>
        </dl>
        {move || if !open.get() {
            view! {
                <button on:click={
                    let current = current.clone();
                    move |_| edit(current.clone())
                }>{t(T::ChangeAddress)}</button>
            }.into_any()
        } else {
            {
                view! {
                    <form class="card" on:submit=move |ev| { ev.prevent_default(); save(draft.get_untracked(), status.get_untracked()); }>
                        <label for="address">{t(T::Address)}</label>
                        <input id="address" prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev))/>
                        <label for="address-status">{t(T::AddressStatus)}</label>
                        <select id="address-status" on:change=move |ev| {
                            if let Some(s) = AddressStatus::parse(&event_target_value(&ev)) { status.set(s); }
                        }>
                            {AddressStatus::ALL.iter().map(|s| view! {
                                <option value=s.as_str() selected=move || status.get() == *s>{status_text(*s)}</option>
                            }).collect_view()}
                        </select>
                        <button type="submit" class="primary">{t(T::Save)}</button>
                        <button type="button" on:click=move |_| open.set(false)>{t(T::Cancel)}</button>
                    </form>
                }.into_any()
            }
        }}
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
    }
}

pub(super) fn field_text(field: &str) -> String {
    let parts: Vec<&str> = field.split('.').collect();
    match parts.as_slice() {
        ["household", "address"] => t(T::Address).to_owned(),
        ["household", "addressStatus"] => t(T::AddressStatus).to_owned(),
        ["household", "label"] => t(T::Label).to_owned(),
        ["visits", _, "observations", theme] => Theme::parse(theme).map_or_else(
            || (*theme).to_owned(),
            |th| format!("{} · {}", t(T::Visit), super::visit::theme_text(th)),
        ),
        ["visits", _, "review", ..] => t(T::ReviewComment).to_owned(),
        ["visits", _, rest @ ..] => format!("{} · {}", t(T::Visit), rest.join(".")),
        ["members", _, "name"] => format!("{} · {}", t(T::Members), t(T::MemberName)),
        ["members", _, "birthDate"] => format!("{} · {}", t(T::Members), t(T::BirthDate)),
        ["members", _, "role"] => format!("{} · {}", t(T::Members), t(T::MemberRole)),
        ["members", ..] => t(T::Members).to_owned(),
        ["agreements", _, "text"] => t(T::AgreementText).to_owned(),
        ["agreements", _, "due"] => t(T::AgreementDue).to_owned(),
        ["agreements", _, "done"] => t(T::AgreementDone).to_owned(),
        ["agreements", ..] => t(T::Agreements).to_owned(),
        _ => field.to_owned(),
    }
}

/// Who changed what, when, from the record's own change history, newest first.
/// Computed when opened: it walks every change of the record.
#[component]
fn History(id: DocumentId, view: CaseView, forms: Forms) -> impl IntoView {
    let open = forms.history_open;
    let my_actor = app::read(|r| r.me.as_ref().map(app::Me::actor));
    let writer = move |actor: &automerge::ActorId| writer_name(&view, my_actor.as_ref(), actor);
    let list = move || {
        let entries = app::read(|r| r.docs.get(&id).map(|l| history(&l.doc))).unwrap_or_default();
        let writer = writer.clone();
        view! {
            <ol data-testid="history" class="history">
                {entries.iter().rev().filter(|e| !e.edits.is_empty()).map(|entry| {
                    let when = if entry.time_ms > 0 { format_time(entry.time_ms) } else { String::new() };
                    view! {
                        <li>
                            <p class="who">{format!("{when} · {}", writer(&entry.actor))}</p>
                            <ul>
                                {entry.edits.iter().filter(|e| e.after.as_deref() != Some("…") || e.before.is_some()).map(|e| view! {
                                    <li>
                                        <strong>{field_text(&e.field)}</strong>": "
                                        {e.before.clone().map(|b| view! { <del>{b}</del>" → " })}
                                        <ins>{e.after.clone().unwrap_or_else(|| t(T::Removed).to_owned())}</ins>
                                        {e.settles_conflict.then(|| view! { " " <span class="badge">{t(T::ConflictSettled)}</span> })}
                                    </li>
                                }).collect_view()}
                            </ul>
                        </li>
                    }
                }).collect_view()}
            </ol>
        }
    };
    view! {
        <section aria-labelledby="history-h">
            <h2 id="history-h">{t(T::History)}</h2>
            <button aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                {move || if open.get() { t(T::HideHistory) } else { t(T::ShowHistory) }}
            </button>
            {move || open.get().then(list.clone())}
        </section>
    }
}

pub fn role_text(role: MemberRole) -> &'static str {
    match role {
        MemberRole::Parent => t(T::RoleParent),
        MemberRole::Child => t(T::RoleChild),
        MemberRole::Carer => t(T::RoleCarer),
        MemberRole::Other => t(T::RoleOther),
    }
}

/// Adds a member of the household: name, birth date (optional) and place in the household.
#[component]
fn AddMember(id: DocumentId, forms: Forms) -> impl IntoView {
    let (open, name, birth, role, error) = (
        forms.member_open,
        forms.member_name,
        forms.member_birth,
        forms.member_role,
        forms.error,
    );
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (n, b, r) = (
            name.get_untracked(),
            birth.get_untracked(),
            role.get_untracked(),
        );
        if n.trim().is_empty() {
            error.set(Some(t(T::NameRequired).to_owned()));
            return;
        }
        leptos::task::spawn_local(async move {
            let member = app::new_id();
            let born = (!b.is_empty()).then_some(b);
            match app::edit(id, move |tx| {
                add_member(tx, &member, n.trim(), born.as_deref(), r)
            })
            .await
            {
                Ok(()) => {
                    open.set(false);
                    name.set(String::new());
                    birth.set(String::new());
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        {move || if open.get() {
            view! {
                <form class="card" on:submit=save>
                    <label for="member-name">{t(T::MemberName)}</label>
                    <input id="member-name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                    <label for="member-birth">{t(T::BirthDate)}</label>
                    <input id="member-birth" type="date" prop:value=move || birth.get() on:input=move |ev| birth.set(event_target_value(&ev))/>
                    <label for="member-role">{t(T::MemberRole)}</label>
                    <select id="member-role" on:change=move |ev| {
                        if let Some(r) = MemberRole::parse(&event_target_value(&ev)) { role.set(r); }
                    }>
                        {MemberRole::ALL.iter().map(|r| view! {
                            <option value=r.as_str() selected=move || role.get() == *r>{role_text(*r)}</option>
                        }).collect_view()}
                    </select>
                    <button type="submit" class="primary">{t(T::Save)}</button>
                    <button type="button" on:click=move |_| open.set(false)>{t(T::Cancel)}</button>
                </form>
            }.into_any()
        } else {
            view! { <button on:click=move |_| open.set(true)>{t(T::AddMember)}</button> }.into_any()
        }}
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
    }
}

#[component]
pub fn NewHousehold() -> impl IntoView {
    let label = RwSignal::new(String::new());
    let address = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let may_create = app::read(|r| {
        r.me.as_ref()
            .and_then(app::Me::role)
            .is_some_and(|role| role.may_create_cases())
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (l, a) = (label.get_untracked(), address.get_untracked());
        if l.trim().is_empty() {
            error.set(Some(t(T::LabelRequired).to_owned()));
            return;
        }
        leptos::task::spawn_local(async move {
            match app::create_household(&l, &a).await {
                Ok(id) => go(Route::Case(id)),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <nav class="crumbs"><a href="#/">{move || t(T::Back)}</a></nav>
        <h1>{move || t(T::NewHouseholdTitle)}</h1>
        {if may_create {
            view! {
                <form class="card" on:submit=save>
                    <label for="label">{move || t(T::Label)}</label>
                    <input id="label" required prop:value=move || label.get() on:input=move |ev| label.set(event_target_value(&ev))/>
                    <label for="new-address">{move || t(T::Address)}</label>
                    <input id="new-address" prop:value=move || address.get() on:input=move |ev| address.set(event_target_value(&ev))/>
                    <button type="submit" class="primary">{move || t(T::Save)}</button>
                </form>
            }.into_any()
        } else {
            view! { <p role="alert">{move || t(T::MayNotCreate)}</p> }.into_any()
        }}
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
    }
}
