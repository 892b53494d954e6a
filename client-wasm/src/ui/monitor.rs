//! The monitor for case directors: their municipality's figures per quarter,
//! small counts suppressed by the server ("<5"), a bar chart of visits, and
//! the CSV. Online only: it is computed over every case on the server.

use leptos::prelude::*;

use super::t;
use super::visit::theme_text;
use crate::i18n::T;
use crate::platform::{Failure, api};
use veldwerk_core::api::oversight::Monitor;
use veldwerk_core::case::Theme;
use veldwerk_core::monitor::Shown;

fn cell(shown: Shown) -> String {
    shown.map_or_else(|| "<5".to_owned(), |v| v.to_string())
}

fn current_year() -> i32 {
    js_sys::Date::new_0().get_full_year() as i32
}

#[component]
pub fn MonitorScreen() -> impl IntoView {
    let year = RwSignal::new(current_year());
    let data = LocalResource::new(move || {
        let y = year.get();
        async move {
            let body = api("GET", &format!("/api/monitor?year={y}"), None).await?;
            serde_json::from_value::<Monitor>(body).map_err(|e| Failure::Browser(e.to_string()))
        }
    });
    view! {
        <section class="monitor">
            <div class="toolbar">
                <h1>{move || t(T::Monitor)}</h1>
                <div class="year">
                    <label for="monitor-year">{move || t(T::Year)}</label>
                    <input id="monitor-year" type="number" min="2000" max="2100" prop:value=move || year.get().to_string()
                        on:change=move |ev| if let Ok(y) = event_target_value(&ev).parse() { year.set(y) }/>
                </div>
            </div>
            <p>{move || t(T::MonitorIntro)}</p>
            {move || match data.get() {
                None => view! { <p>{t(T::Loading)}</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{format!("{}: {e}", t(T::Error))}</p> }.into_any(),
                Some(Ok(m)) => view! { <Figures m=m/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Figures(m: Monitor) -> impl IntoView {
    let csv = format!("/api/monitor.csv?year={}", m.year);
    let visits: Vec<Shown> = m.activity.cells.iter().map(|row| row[0]).collect();
    let themes: Vec<String> = m
        .themes
        .iter()
        .map(|name| Theme::parse(name).map_or(name.clone(), |th| theme_text(th).to_owned()))
        .collect();
    view! {
        <p class="subtitle">{format!("{} · {}", m.municipality, m.year)}</p>
        <Chart quarters=m.quarters.clone() values=visits/>
        <h2 id="activity-h">{t(T::Activity)}</h2>
        <table class="figures" aria-labelledby="activity-h">
            <thead><tr>
                <th scope="col">{t(T::Quarter)}</th>
                <th scope="col">{t(T::Households)}</th>
                <th scope="col">{t(T::Visits)}</th>
                <th scope="col">{t(T::ReturnedVisits)}</th>
            </tr></thead>
            <tbody>
                {m.quarters.iter().enumerate().map(|(q, quarter)| view! {
                    <tr>
                        <th scope="row">{quarter.clone()}</th>
                        <td>{cell(m.households[q])}</td>
                        <td>{cell(m.activity.cells[q][0])}</td>
                        <td>{cell(m.activity.cells[q][1])}</td>
                    </tr>
                }).collect_view()}
                <tr class="total">
                    <th scope="row">{t(T::Total)}</th>
                    <td>"–"</td>
                    {m.activity.column_totals.clone().unwrap_or_default().into_iter().map(|v| view! { <td>{cell(v)}</td> }).collect_view()}
                </tr>
            </tbody>
        </table>
        <h2 id="observations-h">{t(T::ObservationsByTheme)}</h2>
        <div class="scroll">
            <table class="figures" aria-labelledby="observations-h">
                <thead><tr>
                    <th scope="col">{t(T::Quarter)}</th>
                    {themes.iter().map(|th| view! { <th scope="col">{th.clone()}</th> }).collect_view()}
                    <th scope="col">{t(T::Total)}</th>
                </tr></thead>
                <tbody>
                    {m.quarters.iter().enumerate().map(|(q, quarter)| view! {
                        <tr>
                            <th scope="row">{quarter.clone()}</th>
                            {m.observations.cells[q].iter().map(|v| view! { <td>{cell(*v)}</td> }).collect_view()}
                            <td>{cell(m.observations.row_totals.as_ref().and_then(|t| t[q]))}</td>
                        </tr>
                    }).collect_view()}
                    <tr class="total">
                        <th scope="row">{t(T::Total)}</th>
                        {m.observations.column_totals.clone().unwrap_or_default().into_iter().map(|v| view! { <td>{cell(v)}</td> }).collect_view()}
                        <td>{cell(m.observations.grand_total.flatten())}</td>
                    </tr>
                </tbody>
            </table>
        </div>
        <h2 id="handovers-h">{t(T::Handovers)}</h2>
        <table class="figures" aria-labelledby="handovers-h">
            <thead><tr>
                <th scope="col">{t(T::Quarter)}</th>
                <th scope="col">{t(T::HandoversIn)}</th>
                <th scope="col">{t(T::HandoversOut)}</th>
            </tr></thead>
            <tbody>
                {m.quarters.iter().enumerate().map(|(q, quarter)| view! {
                    <tr>
                        <th scope="row">{quarter.clone()}</th>
                        {m.handovers.cells[q].iter().map(|v| view! { <td>{cell(*v)}</td> }).collect_view()}
                    </tr>
                }).collect_view()}
                <tr class="total">
                    <th scope="row">{t(T::Total)}</th>
                    {m.handovers.column_totals.clone().unwrap_or_default().into_iter().map(|v| view! { <td>{cell(v)}</td> }).collect_view()}
                </tr>
            </tbody>
        </table>
        <p class="note">{t(T::SuppressionNote)}</p>
        <a class="button" href=csv download="">{t(T::DownloadCsv)}</a>
    }
}

/// Visits per quarter as bars; a suppressed count is drawn as a hatched, unlabelled bar.
#[component]
fn Chart(quarters: Vec<String>, values: Vec<Shown>) -> impl IntoView {
    let max = values.iter().flatten().copied().max().unwrap_or(0).max(5) as f64;
    let (width, height, bar) = (480.0, 200.0, 80.0);
    let description = quarters
        .iter()
        .zip(&values)
        .map(|(q, v)| format!("{q}: {}", cell(*v)))
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {width} {}", height + 40.0) role="img" aria-label=format!("{}: {description}", t(T::Visits))>
                <defs>
                    <pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
                        <rect width="8" height="8" fill="#ffffff"/>
                        <line x1="0" y1="0" x2="0" y2="8" stroke="#4a5560" stroke-width="3"/>
                    </pattern>
                </defs>
                {quarters.iter().zip(values.iter()).enumerate().map(|(i, (q, v))| {
                    let x = 20.0 + i as f64 * (bar + 40.0);
                    let h = match v { Some(v) => (*v as f64 / max) * (height - 20.0), None => (4.0 / max) * (height - 20.0) };
                    let y = height - h;
                    let fill = if v.is_some() { "#1d4e5f" } else { "url(#hatch)" };
                    view! {
                        <rect x=x y=y width=bar height=h fill=fill stroke="#1d4e5f"/>
                        <text x=x + bar / 2.0 y=y - 6.0 text-anchor="middle" font-size="16" fill="#1b1f23">{cell(*v)}</text>
                        <text x=x + bar / 2.0 y=height + 24.0 text-anchor="middle" font-size="14" fill="#1b1f23">{q.clone()}</text>
                    }
                }).collect_view()}
            </svg>
            <figcaption>{t(T::VisitsPerQuarter)}</figcaption>
        </figure>
    }
}
