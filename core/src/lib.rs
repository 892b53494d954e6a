//! veldwerk-core: the pure heart of Veldwerk, shared by the server and the
//! tablet app. The case-record model and its rules, and the automerge-repo sync
//! protocol, with no I/O: no clock, no randomness, no sockets, no storage.
//! Everything here builds for wasm32 as well as natively.

pub mod api;
pub mod calendar;
pub mod case;
mod chunks;
pub mod client;
mod document_id;
pub mod identity;
pub mod judge;
pub mod monitor;
mod names;
pub mod protocol;
pub mod rules;
pub mod session;
pub mod signal;
pub mod text;

pub use document_id::{DocumentId, DocumentIdError};
