//! What the fuzz targets share: the records they start from and the people
//! who write to them (`fixtures`), edits of a record made from fuzzer bytes
//! (`edits`), the server's judgement of new changes with the checks that must
//! hold after it (`judging`), and the seed inputs of the corpora (`seeds`).
//!
//! The targets themselves are in `fuzz_targets/`, one per decoder or judge of
//! outside input; `cargo xtask fuzz` builds and runs them.

pub mod edits;
pub mod fixtures;
pub mod judging;
pub mod seeds;
