//! What one judged sync message stores: the accepted changes, the refused
//! ones with their reasons, the actor bindings, the projection and the audit
//! entries, as one `ChangeBatch`.

use automerge::Change;
use veldwerk_core::DocumentId;
use veldwerk_core::identity::Compartment;
use veldwerk_core::judge::{Refusal, Verdict};

use crate::store::{AuditEntry, ChangeBatch, NewChange, Principal, QuarantinedChange};

pub(super) fn batch(
    id: DocumentId,
    principal: &Principal,
    case_id: Option<i64>,
    compartment: Compartment,
    verdict: &Verdict,
) -> ChangeBatch {
    let audit = |action: &'static str, detail: String| AuditEntry {
        user_id: Some(principal.user_id),
        device_id: Some(principal.device_id),
        organisation_id: Some(principal.organisation_id),
        action,
        case_id,
        compartment: Some(compartment.as_str().into()),
        via: "sync",
        detail,
    };
    let mut entries = Vec::new();
    if !verdict.accepted.is_empty() {
        entries.push(audit(
            "case.change",
            format!("{} changes", verdict.accepted.len()),
        ));
    }
    for (change, _) in &verdict.refused {
        entries.push(audit(
            "change.quarantine",
            format!("change {}", change.hash()),
        ));
    }
    ChangeBatch {
        document_id: id.to_string(),
        restricted: compartment == Compartment::Restricted,
        device_id: principal.device_id,
        audit: entries,
        changes: verdict
            .accepted
            .iter()
            .map(|c| NewChange {
                hash: c.hash().to_string(),
                bytes: c.raw_bytes().to_vec(),
            })
            .collect(),
        quarantined: verdict.refused.iter().map(quarantined).collect(),
        bind_actors: verdict.bind_actors.clone(),
        projection: if verdict.accepted.is_empty() {
            None
        } else {
            verdict.judged.projection.clone()
        },
        changed_visits: verdict.judged.changed_visits.clone(),
    }
}

/// The largest refused change whose bytes are kept for inspection; of a
/// larger one only its hash, size and reason are (a frame of refused changes
/// would otherwise put megabytes into the database each time it is sent).
const MAX_QUARANTINED_BYTES: usize = 64 * 1024;

fn quarantined((change, refusal): &(Change, Refusal)) -> QuarantinedChange {
    let reason = refusal.to_string();
    let raw = change.raw_bytes();
    let (bytes, reason) = if raw.len() <= MAX_QUARANTINED_BYTES {
        (raw.to_vec(), reason)
    } else {
        let note = format!(
            "{reason} (its {} bytes were not kept: more than {MAX_QUARANTINED_BYTES})",
            raw.len()
        );
        (Vec::new(), note)
    };
    QuarantinedChange {
        hash: change.hash().to_string(),
        bytes,
        reason,
    }
}
