//! `GET /api/monitor?year=Y` (JSON) and `GET /api/monitor.csv?year=Y`: per
//! quarter of a year, for the municipality of the case director asking, the
//! households visited, visits, returned visits, observations by theme and
//! handovers to and from other municipalities —
//! with small counts suppressed (`veldwerk_core::monitor`). Nothing in it can
//! be grouped by anything about the families themselves.

use std::collections::BTreeSet;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::{Json, Router, routing::get};
use serde::Deserialize;
use veldwerk_core::api::oversight::Monitor;
use veldwerk_core::calendar::Date;
use veldwerk_core::case::Theme;
use veldwerk_core::monitor::{Shown, Totals, suppress};

use super::overseer;
use crate::AppState;
use crate::http::{ApiError, Authenticated};
use crate::store::Principal;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/monitor", get(monitor_json))
        .route("/api/monitor.csv", get(monitor_csv))
}

#[derive(Deserialize)]
struct Params {
    year: i32,
}

async fn monitor_json(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(params): Query<Params>,
) -> Result<Json<Monitor>, ApiError> {
    Ok(Json(build(&state, &p, params.year).await?))
}

async fn monitor_csv(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(params): Query<Params>,
) -> Result<impl IntoResponse, ApiError> {
    let monitor = build(&state, &p, params.year).await?;
    let file = format!("attachment; filename=\"monitor-{}.csv\"", monitor.year);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, file),
        ],
        csv(&monitor),
    ))
}

async fn build(state: &AppState, p: &Principal, year: i32) -> Result<Monitor, ApiError> {
    overseer(p, "the monitor is for case directors of a municipality")?;
    if !(2000..=2100).contains(&year) {
        return Err(ApiError::BadRequest(
            "year must be between 2000 and 2100".into(),
        ));
    }
    let from = quarter_start_ms(year, 0);
    let to = quarter_start_ms(year + 1, 0);
    let visits = state
        .store
        .monitor_visits(p.organisation_id, from, to)
        .await?;

    let quarter = |at: i64| {
        (0..4)
            .rev()
            .find(|&q| at >= quarter_start_ms(year, q))
            .unwrap_or(0)
    };
    let mut households = vec![BTreeSet::new(); 4];
    let mut activity = vec![vec![0u64; 2]; 4];
    let mut observations = vec![vec![0u64; Theme::ALL.len()]; 4];
    for visit in &visits {
        let q = quarter(visit.at);
        households[q].insert(visit.case_id);
        activity[q][0] += 1;
        if visit.returned {
            activity[q][1] += 1;
        }
        for theme in visit.themes.split(',').filter_map(Theme::parse) {
            let column = Theme::ALL
                .iter()
                .position(|t| *t == theme)
                .expect("a theme");
            observations[q][column] += 1;
        }
    }
    let mut handovers = vec![vec![0u64; 2]; 4];
    for (at, incoming) in state
        .store
        .monitor_handovers(p.organisation_id, from, to)
        .await?
    {
        handovers[quarter(at)][usize::from(!incoming)] += 1;
    }
    let household_counts: Vec<Vec<u64>> = households.iter().map(|h| vec![h.len() as u64]).collect();
    let no_totals = Totals {
        rows: false,
        columns: false,
    };
    Ok(Monitor {
        municipality: p.organisation.clone(),
        year,
        quarters: (1..=4).map(|q| format!("{year}-Q{q}")).collect(),
        households: suppress(&household_counts, no_totals)
            .cells
            .into_iter()
            .map(|row| row[0])
            .collect(),
        activity: suppress(
            &activity,
            Totals {
                rows: false,
                columns: true,
            },
        ),
        themes: Theme::ALL.iter().map(|t| t.as_str().to_owned()).collect(),
        observations: suppress(
            &observations,
            Totals {
                rows: true,
                columns: true,
            },
        ),
        handovers: suppress(
            &handovers,
            Totals {
                rows: false,
                columns: true,
            },
        ),
    })
}

/// The first millisecond of quarter `q` (0–3) of `year`, reckoned in the
/// Netherlands: a visit at 00:30 on 1 April in Amsterdam is in the second quarter.
fn quarter_start_ms(year: i32, q: usize) -> i64 {
    Date::quarter_start(year, q as u32 + 1)
        .expect("quarters 0 to 3")
        .amsterdam_midnight()
}

fn cell(shown: Shown) -> String {
    shown.map_or_else(|| "<5".to_owned(), |v| v.to_string())
}

/// One row per quarter, then a total row; suppressed counts as `<5`.
fn csv(m: &Monitor) -> String {
    let mut out = String::from("quarter,households,visits,returned_visits");
    for theme in &m.themes {
        out.push_str(&format!(",observations_{theme}"));
    }
    out.push_str(",observations_total,handovers_in,handovers_out\n");
    for (q, quarter) in m.quarters.iter().enumerate() {
        out.push_str(quarter);
        out.push_str(&format!(",{}", cell(m.households[q])));
        for v in &m.activity.cells[q] {
            out.push_str(&format!(",{}", cell(*v)));
        }
        for v in &m.observations.cells[q] {
            out.push_str(&format!(",{}", cell(*v)));
        }
        let total = m.observations.row_totals.as_ref().and_then(|t| t[q]);
        out.push_str(&format!(",{}", cell(total)));
        for v in &m.handovers.cells[q] {
            out.push_str(&format!(",{}", cell(*v)));
        }
        out.push('\n');
    }
    out.push_str(&format!("{},", m.year));
    for v in m.activity.column_totals.iter().flatten() {
        out.push_str(&format!(",{}", cell(*v)));
    }
    for v in m.observations.column_totals.iter().flatten() {
        out.push_str(&format!(",{}", cell(*v)));
    }
    out.push_str(&format!(",{}", cell(m.observations.grand_total.flatten())));
    for v in m.handovers.column_totals.iter().flatten() {
        out.push_str(&format!(",{}", cell(*v)));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_start_on_the_right_days() {
        // Midnight in Amsterdam: 1970-01-01T00:00+01:00, 2026-04-01T00:00+02:00
        // (summer time) and 2027-01-01T00:00+01:00.
        assert_eq!(quarter_start_ms(1970, 0), -3_600_000);
        assert_eq!(quarter_start_ms(2026, 1), 1_775_001_600_000 - 7_200_000);
        assert_eq!(quarter_start_ms(2027, 0), 1_798_761_600_000 - 3_600_000);
    }
}
