//! The general record of one household as an automerge document: its schema,
//! typed accessors and writers, the validator, and the flat projection the
//! server keeps in SQL for queues, the radar and the monitor.
//!
//! Shape (keys are camelCase, as JS clients write them):
//!
//! ```text
//! { schemaVersion: 1, compartment: "general",
//!   household: { label, address, addressStatus: known|moved|unknown },
//!   members:    { <id>: { name, birthDate?: "YYYY-MM-DD", role } },
//!   visits:     { <id>: { at, author, organisation, kind, present: [<member id>],
//!                         observations: { <theme>: text }, status,
//!                         review?: { status, reviewer, comment, at },
//!                         answer?: text, submittedAt?: time } },
//!   agreements: { <id>: { text, visit?, due?: "YYYY-MM-DD", done } } }
//! ```
//!
//! Collections are maps keyed by client-made ids so concurrent additions never
//! collide, and they exist from the first change so no two clients ever create
//! the same collection concurrently (which would hide one of them). Free text
//! is a plain string; a collaborative Text object is accepted too, because JS
//! automerge writes strings that way by default. There is deliberately no field
//! for ethnicity, origin or nationality: the validator refuses unknown keys.
//!
//! The parts: `schema` (fields, values, limits), `record` (typed readers that
//! check what they read), `validate`, `projection` (with `Touched`), `writers`,
//! `restricted` (the other compartment's record), and beside them `view`,
//! `conflicts` (every field with concurrent values, and settling one),
//! `review`, `history` and `operations`. Every public name is re-exported
//! here, so callers write `case::CaseRecord`, never the part it lives in.

mod conflicts;
mod history;
mod operations;
mod projection;
mod record;
mod restricted;
mod review;
mod schema;
mod validate;
mod view;
mod writers;

pub use conflicts::{ConflictingValue, FieldConflict, FieldValue, settle};
pub use history::{FieldEdit, HistoryEntry, history};
pub use operations::check_operations;
pub use projection::{CaseProjection, Touched, VisitRow};
pub use record::CaseRecord;
pub use restricted::{
    NewSignal, SignalEntry, SignalKind, add_signal, has_restricted_skeleton, init_restricted,
    restricted_skeleton,
};
pub use review::{FieldChange, VisitField, awaits_review, visit_as_reviewed, visit_changes};
pub use schema::{
    AddressStatus, MAX_FREE_TEXT, MAX_ID_LEN, MAX_SHORT_TEXT, MemberRole, ReviewStatus,
    SCHEMA_VERSION, SchemaError, Theme, VisitKind, VisitStatus,
};
pub use view::{AgreementView, Authored, CaseView, MemberView, ReviewView, VisitView};
pub use writers::{
    NewCase, NewVisit, add_agreement, add_member, add_visit, answer_review, init_case,
    review_visit, set_address, set_observation, submit_visit,
};

/// A household record and a visit the tests of several parts start from.
#[cfg(test)]
mod fixtures {
    use automerge::AutoCommit;

    use super::*;

    pub(super) fn new_case() -> AutoCommit {
        let mut doc = AutoCommit::new();
        init_case(
            &mut doc,
            &NewCase {
                label: "Familie De Vries".into(),
                address: "Dorpsstraat 1, Ergens".into(),
                address_status: AddressStatus::Known,
            },
        )
        .unwrap();
        doc
    }

    pub(super) fn visit(id: &str, at_ms: i64) -> NewVisit {
        NewVisit {
            id: id.into(),
            at_ms,
            author: "jan".into(),
            organisation: "Jeugdzorg Noord".into(),
            kind: VisitKind::Home,
            present: vec!["m1".into()],
            observations: vec![
                (Theme::Housing, "Vochtig huis".into()),
                (Theme::Health, "Moe".into()),
            ],
            status: VisitStatus::Submitted,
        }
    }
}
