//! Oversight through the API, for case directors of municipalities: the
//! radar of families slipping off it with its limit of days, and the monitor's
//! quarterly figures (suppressed with [`crate::monitor`]).

use serde::{Deserialize, Serialize};

use crate::monitor::{Published, Shown};

/// `GET|PUT /api/radar/settings`: after how many days without a visit a
/// family is on the municipality's radar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RadarSettings {
    pub no_visit_days: i64,
}

/// `GET /api/radar`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Radar {
    pub no_visit_days: i64,
    pub items: Vec<RadarItem>,
    pub awaiting_direction: Vec<AwaitingDirection>,
    /// Requests of other municipalities to take over a case, not decided yet.
    pub incoming_handovers: i64,
}

/// A household a partner organisation registered that nobody directs yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwaitingDirection {
    pub document_id: String,
    pub label: String,
    /// The organisation that registered it.
    pub registered_by: String,
    pub created_at: i64,
}

/// A family on the radar, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RadarItem {
    pub document_id: String,
    pub label: String,
    /// Why the family is on the radar: [`NO_VISIT`], [`ADDRESS_MOVED`],
    /// [`ADDRESS_UNKNOWN`], [`RETURNED_VISITS`], [`HANDOVER_PENDING`],
    /// [`NEW_SIGNAL`].
    pub reasons: Vec<String>,
    pub last_visit_at: Option<i64>,
    pub days_without_visit: i64,
    pub returned_visits: i64,
    /// The municipality asked to take the case over, while it has not answered.
    pub handover_to: Option<String>,
    /// The organisation (the police, say) whose new signal in the restricted
    /// record the director has not opened yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_signal_from: Option<String>,
}

/// No visit for longer than the municipality's limit.
pub const NO_VISIT: &str = "no_visit";
/// The address is marked moved.
pub const ADDRESS_MOVED: &str = "address_moved";
/// The address is marked unknown.
pub const ADDRESS_UNKNOWN: &str = "address_unknown";
/// Visits a supervisor returned are not approved yet.
pub const RETURNED_VISITS: &str = "returned_visits";
/// A handover was asked for and is not decided.
pub const HANDOVER_PENDING: &str = "handover_pending";
/// Another organisation added to the restricted record since the director
/// last opened it.
pub const NEW_SIGNAL: &str = "new_signal";

/// `GET /api/monitor?year=Y`: per quarter of the year, the municipality's
/// figures, small counts suppressed (`null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Monitor {
    pub municipality: String,
    pub year: i32,
    /// `YYYY-Qn`, one per row of the tables.
    pub quarters: Vec<String>,
    /// Households with at least one visit in the quarter (distinct, so no total).
    pub households: Vec<Shown>,
    /// Columns: visits, returned visits; a total over the year per column.
    pub activity: Published,
    /// Columns of `observations`: the themes' names, in this order.
    pub themes: Vec<String>,
    /// Totals per quarter and per theme.
    pub observations: Published,
    /// Columns: accepted handovers into the municipality, out of it; totals per column.
    pub handovers: Published,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_radar_is_camel_case_with_reasons_as_names() {
        let radar = Radar {
            no_visit_days: 42,
            items: vec![RadarItem {
                document_id: "doc".into(),
                label: "Fam. Jansen".into(),
                reasons: vec![NO_VISIT.into(), HANDOVER_PENDING.into()],
                last_visit_at: None,
                days_without_visit: 50,
                returned_visits: 0,
                handover_to: Some("Kampen".into()),
                new_signal_from: None,
            }],
            awaiting_direction: vec![AwaitingDirection {
                document_id: "other".into(),
                label: "Fam. de Vries".into(),
                registered_by: "Wijkteam".into(),
                created_at: 1,
            }],
            incoming_handovers: 2,
        };
        let value = serde_json::to_value(&radar).unwrap();
        assert_eq!(
            value,
            json!({
                "noVisitDays": 42,
                "items": [{
                    "documentId": "doc",
                    "label": "Fam. Jansen",
                    "reasons": ["no_visit", "handover_pending"],
                    "lastVisitAt": null,
                    "daysWithoutVisit": 50,
                    "returnedVisits": 0,
                    "handoverTo": "Kampen",
                }],
                "awaitingDirection": [{
                    "documentId": "other",
                    "label": "Fam. de Vries",
                    "registeredBy": "Wijkteam",
                    "createdAt": 1,
                }],
                "incomingHandovers": 2,
            })
        );
        assert_eq!(serde_json::from_value::<Radar>(value).unwrap(), radar);
        assert_eq!(
            serde_json::to_value(RadarSettings { no_visit_days: 7 }).unwrap(),
            json!({"noVisitDays": 7})
        );
    }

    #[test]
    fn the_monitor_is_camel_case_with_nulls_where_suppressed() {
        let table = Published {
            cells: vec![vec![Some(6), None]],
            row_totals: None,
            column_totals: Some(vec![Some(6), None]),
            grand_total: None,
        };
        let monitor = Monitor {
            municipality: "Zwolle".into(),
            year: 2026,
            quarters: vec!["2026-Q1".into()],
            households: vec![None],
            activity: table.clone(),
            themes: vec!["housing".into()],
            observations: table.clone(),
            handovers: table,
        };
        let value = serde_json::to_value(&monitor).unwrap();
        let table = json!({
            "cells": [[6, null]],
            "rowTotals": null,
            "columnTotals": [6, null],
            "grandTotal": null,
        });
        assert_eq!(
            value,
            json!({
                "municipality": "Zwolle",
                "year": 2026,
                "quarters": ["2026-Q1"],
                "households": [null],
                "activity": table,
                "themes": ["housing"],
                "observations": table,
                "handovers": table,
            })
        );
        assert_eq!(serde_json::from_value::<Monitor>(value).unwrap(), monitor);
    }
}
