//! A case's restricted record on the tablet, for those the server names it
//! to: kept with its skeleton (the one change every first writer makes
//! identically), and signals added to it, offline too, as checked edits.

use veldwerk_core::DocumentId;
use veldwerk_core::identity::Compartment;

use crate::app::{self, Announcement, EditError};
use crate::platform::{Failure, now_ms};

/// Adds a signal to a case's restricted record (offline too): on the shared
/// skeleton when the record is still empty, then as one checked, durable edit.
pub async fn add_signal(
    restricted: DocumentId,
    kind: veldwerk_core::case::SignalKind,
    text: &str,
) -> Result<(), EditError> {
    let me = app::read(|r| r.me.clone()).ok_or_else(|| EditError::Record("locked".into()))?;
    hold(restricted)
        .await
        .map_err(|e| EditError::Record(e.to_string()))?;
    let mut id_bytes = [0u8; 8];
    id_bytes.copy_from_slice(&crate::platform::random(8));
    let signal = veldwerk_core::case::NewSignal {
        id: hex::encode(id_bytes),
        at_ms: now_ms(),
        author: me.handle.clone(),
        organisation: me.organisation.clone(),
        kind,
        text: text.trim().to_owned(),
    };
    app::edit_in(restricted, Compartment::Restricted, |tx| {
        veldwerk_core::case::add_signal(tx, &signal)
    })
    .await
}

/// Keeps a case's restricted record on the tablet, with its skeleton: the one
/// change every first writer makes identically
/// ([`restricted_skeleton`](veldwerk_core::case::restricted_skeleton)). So a
/// record with no signals yet reads as that, offline too, and a signal added
/// offline needs nothing from the server.
pub async fn hold(restricted: DocumentId) -> Result<(), Failure> {
    app::track(restricted);
    let added = app::with(|r| {
        let local = r.docs.get_mut(&restricted)?;
        if veldwerk_core::case::has_restricted_skeleton(&local.doc) {
            return None;
        }
        let skeleton = veldwerk_core::case::restricted_skeleton(&restricted);
        local.doc.apply_changes([skeleton]).ok()
    });
    if added.is_some() {
        app::persist(restricted).await?;
        app::changed();
        app::announce(Announcement::Changed(restricted));
    }
    Ok(())
}
