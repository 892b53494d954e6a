//! Case direction, for case directors of municipalities:
//!
//! - `GET /api/organisations[?kind=municipality]` — names to choose from.
//! - `POST /api/cases/{id}/handover {"to", "reason"}` — ask another
//!   municipality to take over a case the caller's municipality directs;
//!   `GET /api/handovers` — requests to and from the caller's municipality;
//!   `POST /api/handovers/{id}/accept|refuse|withdraw {"note": …}` — the receiving
//!   municipality accepts or refuses (a refusal says why), the sending one may
//!   withdraw. Accepting moves direction, team membership and so access: the
//!   sending municipality keeps the request (label, to whom, when) and nothing
//!   of the case after it. `GET /api/cases/{id}/handovers` is a case's trail.
//! - `POST /api/cases/{id}/direction` — take direction of a household a
//!   partner organisation working for the municipality registered.
//! - `GET|POST /api/cases/{id}/links`, `DELETE /api/cases/{id}/links/{link}` —
//!   links between households with their recorded basis, for the case
//!   directors of the municipality directing the case.
//!
//! Every decision is in the audit log, with ids and never content.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use veldwerk_core::api::direction::{
    AskHandover, HandoverDecision, HandoverItem, LinkHousehold, LinkItem, Organisation,
};
use veldwerk_core::identity::{
    HandoverParty, HandoverStep, LinkBasis, OrganisationKind, directs_cases, may_decide_handover,
    may_direct_case,
};
use veldwerk_core::text::TextRule;

use crate::AppState;
use crate::cases::readable_case;
use crate::http::{ApiError, ApiJson, Authenticated, Now, case_audit_entry};
use crate::store::{Decision, DocumentAccess, Handover, HandoverRequest, NewLink, Principal};

/// The longest reason or note accepted, in characters.
const MAX_TEXT: usize = 2_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/organisations", get(organisations))
        .route("/api/handovers", get(handovers))
        .route("/api/handovers/{id}/{decision}", post(decide))
        .route("/api/cases/{document_id}/handover", post(request))
        .route("/api/cases/{document_id}/handovers", get(case_trail))
        .route("/api/cases/{document_id}/direction", post(take_direction))
        .route("/api/cases/{document_id}/links", get(links).post(link))
        .route("/api/cases/{document_id}/links/{link}", delete(unlink))
}

fn case_director(p: &Principal) -> Result<(), ApiError> {
    if directs_cases(p.role, p.organisation_kind) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "this is for case directors of a municipality",
        ))
    }
}

/// A case the caller's municipality directs, for its case directors; anyone
/// else who may read it is told why not, anyone who may not is told it does
/// not exist.
async fn directed_case(
    state: &AppState,
    p: &Principal,
    document_id: &str,
) -> Result<DocumentAccess, ApiError> {
    let access = readable_case(state, p, document_id).await?;
    case_director(p)?;
    if !may_direct_case(p.role, p.organisation_kind, access.standing()) {
        return Err(ApiError::Forbidden(
            "only the case director of the directing municipality may do this",
        ));
    }
    Ok(access)
}

fn text(value: &str, what: &str, required: bool) -> Result<String, ApiError> {
    let rule = TextRule::paragraph(MAX_TEXT);
    let rule = if required { rule } else { rule.optional() };
    rule.check(value)
        .map_err(|e| ApiError::BadRequest(e.about(what)))
}

#[derive(Deserialize)]
struct KindQuery {
    kind: Option<String>,
}

async fn organisations(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(query): Query<KindQuery>,
) -> Result<Json<Vec<Organisation>>, ApiError> {
    if !p.role.has_caseload() {
        return Err(ApiError::Forbidden("this role works on no cases"));
    }
    let kind = query
        .kind
        .map(|k| k.parse::<OrganisationKind>())
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let list = state.store.organisations(kind).await?;
    Ok(Json(
        list.into_iter()
            .map(|o| Organisation {
                name: o.name,
                kind: o.kind.as_str().to_owned(),
            })
            .collect(),
    ))
}

// --- handovers -------------------------------------------------------------

fn item(h: Handover, organisation_id: i64) -> HandoverItem {
    HandoverItem {
        id: h.id,
        document_id: h.document_id,
        direction: if h.to_org_id == organisation_id {
            "incoming"
        } else {
            "outgoing"
        }
        .to_owned(),
        from: h.from_org,
        to: h.to_org,
        label: h.label,
        reason: h.reason,
        requested_by: h.requested_by,
        requested_at: h.requested_at,
        status: h.status.as_str().to_owned(),
        decided_by: h.decided_by,
        decided_at: h.decided_at,
        note: h.decision_note,
    }
}

async fn request(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    Path(document_id): Path<String>,
    ApiJson(body): ApiJson<AskHandover>,
) -> Result<(StatusCode, Json<HandoverItem>), ApiError> {
    let access = directed_case(&state, &p, &document_id).await?;
    let reason = text(&body.reason, "reason", true)?;
    let to = state
        .store
        .organisations(Some(OrganisationKind::Municipality))
        .await?
        .into_iter()
        .find(|o| o.name == body.to.trim())
        .ok_or_else(|| ApiError::BadRequest(format!("{:?} is not a municipality", body.to)))?;
    if to.id == p.organisation_id {
        return Err(ApiError::BadRequest(
            "a case is handed over to another municipality".into(),
        ));
    }
    let label = state
        .store
        .case_summary(&document_id)
        .await?
        .ok_or(ApiError::NotFound("case"))?
        .label;
    let entry = case_audit_entry(
        &p,
        "case.handover.request",
        access.case_id,
        &format!("to organisation {}", to.id),
    );
    let id = state
        .store
        .request_handover(
            &HandoverRequest {
                case_id: access.case_id,
                from_org_id: p.organisation_id,
                to_org_id: to.id,
                label: &label,
                reason: &reason,
                requested_by: p.user_id,
            },
            &entry,
            now,
        )
        .await?;
    let handover = state
        .store
        .handover(id)
        .await?
        .ok_or(ApiError::NotFound("handover"))?;
    Ok((StatusCode::CREATED, Json(item(handover, p.organisation_id))))
}

async fn handovers(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> Result<Json<Vec<HandoverItem>>, ApiError> {
    case_director(&p)?;
    let list = state.store.handovers_of(p.organisation_id).await?;
    Ok(Json(
        list.into_iter()
            .map(|h| item(h, p.organisation_id))
            .collect(),
    ))
}

async fn decide(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    Path((id, decision)): Path<(i64, String)>,
    ApiJson(body): ApiJson<HandoverDecision>,
) -> Result<Json<HandoverItem>, ApiError> {
    case_director(&p)?;
    let (step, decision) = match decision.as_str() {
        "accept" => (HandoverStep::Accept, Decision::Accept),
        "refuse" => (HandoverStep::Refuse, Decision::Refuse),
        "withdraw" => (HandoverStep::Withdraw, Decision::Withdraw),
        _ => return Err(ApiError::NotFound("decision")),
    };
    let note = text(
        &body.note,
        "a reason for refusing",
        decision == Decision::Refuse,
    )?;
    let handover = state
        .store
        .handover(id)
        .await?
        // Only the two municipalities know a request exists.
        .filter(|h| h.to_org_id == p.organisation_id || h.from_org_id == p.organisation_id)
        .ok_or(ApiError::NotFound("handover"))?;
    let party = if handover.to_org_id == p.organisation_id {
        HandoverParty::Receiving
    } else {
        HandoverParty::Sending
    };
    if !may_decide_handover(party, step) {
        return Err(ApiError::Forbidden(
            "the receiving municipality accepts or refuses; the sending one may withdraw",
        ));
    }
    let action = match decision {
        Decision::Accept => "case.handover.accept",
        Decision::Refuse => "case.handover.refuse",
        Decision::Withdraw => "case.handover.withdraw",
    };
    let entry = case_audit_entry(
        &p,
        action,
        handover.case_id,
        &format!(
            "handover {id} from organisation {} to organisation {}",
            handover.from_org_id, handover.to_org_id
        ),
    );
    state
        .store
        .decide_handover(
            id,
            decision,
            p.user_id,
            (!note.is_empty()).then_some(note.as_str()),
            &[entry],
            now,
        )
        .await?;
    if decision == Decision::Accept {
        // Open connections of either municipality check their access again.
        let _ = state.team_changes.send(handover.case_id);
    }
    let handover = state
        .store
        .handover(id)
        .await?
        .ok_or(ApiError::NotFound("handover"))?;
    Ok(Json(item(handover, p.organisation_id)))
}

/// A case's handovers, for the case directors of the municipality directing it now.
async fn case_trail(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(document_id): Path<String>,
) -> Result<Json<Vec<HandoverItem>>, ApiError> {
    let access = directed_case(&state, &p, &document_id).await?;
    let list = state.store.case_handovers(access.case_id).await?;
    Ok(Json(
        list.into_iter()
            .map(|h| item(h, p.organisation_id))
            .collect(),
    ))
}

/// Takes direction of a household a partner organisation working for the
/// caller's municipality registered, which nobody directs yet.
async fn take_direction(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    Path(document_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    case_director(&p)?;
    let case = state
        .store
        .undirected_cases(p.organisation_id)
        .await?
        .into_iter()
        .find(|c| c.document_id == document_id)
        .ok_or(ApiError::NotFound("case awaiting direction"))?;
    let entry = case_audit_entry(&p, "case.direction", case.case_id, "direction taken");
    state
        .store
        .take_direction(case.case_id, p.organisation_id, &entry, now)
        .await?;
    let _ = state.team_changes.send(case.case_id);
    Ok(StatusCode::NO_CONTENT)
}

// --- links between households ----------------------------------------------

async fn links(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    Path(document_id): Path<String>,
) -> Result<Json<Vec<LinkItem>>, ApiError> {
    let access = directed_case(&state, &p, &document_id).await?;
    let mut items = Vec::new();
    for link in state.store.case_links(access.case_id).await? {
        let readable = readable_case(&state, &p, &link.other_document_id)
            .await
            .is_ok();
        items.push(LinkItem {
            id: link.id,
            document_id: readable.then_some(link.other_document_id),
            label: readable.then_some(link.other_label),
            directed_by: link.other_directed_by,
            basis: link.basis,
            note: link.note,
            recorded_by: link.recorded_by,
            recorded_at: link.recorded_at,
        });
    }
    let entry = case_audit_entry(
        &p,
        "case.links.read",
        access.case_id,
        &format!("{} links", items.len()),
    );
    state.store.audit(&[entry], now).await?;
    Ok(Json(items))
}

async fn link(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    Path(document_id): Path<String>,
    ApiJson(body): ApiJson<LinkHousehold>,
) -> Result<(StatusCode, Json<Vec<LinkItem>>), ApiError> {
    let access = directed_case(&state, &p, &document_id).await?;
    let basis = LinkBasis::parse(&body.basis).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "basis {:?} must be one of {}: a behaviour, never origin",
            body.basis,
            LinkBasis::ALL
                .iter()
                .map(|b| b.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let note = text(
        &body.note,
        "a note saying what was seen",
        basis == LinkBasis::Other,
    )?;
    let other = readable_case(&state, &p, body.other.trim())
        .await
        .map_err(|_| ApiError::BadRequest("the other household is not one you may read".into()))?;
    if other.case_id == access.case_id {
        return Err(ApiError::BadRequest(
            "a household is not linked to itself".into(),
        ));
    }
    let detail = format!(
        "case {} linked to case {} ({})",
        access.case_id,
        other.case_id,
        basis.as_str()
    );
    let entries = [
        case_audit_entry(&p, "case.link", access.case_id, &detail),
        case_audit_entry(&p, "case.link", other.case_id, &detail),
    ];
    state
        .store
        .link_households(
            &NewLink {
                case: access.case_id,
                other: other.case_id,
                basis: basis.as_str(),
                note: &note,
                recorded_by: p.user_id,
            },
            &entries,
            now,
        )
        .await?;
    let Json(items) = links(State(state), Authenticated(p), Now(now), Path(document_id)).await?;
    Ok((StatusCode::CREATED, Json(items)))
}

async fn unlink(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    Path((document_id, link)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    let access = directed_case(&state, &p, &document_id).await?;
    let entry = case_audit_entry(
        &p,
        "case.unlink",
        access.case_id,
        &format!("link {link} removed"),
    );
    state
        .store
        .unlink_households(access.case_id, link, p.user_id, &[entry], now)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
