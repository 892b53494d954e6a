//! Arbitrary edits of a general, restricted or new case record, judged as the
//! server judges a sync message (`core::judge`, the write rules, the
//! validators), then read as the tablet reads a record: nothing may panic,
//! and what `veldwerk_fuzz::judging` checks must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veldwerk_fuzz::judging::Exchange;

fuzz_target!(
    init: {
        veldwerk_fuzz::fixtures::check();
    },
    |exchange: Exchange| {
        exchange.run();
    }
);
