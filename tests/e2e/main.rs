//! End-to-end tests of Veldwerk: the real server on real databases, spoken to
//! over real WebSockets by native clients, the JS automerge-repo client, and
//! HTTP. One test binary, so the workspace links it once.

mod access;
mod audit;
mod authorisation;
mod bad_input;
mod convergence;
mod direction;
mod durability;
mod faults;
mod identity;
mod interop;
mod limits;
mod monitor;
mod operations;
mod quarantine;
mod radar;
mod restricted;
mod scale_out;
mod signals;
mod store_story;
mod support;
