//! Cases: the caseload, registering a household, one case for a reader on
//! its team, its team and who wrote to it, and the quarantine report.
//! Handlers check access and call the store; they never see sqlx.

use automerge::{ActorId, Automerge};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, Router, routing::get, routing::post};
use veldwerk_core::api::cases::{
    CaseItem, CreateCase, QuarantineItem, TeamChange, Writer, WritersQuery,
};
use veldwerk_core::case::{AddressStatus, CaseRecord, NewCase, init_case};
use veldwerk_core::identity::{
    Compartment, Standing, may_change_team, may_read, may_read_general_record,
};

use crate::AppState;
use crate::http::{ApiError, ApiJson, Authenticated, Now, audit_entry, case_audit_entry};
use crate::store::{CaseSummary, ChangeBatch, DocumentAccess, NewCaseRecord, NewChange, Principal};
use crate::sync::docs::{directing_org, new_document_id};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/cases", get(caseload).post(create_case))
        .route("/api/cases/{document_id}", get(case))
        .route("/api/cases/{document_id}/team", get(team).post(change_team))
        .route("/api/cases/{document_id}/writers", post(writers))
        .route(
            "/api/cases/{document_id}/restricted/seen",
            post(restricted_seen),
        )
        .route("/api/admin/quarantine", get(quarantine))
}

/// A case as `p`, whose organisation is on its team, sees it listed: with
/// its restricted record's id only for those who may read that.
fn case_item(p: &Principal, c: CaseSummary) -> CaseItem {
    let standing = Standing {
        on_team: true,
        directs: c.directing_org_id == Some(p.organisation_id),
    };
    let restricted_readable = may_read(
        p.role,
        p.organisation_kind,
        standing,
        Compartment::Restricted,
    );
    CaseItem {
        id: c.id,
        document_id: c.document_id,
        label: c.label,
        address_status: c.address_status.as_str().to_owned(),
        last_visit_at: c.last_visit_at,
        restricted_document_id: c.restricted_document_id.filter(|_| restricted_readable),
    }
}

async fn caseload(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> Result<Json<Vec<CaseItem>>, ApiError> {
    if !p.role.has_caseload() {
        return Err(ApiError::Forbidden("this role has no caseload"));
    }
    let cases = state.store.caseload(p.organisation_id).await?;
    Ok(Json(
        cases.into_iter().map(|case| case_item(&p, case)).collect(),
    ))
}

/// One case, for a reader on its team; any other reader is told it does not
/// exist, exactly as for a case that does not.
async fn case(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    Path(document_id): Path<String>,
) -> Result<Json<CaseItem>, ApiError> {
    readable_case(&state, &p, &document_id).await?;
    let case = state
        .store
        .case_summary(&document_id)
        .await?
        .ok_or(ApiError::NotFound("case"))?;
    let mut read = case_audit_entry(&p, "case.read", case.id, &format!("document {document_id}"));
    read.compartment = Some("general".into());
    state.store.audit(&[read], now).await?;
    Ok(Json(case_item(&p, case)))
}

/// `POST /api/cases/{id}/restricted/seen`: a reader of the restricted record
/// opened it on their tablet, so its signals are no longer news on their radar.
async fn restricted_seen(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    Path(document_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let access = readable_case(&state, &p, &document_id).await?;
    if !may_read(
        p.role,
        p.organisation_kind,
        access.standing(),
        Compartment::Restricted,
    ) {
        // As for a case the caller may not read: nothing says it has one.
        return Err(ApiError::NotFound("restricted record"));
    }
    state
        .store
        .restricted_seen(access.case_id, p.user_id, now)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The case a general-record id names, if the caller may read it; anyone
/// else is told it does not exist. Other features reach a case through this.
pub async fn readable_case(
    state: &AppState,
    p: &Principal,
    document_id: &str,
) -> Result<DocumentAccess, ApiError> {
    let access = state
        .store
        .document_access(document_id, p.organisation_id)
        .await?;
    access
        .filter(|a| {
            a.compartment == Compartment::General
                && may_read_general_record(p.role, a.organisation_on_team)
        })
        .ok_or(ApiError::NotFound("case"))
}

async fn team(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(document_id): Path<String>,
) -> Result<Json<Vec<String>>, ApiError> {
    let case_id = readable_case(&state, &p, &document_id).await?.case_id;
    Ok(Json(state.store.case_team(case_id).await?))
}

/// The most actor ids one request may ask about.
const MAX_WRITERS: usize = 200;

/// Who wrote with which actor ids, for the case's team: so the history and
/// conflicts name everyone, including people who never recorded a visit.
/// Actor ids are random and learnt only from records the reader may read.
async fn writers(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    Path(document_id): Path<String>,
    ApiJson(body): ApiJson<WritersQuery>,
) -> Result<Json<Vec<Writer>>, ApiError> {
    let access = readable_case(&state, &p, &document_id).await?;
    if body.actors.len() > MAX_WRITERS {
        return Err(ApiError::BadRequest(format!(
            "ask about at most {MAX_WRITERS} actors at a time"
        )));
    }
    if let Some(actor) = body
        .actors
        .iter()
        .find(|a| a.len() > 64 || !a.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(ApiError::BadRequest(format!(
            "{actor:?} is not an actor id (hex)"
        )));
    }
    // Only the people who wrote to this case are named: the tablet asks
    // about the actor ids it found in the record, and nobody else's.
    let wrote_here = case_actors(&state, &document_id).await?;
    let mut writers = Vec::new();
    for actor in body.actors {
        if !wrote_here.contains(&actor.to_ascii_lowercase()) {
            continue;
        }
        if let Some((handle, organisation)) = state.store.actor_person(&actor).await? {
            writers.push(Writer {
                actor,
                handle,
                organisation,
            });
        }
    }
    let read = case_audit_entry(
        &p,
        "case.writers",
        access.case_id,
        &format!("{} writers named", writers.len()),
    );
    state.store.audit(&[read], now).await?;
    Ok(Json(writers))
}

/// The actor ids (lower-case hex) of every change in a case's record.
async fn case_actors(
    state: &AppState,
    document_id: &str,
) -> Result<std::collections::HashSet<String>, ApiError> {
    let stored = state
        .store
        .load_document(document_id)
        .await?
        .ok_or(ApiError::NotFound("case"))?;
    let corrupt =
        |e: automerge::AutomergeError| ApiError::Internal(format!("stored document: {e}"));
    let mut doc = match &stored.snapshot {
        Some(snapshot) => automerge::Automerge::load(snapshot).map_err(corrupt)?,
        None => automerge::Automerge::new(),
    };
    doc.load_incremental(&stored.changes.concat())
        .map_err(corrupt)?;
    Ok(doc
        .get_changes(&[])
        .iter()
        .map(|change| change.actor_id().to_hex_string())
        .collect())
}

/// Only the case director of the directing municipality changes the team.
async fn change_team(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    Path(document_id): Path<String>,
    ApiJson(body): ApiJson<TeamChange>,
) -> Result<Json<Vec<String>>, ApiError> {
    let access = readable_case(&state, &p, &document_id).await?;
    let case_id = access.case_id;
    let directing = state.store.directing_organisation(case_id).await?;
    let standing = Standing {
        on_team: access.organisation_on_team,
        directs: directing == Some(p.organisation_id),
    };
    if !may_change_team(p.role, standing) {
        return Err(ApiError::Forbidden(
            "only the case director of the directing municipality changes the team",
        ));
    }
    let (name, on_team) = match (body.add, body.remove) {
        (Some(name), None) => (name, true),
        (None, Some(name)) => (name, false),
        _ => return Err(ApiError::BadRequest("give one of add or remove".into())),
    };
    let organisation = state.store.organisation_id(&name).await?;
    if !on_team && Some(organisation) == directing {
        return Err(ApiError::BadRequest(
            "the directing municipality stays on the team".into(),
        ));
    }
    let verb = if on_team { "added to" } else { "removed from" };
    let entry = case_audit_entry(
        &p,
        "case.team",
        case_id,
        &format!("organisation {organisation} {verb} the team"),
    );
    state
        .store
        .set_team_member(case_id, organisation, on_team, &entry, now)
        .await?;
    // Open connections check their access to the case again.
    let _ = state.team_changes.send(case_id);
    Ok(Json(state.store.case_team(case_id).await?))
}

async fn create_case(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    ApiJson(body): ApiJson<CreateCase>,
) -> Result<(StatusCode, Json<CaseItem>), ApiError> {
    if !p.role.may_create_cases() {
        return Err(ApiError::Forbidden("this role may not register cases"));
    }
    let address_status = match body.address_status.as_deref() {
        None => AddressStatus::Known,
        Some(s) => AddressStatus::parse(s).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "addressStatus {s:?} must be known, moved or unknown"
            ))
        })?,
    };
    let actor = ActorId::from(
        hex::decode(&p.actor_id)
            .map_err(|_| ApiError::Internal("device actor id is not hex".into()))?,
    );
    let mut doc = Automerge::new().with_actor(actor);
    let new_case = NewCase {
        label: body.label,
        address: body.address,
        address_status,
    };
    doc.transact::<_, _, automerge::AutomergeError>(|tx| init_case(tx, &new_case))
        .map_err(|e| {
            ApiError::Internal(format!("could not build the case document: {:?}", e.error))
        })?;
    // The same validator that guards sync guards the API.
    let projection = CaseRecord::new(&doc)
        .project()
        .map_err(|e| ApiError::BadRequest(format!("invalid case: {e}")))?;

    let document_id = new_document_id().to_string();
    let changes = doc
        .get_changes(&[])
        .iter()
        .map(|c| NewChange {
            hash: c.hash().to_string(),
            bytes: c.raw_bytes().to_vec(),
        })
        .collect();
    let record = NewCaseRecord {
        document_id: document_id.clone(),
        restricted_document_id: new_document_id().to_string(),
        creator_user_id: p.user_id,
        creator_organisation_id: p.organisation_id,
        directing_org_id: directing_org(&p),
        batch: ChangeBatch {
            document_id: document_id.clone(),
            device_id: p.device_id,
            changes,
            projection: Some(projection.clone()),
            audit: vec![audit_entry(&p, "case.create", "general record")],
            ..ChangeBatch::default()
        },
    };
    let id = state.store.create_case(&record, now).await?;
    crate::metrics::Metrics::inc(&state.metrics.cases_created_total);
    Ok((
        StatusCode::CREATED,
        Json(CaseItem {
            id,
            document_id,
            label: projection.label,
            address_status: projection.address_status.as_str().to_owned(),
            last_visit_at: None,
            restricted_document_id: None,
        }),
    ))
}

async fn quarantine(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> Result<Json<Vec<QuarantineItem>>, ApiError> {
    if !p.role.may_read_quarantine() {
        return Err(ApiError::Forbidden("only admins see the quarantine"));
    }
    let entries = state.store.quarantine(500).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|q| QuarantineItem {
                id: q.id,
                document_id: q.document_id,
                change_hash: q.hash,
                device_id: q.device_id,
                user: q.handle,
                reason: q.reason,
                created_at: q.created_at,
            })
            .collect(),
    ))
}
