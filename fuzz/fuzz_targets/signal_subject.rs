//! The signal index's subject, from what a professional typed: a BSN, a name
//! and a birth date (the input's fields, split at 0xff, a byte no UTF-8 text
//! holds). Nothing may panic, and the canonical forms are fixed points.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veldwerk_core::calendar::Date;
use veldwerk_core::signal::{Bsn, Subject, normalise_name};

fuzz_target!(|data: &[u8]| {
    let mut fields = data
        .split(|&b| b == 0xff)
        .map(|field| std::str::from_utf8(field).ok());
    let bsn = fields.next().flatten();
    let name = fields.next().flatten();
    let birth_date = fields.next().flatten();

    if let Ok(subject) = Subject::from_input(bsn, name, birth_date) {
        let canonical = subject.canonical();
        assert!(canonical.starts_with(subject.kind()), "{canonical:?}");
    }
    for text in [bsn, name, birth_date].into_iter().flatten() {
        if let Ok(bsn) = Bsn::parse(text) {
            assert_eq!(Bsn::parse(bsn.as_str()).as_ref(), Ok(&bsn));
        }
        if let Ok(normal) = normalise_name(text) {
            assert_eq!(
                normalise_name(&normal).as_deref(),
                Ok(normal.as_str()),
                "a normalised name normalises to itself"
            );
        }
        if let Some(date) = Date::parse_iso(text) {
            assert_eq!(Date::parse_iso(&date.to_string()), Some(date));
        }
    }
});
