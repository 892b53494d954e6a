//! The radar for case directors: families of their municipality slipping off
//! it, each with why and a link to the case; and the municipality's limit of
//! days without a visit. Computed by the server over all its cases: online only.

use leptos::prelude::*;
use serde_json::json;
use veldwerk_core::DocumentId;
use veldwerk_core::api::oversight::{
    ADDRESS_MOVED, ADDRESS_UNKNOWN, HANDOVER_PENDING, NEW_SIGNAL, NO_VISIT, RETURNED_VISITS, Radar,
    RadarItem, RadarSettings,
};

use super::{Route, format_date, t};
use crate::i18n::T;
use crate::platform::{Failure, api, request};

fn reason_text(reason: &str, item: &RadarItem) -> String {
    match reason {
        NO_VISIT => format!("{} {}", item.days_without_visit, t(T::DaysWithoutVisit)),
        ADDRESS_MOVED => t(T::AddressMoved).to_owned(),
        ADDRESS_UNKNOWN => t(T::AddressUnknown).to_owned(),
        RETURNED_VISITS => format!("{} {}", item.returned_visits, t(T::ReturnedNotApproved)),
        NEW_SIGNAL => format!(
            "{} {}",
            t(T::NewSignalFrom),
            item.new_signal_from.clone().unwrap_or_default()
        ),
        HANDOVER_PENDING => format!(
            "{} {}",
            t(T::HandoverPendingTo),
            item.handover_to.clone().unwrap_or_default()
        ),
        other => other.to_owned(),
    }
}

#[component]
pub fn RadarScreen() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let data = LocalResource::new(move || {
        version.track();
        async move {
            let body = api("GET", "/api/radar", None).await?;
            serde_json::from_value::<Radar>(body).map_err(|e| Failure::Browser(e.to_string()))
        }
    });
    let days = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(n) = days.get_untracked().trim().parse::<i64>() else {
            error.set(Some(t(T::DaysInvalid).to_owned()));
            return;
        };
        leptos::task::spawn_local(async move {
            match api(
                "PUT",
                "/api/radar/settings",
                Some(&request(&RadarSettings { no_visit_days: n })),
            )
            .await
            {
                Ok(_) => {
                    error.set(None);
                    version.update(|v| *v += 1);
                }
                Err(e) => error.set(Some(format!("{}: {e}", t(T::Error)))),
            }
        });
    };
    view! {
        <section class="radar">
            <h1>{move || t(T::Radar)}</h1>
            <p>{move || t(T::RadarIntro)}</p>
            {move || match data.get() {
                None => view! { <p>{t(T::Loading)}</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{format!("{}: {e}", t(T::Error))}</p> }.into_any(),
                Some(Ok(radar)) => {
                    if days.get_untracked().is_empty() {
                        days.set(radar.no_visit_days.to_string());
                    }
                    let incoming = (radar.incoming_handovers > 0).then(|| view! {
                        <p class="banner" role="status">
                            <a href=Route::Handovers.href()>{format!("{} {}", radar.incoming_handovers, t(T::IncomingHandoversWaiting))}</a>
                        </p>
                    });
                    let awaiting = (!radar.awaiting_direction.is_empty()).then(|| view! {
                        <h2 id="awaiting-h">{t(T::AwaitingDirection)}</h2>
                        <ul class="cards" aria-labelledby="awaiting-h">
                            {radar.awaiting_direction.iter().map(|a| {
                                let path = format!("/api/cases/{}/direction", a.document_id);
                                view! {
                                    <li class="card">
                                        <span class="label">{a.label.clone()}</span>
                                        <span>{format!("{} {} · {}", t(T::RegisteredByOrg), a.registered_by, format_date(a.created_at))}</span>
                                        <button on:click=move |_| {
                                            let path = path.clone();
                                            leptos::task::spawn_local(async move {
                                                match api("POST", &path, Some(&json!({}))).await {
                                                    Ok(_) => {
                                                        crate::sync::refresh_caseload().await;
                                                        version.update(|v| *v += 1);
                                                    }
                                                    Err(e) => error.set(Some(format!("{}: {e}", t(T::Error)))),
                                                }
                                            });
                                        }>{t(T::TakeDirection)}</button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    });
                    let items = if radar.items.is_empty() {
                        view! { <p class="empty">{t(T::RadarEmpty)}</p> }.into_any()
                    } else {
                        view! {
                            <ul class="cases">
                                {radar.items.iter().map(|item| {
                                    let href = item.document_id.parse::<DocumentId>().map(|id| Route::Case(id).href()).unwrap_or_default();
                                    view! {
                                        <li>
                                            <a class="case-card" href=href>
                                                <span class="label">{item.label.clone()}</span>
                                                <span class="last-visit">{match item.last_visit_at {
                                                    Some(ms) => format!("{}: {}", t(T::LastVisit), format_date(ms)),
                                                    None => t(T::NeverVisited).to_owned(),
                                                }}</span>
                                                <span class="badges">
                                                    {item.reasons.iter().map(|r| view! {
                                                        <span class="badge returned">{reason_text(r, item)}</span>
                                                    }).collect_view()}
                                                </span>
                                            </a>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    };
                    view! { {incoming} {items} {awaiting} }.into_any()
                }
            }}
            <form class="card" on:submit=save>
                <label for="radar-days">{move || t(T::RadarDays)}</label>
                <input id="radar-days" type="number" min="1" max="730" inputmode="numeric"
                    prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev))/>
                <button type="submit">{move || t(T::Save)}</button>
            </form>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </section>
    }
}
