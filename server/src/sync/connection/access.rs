//! What a connection may read: the access decision per document (cached,
//! and dropped when a team changes), the limit on documents open at once and
//! on requests for new ones, and the audit entry of a first read.

use veldwerk_core::DocumentId;
use veldwerk_core::identity::{Compartment, Standing, may_read};

use super::Connection;
use crate::metrics::Metrics;
use crate::store::AuditEntry;

/// Access decisions one connection keeps before starting afresh.
const MAX_CACHED_ACCESS: usize = 10_000;

/// What the access check says about one document for this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    Granted {
        case_id: i64,
        compartment: Compartment,
        standing: Standing,
    },
    /// Not stored: the peer may register it as a new household.
    Creatable,
    /// Not stored, or not for this peer: answered as `doc-unavailable`.
    Unavailable,
}

impl Connection {
    /// After a team change: forget every access decision, and stop syncing
    /// the documents this peer may no longer read.
    pub(super) async fn check_access_again(&mut self) {
        self.access.clear();
        let open: Vec<DocumentId> = self.open.iter().copied().collect();
        for id in open {
            let still = matches!(self.access(id, false).await, Ok(Access::Granted { .. }));
            if !still {
                self.open.remove(&id);
                self.state.docs.detach(self.id, [id]).await;
                if let Some(peer) = self.peer.clone() {
                    self.unavailable(&peer, id);
                }
            }
        }
    }

    pub(super) async fn access(&mut self, id: DocumentId, may_create: bool) -> Result<Access, ()> {
        if self.pending.contains_key(&id) {
            return Ok(Access::Creatable);
        }
        if let Some(access) = self.access.get(&id) {
            return Ok(*access);
        }
        let found = match self
            .state
            .store
            .document_access(&id.to_string(), self.principal.organisation_id)
            .await
        {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "access check failed");
                return Err(());
            }
        };
        let access = match found {
            Some(doc)
                if may_read(
                    self.principal.role,
                    self.principal.organisation_kind,
                    doc.standing(),
                    doc.compartment,
                ) =>
            {
                Access::Granted {
                    case_id: doc.case_id,
                    compartment: doc.compartment,
                    standing: doc.standing(),
                }
            }
            Some(_) => Access::Unavailable,
            None if may_create && self.principal.role.may_create_cases() => Access::Creatable,
            None => Access::Unavailable,
        };
        // "Creatable" is not cached: the document may be created meanwhile.
        if self.access.len() >= MAX_CACHED_ACCESS {
            self.access.clear();
        }
        if access != Access::Creatable {
            self.access.insert(id, access);
        }
        Ok(access)
    }

    /// A `sync` may register a new household; a `request` only asks for a document.
    /// Whether this connection may ask for one more document it does not have
    /// open: within the rate of such requests and the documents it may have
    /// open at once. The peer is told which limit it met (for the rate, at
    /// most once a second).
    pub(super) fn may_open(&mut self) -> bool {
        let now = std::time::Instant::now();
        let config = &self.state.config;
        let (max_open, per_sec) = (config.max_open_documents, config.document_requests_per_sec);
        let refusal = if self.open.len() + self.pending.len() >= max_open {
            Some(format!(
                "at most {max_open} documents may be open on one connection \
                 (VELDWERK_MAX_OPEN_DOCUMENTS); this one was not opened"
            ))
        } else if !self.document_requests.take(now) {
            self.document_requests.tell(now).then(|| {
                format!(
                    "more than {per_sec} requests for documents a second \
                     (VELDWERK_DOCUMENT_REQUESTS_PER_SEC); they are refused until the rate falls"
                )
            })
        } else {
            return true;
        };
        Metrics::inc(&self.state.metrics.document_requests_refused_total);
        if let Some(refusal) = refusal {
            self.error(refusal);
        }
        false
    }

    /// Records that this connection's person read a case record.
    pub(super) async fn audit_read(
        &self,
        id: DocumentId,
        case_id: i64,
        compartment: Compartment,
    ) -> bool {
        let entry = AuditEntry {
            user_id: Some(self.principal.user_id),
            device_id: Some(self.principal.device_id),
            organisation_id: Some(self.principal.organisation_id),
            action: "case.read",
            case_id: Some(case_id),
            compartment: Some(compartment.as_str().into()),
            via: "sync",
            detail: format!("document {id}"),
        };
        match self.state.store.audit(&[entry], self.state.now()).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "could not write the audit log");
                false
            }
        }
    }
}
