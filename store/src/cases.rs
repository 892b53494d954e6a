//! Cases: the caseload's projection, who may see which document, the team.

use veldwerk_core::case::AddressStatus;
use veldwerk_core::identity::{Compartment, Standing};

use super::audit::{AuditEntry, append_audit};
use super::documents::{ChangeBatch, write_batch};
use super::{Backend, BeginWrite, Result, Store, StoreError};

/// One case in a caseload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSummary {
    pub id: i64,
    pub document_id: String,
    pub label: String,
    pub address_status: AddressStatus,
    pub last_visit_at: Option<i64>,
    pub restricted_document_id: Option<String>,
    /// The municipality directing the case, if one does.
    pub directing_org_id: Option<i64>,
}

type CaseRow = (
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

fn case_summary(row: CaseRow) -> Result<CaseSummary> {
    let (
        id,
        document_id,
        label,
        address_status,
        last_visit_at,
        restricted_document_id,
        directing_org_id,
    ) = row;
    Ok(CaseSummary {
        id,
        document_id,
        label,
        address_status: address_status_of(&address_status)?,
        last_visit_at,
        restricted_document_id,
        directing_org_id,
    })
}

/// A stored address status as the enum it stands for.
pub(crate) fn address_status_of(stored: &str) -> Result<AddressStatus> {
    AddressStatus::parse(stored)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown address status {stored:?}")))
}

/// Where a document belongs and whether an organisation is on its case's team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentAccess {
    pub case_id: i64,
    pub compartment: Compartment,
    pub organisation_on_team: bool,
    pub organisation_directs: bool,
}

impl DocumentAccess {
    pub fn standing(&self) -> Standing {
        Standing {
            on_team: self.organisation_on_team,
            directs: self.organisation_directs,
        }
    }
}

/// The pieces of a case registered with its first document.
#[derive(Debug, Clone)]
pub struct NewCaseRecord {
    pub document_id: String,
    /// The id of the case's (initially empty) restricted record.
    pub restricted_document_id: String,
    pub creator_user_id: i64,
    pub creator_organisation_id: i64,
    /// The creator's organisation directs the case when it is a municipality;
    /// otherwise the case awaits direction.
    pub directing_org_id: Option<i64>,
    pub batch: ChangeBatch,
}

impl Store {
    /// Where a document belongs, as seen by one organisation; `None` when no
    /// such document exists.
    pub async fn document_access(
        &self,
        document_id: &str,
        organisation_id: i64,
    ) -> Result<Option<DocumentAccess>> {
        let row: Option<(i64, String, i64, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT d.case_id, d.compartment, \
                    (SELECT COUNT(*) FROM case_team t WHERE t.case_id = d.case_id AND t.organisation_id = $2), \
                    (SELECT COUNT(*) FROM cases c WHERE c.id = d.case_id AND c.directing_org_id = $2) \
             FROM documents d WHERE d.document_id = $1")
            .bind(document_id).bind(organisation_id).fetch_optional(pool).await)?;
        row.map(|(case_id, compartment, on_team, directs)| {
            Ok(DocumentAccess {
                case_id,
                compartment: compartment
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                organisation_on_team: on_team > 0,
                organisation_directs: directs > 0,
            })
        })
        .transpose()
    }

    /// The cases whose team includes an organisation, most recently visited first.
    pub async fn caseload(&self, organisation_id: i64) -> Result<Vec<CaseSummary>> {
        let rows: Vec<CaseRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT c.id, c.document_id, c.label, c.address_status, c.last_visit_at, c.restricted_document_id, c.directing_org_id \
             FROM cases c JOIN case_team t ON t.case_id = c.id WHERE t.organisation_id = $1 \
             ORDER BY c.last_visit_at IS NULL, c.last_visit_at DESC, c.id")
            .bind(organisation_id).fetch_all(pool).await)?;
        rows.into_iter().map(case_summary).collect()
    }

    /// The summary of the case a document belongs to.
    pub async fn case_summary(&self, document_id: &str) -> Result<Option<CaseSummary>> {
        let row: Option<CaseRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT c.id, c.document_id, c.label, c.address_status, c.last_visit_at, c.restricted_document_id, c.directing_org_id \
             FROM cases c JOIN documents d ON d.case_id = c.id WHERE d.document_id = $1")
            .bind(document_id).fetch_optional(pool).await)?;
        row.map(case_summary).transpose()
    }

    /// The organisation directing a case, if any.
    pub async fn directing_organisation(&self, case_id: i64) -> Result<Option<i64>> {
        let row: Option<(Option<i64>,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT directing_org_id FROM cases WHERE id = $1").bind(case_id).fetch_optional(pool).await)?;
        Ok(row.and_then(|r| r.0))
    }

    /// The organisations on a case's team, by name.
    pub async fn case_team(&self, case_id: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT o.name FROM case_team t JOIN organisations o ON o.id = t.organisation_id \
             WHERE t.case_id = $1 ORDER BY o.name")
            .bind(case_id).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Puts an organisation on a case's team or takes it off, recording why in the audit log.
    pub async fn set_team_member(
        &self,
        case_id: i64,
        organisation_id: i64,
        on_team: bool,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if on_team {
                sqlx::query("INSERT INTO case_team (case_id, organisation_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(case_id).bind(organisation_id).execute(&mut *tx).await?;
            } else {
                sqlx::query("DELETE FROM case_team WHERE case_id = $1 AND organisation_id = $2")
                    .bind(case_id).bind(organisation_id).execute(&mut *tx).await?;
            }
            append_audit!(tx, &self.audit_key, [audit], now);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Registers a new case with its general record, in one transaction.
    pub async fn create_case(&self, record: &NewCaseRecord, now: i64) -> Result<i64> {
        self.create_case_logged(record, now)
            .await
            .map(|(case_id, _)| case_id)
    }

    /// As [`Store::create_case`]; also returns the highest change `seq` logged.
    pub async fn create_case_logged(&self, record: &NewCaseRecord, now: i64) -> Result<(i64, i64)> {
        let projection = record
            .batch
            .projection
            .as_ref()
            .ok_or_else(|| StoreError::Corrupt("a new case needs its projection".into()))?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let (case_id,): (i64,) = sqlx::query_as(
                "INSERT INTO cases (document_id, directing_org_id, created_by_user_id, created_at, label, address_status, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $4) RETURNING id")
                .bind(&record.document_id).bind(record.directing_org_id).bind(record.creator_user_id)
                .bind(now).bind(&projection.label).bind(projection.address_status.as_str())
                .fetch_one(&mut *tx).await?;
            sqlx::query("INSERT INTO case_team (case_id, organisation_id) VALUES ($1, $2)")
                .bind(case_id).bind(record.creator_organisation_id).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO documents (document_id, case_id, compartment) VALUES ($1, $2, 'general')")
                .bind(&record.document_id).bind(case_id).execute(&mut *tx).await?;
            // The restricted record starts empty; the first who may write it creates its skeleton.
            sqlx::query("INSERT INTO documents (document_id, case_id, compartment) VALUES ($1, $2, 'restricted')")
                .bind(&record.restricted_document_id).bind(case_id).execute(&mut *tx).await?;
            sqlx::query("UPDATE cases SET restricted_document_id = $1 WHERE id = $2")
                .bind(&record.restricted_document_id).bind(case_id).execute(&mut *tx).await?;
            let mut batch = record.batch.clone();
            for entry in &mut batch.audit {
                entry.case_id.get_or_insert(case_id);
            }
            let last_seq = write_batch!(tx, &self.audit_key, &batch, now);
            tx.commit().await?;
            Ok((case_id, last_seq.unwrap_or(0)))
        })
    }
}
