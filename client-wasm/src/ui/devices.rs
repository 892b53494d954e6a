//! "My devices": every device of the signed-in person, with when it was
//! enrolled and last seen, and a way to revoke one, such as a lost tablet,
//! from any other. A revoked tablet wipes itself at its next contact.

use leptos::prelude::*;
use veldwerk_core::api::identity::Device;

use super::{format_time, t};
use crate::i18n::T;
use crate::platform::{Failure, api};

fn failure(e: &Failure) -> String {
    match e {
        Failure::Offline => t(T::DevicesOffline).to_owned(),
        other => format!("{}: {other}", t(T::Error)),
    }
}

#[component]
pub fn DevicesScreen() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let data = LocalResource::new(move || {
        version.track();
        async move {
            let body = api("GET", "/api/devices", None).await?;
            serde_json::from_value::<Vec<Device>>(body).map_err(|e| Failure::Browser(e.to_string()))
        }
    });
    let error = RwSignal::new(None::<String>);
    // The device whose revoke button was tapped once: a second tap revokes.
    let confirming = RwSignal::new(None::<i64>);
    let revoke = move |id: i64| {
        if confirming.get_untracked() != Some(id) {
            confirming.set(Some(id));
            return;
        }
        confirming.set(None);
        leptos::task::spawn_local(async move {
            match api("POST", &format!("/api/devices/{id}/revoke"), None).await {
                Ok(_) => {
                    error.set(None);
                    version.update(|v| *v += 1);
                }
                Err(e) => error.set(Some(failure(&e))),
            }
        });
    };
    view! {
        <section class="devices">
            <h1>{move || t(T::MyDevices)}</h1>
            <p>{move || t(T::MyDevicesIntro)}</p>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || match data.get() {
                None => view! { <p>{t(T::Loading)}</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{failure(&e)}</p> }.into_any(),
                Some(Ok(devices)) => view! {
                    <ul class="device-list">
                        {devices.into_iter().map(|d| {
                            let id = d.id;
                            let seen = d.last_seen_at.map_or_else(|| t(T::Never).to_owned(), format_time);
                            view! {
                                <li class="card" data-device=d.name.clone()>
                                    <h2>{d.name.clone()}{d.this_device.then(|| format!(" · {}", t(T::ThisDevice)))}</h2>
                                    <p class="subtitle">
                                        {format!("{} {} · {} {}", t(T::Enrolled), format_time(d.created_at), t(T::LastSeen), seen)}
                                    </p>
                                    {match d.revoked_at {
                                        Some(at) => view! { <p class="badge">{format!("{} {}", t(T::RevokedOn), format_time(at))}</p> }.into_any(),
                                        None if d.this_device => ().into_any(),
                                        None => view! {
                                            <button class="danger" on:click=move |_| revoke(id)>
                                                {move || if confirming.get() == Some(id) { t(T::ConfirmRevoke) } else { t(T::RevokeDevice) }}
                                            </button>
                                        }.into_any(),
                                    }}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}
