//! Case direction for case directors of a municipality: the handover
//! requests to and from their municipality (accept, refuse with a reason,
//! withdraw), and on a case they direct its team, a handover request, the
//! trail of its direction and its links to other households. All of it is
//! decided by the server: online only.

use leptos::prelude::*;
use serde_json::{Value, json};
use veldwerk_core::DocumentId;
use veldwerk_core::api::cases::TeamChange;
use veldwerk_core::api::direction::{
    AskHandover, HandoverDecision, HandoverItem as Handover, LinkHousehold, LinkItem, Organisation,
};
use veldwerk_core::identity::LinkBasis;

use super::{Route, format_date, t};
use crate::app;
use crate::i18n::T;
use crate::platform::{self, Failure, api};

fn status_text(status: &str) -> &'static str {
    match status {
        "requested" => t(T::StatusRequested),
        "accepted" => t(T::StatusAccepted),
        "refused" => t(T::StatusRefused),
        _ => t(T::StatusWithdrawn),
    }
}

pub fn basis_text(basis: LinkBasis) -> &'static str {
    match basis {
        LinkBasis::SameAddress => t(T::BasisSameAddress),
        LinkBasis::MemberMovedIn => t(T::BasisMemberMovedIn),
        LinkBasis::SharedCare => t(T::BasisSharedCare),
        LinkBasis::Other => t(T::BasisOther),
    }
}

fn failed(e: &Failure) -> String {
    format!("{}: {e}", t(T::Error))
}

async fn get<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, Failure> {
    let body = api("GET", path, None).await?;
    serde_json::from_value(body).map_err(|e| Failure::Browser(e.to_string()))
}

/// Runs an API call, then reloads through `version`, or shows the server's reason.
fn act(
    method: &'static str,
    path: String,
    body: Value,
    version: RwSignal<u32>,
    error: RwSignal<Option<String>>,
    then: impl FnOnce() + 'static,
) {
    leptos::task::spawn_local(async move {
        match api(method, &path, Some(&body)).await {
            Ok(_) => {
                error.set(None);
                then();
                version.update(|v| *v += 1);
            }
            Err(e) => error.set(Some(failed(&e))),
        }
    });
}

/// One handover, as either municipality sees it.
fn handover_line(h: &Handover) -> impl IntoView + use<> {
    let decided = h.decided_at.map(|at| {
        format!(
            "{} {} · {}",
            t(T::DecidedBy),
            h.decided_by.clone().unwrap_or_default(),
            format_date(at)
        )
    });
    view! {
        <span class="label">{h.label.clone()}</span>
        <span>{format!("{}: {} → {}: {}", t(T::From), h.from, t(T::To), h.to)}</span>
        <span>{format!("{}: {}", t(T::Reason), h.reason)}</span>
        <span class="when">{format!("{} {} · {}", t(T::RequestedBy), h.requested_by, format_date(h.requested_at))}</span>
        <span class="badge" data-status=h.status.clone()>{status_text(&h.status)}</span>
        {decided.map(|d| view! { <span class="when">{d}</span> })}
        {h.note.clone().map(|n| view! { <span class="note">{n}</span> })}
    }
}

#[component]
pub fn HandoversScreen() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let list = LocalResource::new(move || {
        version.track();
        get::<Vec<Handover>>("/api/handovers")
    });
    let error = RwSignal::new(None::<String>);
    view! {
        <section class="handovers">
            <h1>{move || t(T::Handovers)}</h1>
            <p>{move || t(T::HandoversIntro)}</p>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || match list.get() {
                None => view! { <p>{t(T::Loading)}</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{failed(&e)}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="empty">{t(T::NoHandovers)}</p> }.into_any(),
                Some(Ok(list)) => {
                    let (incoming, rest): (Vec<Handover>, Vec<Handover>) = list
                        .into_iter()
                        .partition(|h| h.direction == "incoming" && h.status == "requested");
                    view! {
                        {(!incoming.is_empty()).then(|| view! {
                            <h2>{t(T::Incoming)}</h2>
                            <ul class="cards">
                                {incoming.into_iter().map(|h| view! { <Incoming h=h version=version error=error/> }).collect_view()}
                            </ul>
                        })}
                        <ul class="cards">
                            {rest.into_iter().map(|h| {
                                let withdraw = (h.direction == "outgoing" && h.status == "requested").then(|| {
                                    let path = format!("/api/handovers/{}/withdraw", h.id);
                                    view! { <button on:click=move |_| act("POST", path.clone(), platform::request(&HandoverDecision::default()), version, error, || {})>{t(T::Withdraw)}</button> }
                                });
                                view! {
                                    <li class="card handover" data-direction=h.direction.clone()>
                                        <span class="direction">{if h.direction == "incoming" { t(T::Incoming) } else { t(T::Outgoing) }}</span>
                                        {handover_line(&h)}
                                        {withdraw}
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

/// An incoming request: accept, or refuse with a reason.
#[component]
fn Incoming(h: Handover, version: RwSignal<u32>, error: RwSignal<Option<String>>) -> impl IntoView {
    let note = RwSignal::new(String::new());
    let field = format!("refuse-{}", h.id);
    let accept = format!("/api/handovers/{}/accept", h.id);
    let refuse = format!("/api/handovers/{}/refuse", h.id);
    view! {
        <li class="card handover incoming">
            {handover_line(&h)}
            <button class="primary" on:click=move |_| act("POST", accept.clone(), platform::request(&HandoverDecision::default()), version, error, || {
                // The case is ours now: bring it onto this tablet.
                leptos::task::spawn_local(crate::sync::refresh_caseload());
            })>{t(T::Accept)}</button>
            <label for=field.clone()>{t(T::RefuseReason)}</label>
            <textarea id=field rows="2" prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))></textarea>
            <button on:click=move |_| {
                let text = note.get_untracked();
                if text.trim().is_empty() {
                    error.set(Some(t(T::RefuseReasonRequired).to_owned()));
                    return;
                }
                act("POST", refuse.clone(), platform::request(&HandoverDecision { note: text }), version, error, || {});
            }>{t(T::Refuse)}</button>
        </li>
    }
}

/// What the case director of the municipality directing a case sees of its
/// direction. Renders nothing for anyone else; says it needs the network when
/// offline.
#[component]
pub fn Direction(id: DocumentId) -> impl IntoView {
    let version = RwSignal::new(0u32);
    // A household registered on this tablet is unknown to the server until
    // it synced: ask again once the server has it.
    // Once: what the server has it keeps.
    let on_server = Memo::new(move |before: Option<&bool>| {
        before.copied().unwrap_or(false)
            || app::read(|r| r.docs.get(&id).is_some_and(|d| !d.acked.is_empty()))
    });
    let data = LocalResource::new(move || {
        version.track();
        on_server.track();
        async move {
            let trail = get::<Vec<Handover>>(&format!("/api/cases/{id}/handovers")).await?;
            let team = get::<Vec<String>>(&format!("/api/cases/{id}/team")).await?;
            let links = get::<Vec<LinkItem>>(&format!("/api/cases/{id}/links")).await?;
            let organisations = get::<Vec<Organisation>>("/api/organisations").await?;
            Ok::<_, Failure>((trail, team, links, organisations))
        }
    });
    let error = RwSignal::new(None::<String>);
    // Outside the section, which is drawn again at each answer: a choice
    // being made survives a reload of the team.
    let chosen = RwSignal::new(String::new());
    view! {
        {move || match data.get() {
            None | Some(Err(Failure::Server { .. })) => ().into_any(),
            Some(Err(_)) => view! { <p class="note">{t(T::DirectionOnline)}</p> }.into_any(),
            Some(Ok((trail, team, links, organisations))) => view! {
                <section class="direction" aria-labelledby="direction-h">
                    <h2 id="direction-h">{t(T::Direction)}</h2>
                    {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                    <Team id=id team=team organisations=organisations.clone() version=version error=error chosen=chosen/>
                    <HandOver id=id trail=trail organisations=organisations version=version error=error/>
                    <Links id=id links=links version=version error=error/>
                </section>
            }.into_any(),
        }}
    }
}

#[component]
fn Team(
    id: DocumentId,
    team: Vec<String>,
    organisations: Vec<Organisation>,
    version: RwSignal<u32>,
    error: RwSignal<Option<String>>,
    chosen: RwSignal<String>,
) -> impl IntoView {
    let me = app::read(|r| r.me.as_ref().map(|m| m.organisation.clone())).unwrap_or_default();
    let path = format!("/api/cases/{id}/team");
    let candidates: Vec<String> = organisations
        .into_iter()
        .map(|o| o.name)
        .filter(|name| !team.contains(name))
        .collect();
    let add_path = path.clone();
    view! {
        <h3 id="team-h">{t(T::Team)}</h3>
        <ul class="team" aria-labelledby="team-h">
            {team.into_iter().map(|name| {
                let remove = (name != me).then(|| {
                    let (path, name) = (path.clone(), name.clone());
                    view! { <button on:click=move |_| act("POST", path.clone(), platform::request(&TeamChange { add: None, remove: Some(name.clone()) }), version, error, || {})>{t(T::Remove)}</button> }
                });
                view! { <li>{name}{remove}</li> }
            }).collect_view()}
        </ul>
        <form class="inline" on:submit=move |ev| {
            ev.prevent_default();
            let name = chosen.get_untracked();
            if !name.is_empty() {
                act("POST", add_path.clone(), platform::request(&TeamChange { add: Some(name), remove: None }), version, error, move || chosen.set(String::new()));
            }
        }>
            <label for="team-add">{t(T::AddToTeam)}</label>
            <select id="team-add" prop:value=move || chosen.get() on:change=move |ev| chosen.set(event_target_value(&ev))>
                <option value="">{t(T::PickOne)}</option>
                {candidates.into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
            </select>
            <button type="submit">{t(T::Add)}</button>
        </form>
    }
}

#[component]
fn HandOver(
    id: DocumentId,
    trail: Vec<Handover>,
    organisations: Vec<Organisation>,
    version: RwSignal<u32>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let me = app::read(|r| r.me.as_ref().map(|m| m.organisation.clone())).unwrap_or_default();
    let open = trail.iter().find(|h| h.status == "requested").cloned();
    let to = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let municipalities: Vec<String> = organisations
        .into_iter()
        .filter(|o| o.kind == "municipality" && o.name != me)
        .map(|o| o.name)
        .collect();
    let request = match open {
        Some(h) => {
            let path = format!("/api/handovers/{}/withdraw", h.id);
            view! {
                <p class="badge" data-status="requested">{format!("{} {}", t(T::HandoverAsked), h.to)}</p>
                <button on:click=move |_| act("POST", path.clone(), platform::request(&HandoverDecision::default()), version, error, || {})>{t(T::Withdraw)}</button>
            }
            .into_any()
        }
        None => view! {
            <form class="card" on:submit=move |ev| {
                ev.prevent_default();
                let body = platform::request(&AskHandover { to: to.get_untracked(), reason: reason.get_untracked() });
                act("POST", format!("/api/cases/{id}/handover"), body, version, error, || {});
            }>
                <label for="handover-to">{t(T::Municipality)}</label>
                <select id="handover-to" on:change=move |ev| to.set(event_target_value(&ev))>
                    <option value="">{t(T::PickOne)}</option>
                    {municipalities.into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                </select>
                <label for="handover-reason">{t(T::Reason)}</label>
                <textarea id="handover-reason" rows="2" prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
                <button type="submit" class="primary">{t(T::AskHandover)}</button>
            </form>
        }
        .into_any(),
    };
    view! {
        <h3>{t(T::HandOver)}</h3>
        {request}
        {(!trail.is_empty()).then(|| view! {
            <h3 id="trail-h">{t(T::Trail)}</h3>
            <ol class="cards trail" aria-labelledby="trail-h">
                {trail.iter().map(|h| view! { <li class="card handover">{handover_line(h)}</li> }).collect_view()}
            </ol>
        })}
    }
}

#[component]
fn Links(
    id: DocumentId,
    links: Vec<LinkItem>,
    version: RwSignal<u32>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let other = RwSignal::new(String::new());
    let basis = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let here = id.to_string();
    let households: Vec<(String, String)> = app::read(|r| {
        r.listed
            .iter()
            .filter(|l| l.document_id != here)
            .map(|l| (l.document_id.clone(), l.label.clone()))
            .collect()
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = platform::request(&LinkHousehold {
            other: other.get_untracked(),
            basis: basis.get_untracked(),
            note: note.get_untracked(),
        });
        act(
            "POST",
            format!("/api/cases/{id}/links"),
            body,
            version,
            error,
            move || note.set(String::new()),
        );
    };
    view! {
        <h3 id="links-h">{t(T::Links)}</h3>
        <p class="note">{t(T::LinksIntro)}</p>
        {if links.is_empty() {
            view! { <p class="empty">{t(T::NoLinks)}</p> }.into_any()
        } else {
            view! {
                <ul class="cards links" aria-labelledby="links-h">
                    {links.into_iter().map(|l| {
                        let name = match (&l.label, &l.document_id) {
                            (Some(label), Some(doc)) => {
                                let href = doc.parse::<DocumentId>().map(|d| Route::Case(d).href()).unwrap_or_default();
                                view! { <a href=href>{label.clone()}</a> }.into_any()
                            }
                            _ => view! { <span>{format!("{} {}", t(T::DirectedBy), l.directed_by.clone().unwrap_or_default())}</span> }.into_any(),
                        };
                        let basis = LinkBasis::parse(&l.basis).map_or(l.basis.clone(), |b| basis_text(b).to_owned());
                        let path = format!("/api/cases/{id}/links/{}", l.id);
                        view! {
                            <li class="card link">
                                {name}
                                <span class="badge">{basis}</span>
                                {(!l.note.is_empty()).then(|| view! { <span class="note">{l.note.clone()}</span> })}
                                <span class="when">{format!("{} · {}", l.recorded_by, format_date(l.recorded_at))}</span>
                                <button on:click=move |_| act("DELETE", path.clone(), json!({}), version, error, || {})>{t(T::Remove)}</button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        <form class="card" on:submit=submit>
            <label for="link-other">{t(T::OtherHousehold)}</label>
            <select id="link-other" on:change=move |ev| other.set(event_target_value(&ev))>
                <option value="">{t(T::PickOne)}</option>
                {households.into_iter().map(|(doc, label)| view! { <option value=doc>{label}</option> }).collect_view()}
            </select>
            <label for="link-basis">{t(T::Basis)}</label>
            <select id="link-basis" on:change=move |ev| basis.set(event_target_value(&ev))>
                <option value="">{t(T::PickOne)}</option>
                {LinkBasis::ALL.iter().map(|b| view! { <option value=b.as_str()>{basis_text(*b)}</option> }).collect_view()}
            </select>
            <label for="link-note">{t(T::LinkNote)}</label>
            <textarea id="link-note" rows="2" prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))></textarea>
            <button type="submit">{t(T::LinkHousehold)}</button>
        </form>
    }
}
