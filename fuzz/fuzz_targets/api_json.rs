//! The JSON API's bodies (`core::api`), as the server reads a request and the
//! tablet an answer: the input's first byte picks a type, the rest is the
//! JSON. Nothing may panic, and whatever decodes encodes to JSON that decodes
//! to the same value. The same text is also read as the quarantine notice a
//! client parses from an `error` message, and checked by the rule the server
//! applies to typed text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use veldwerk_core::api::{self, cases, direction, identity, oversight, signals};
use veldwerk_core::text::{TextRule, within};

/// Bodies that carry JSON through untyped (WebAuthn's): serde_json reads a
/// float with up to one unit of error in the last place unless built with
/// `float_roundtrip`, so such a value need not read back the same.
fn untyped<T: Serialize + DeserializeOwned>(json: &[u8]) {
    if let Ok(decoded) = serde_json::from_slice::<T>(json) {
        let encoded = serde_json::to_vec(&decoded).expect("a decoded body encodes");
        serde_json::from_slice::<T>(&encoded).expect("an encoded body decodes");
    }
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    json: &[u8],
) -> Option<T> {
    let decoded: T = serde_json::from_slice(json).ok()?;
    let encoded = serde_json::to_vec(&decoded).expect("a decoded body encodes");
    let again: T = serde_json::from_slice(&encoded)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", String::from_utf8_lossy(&encoded)));
    assert_eq!(again, decoded, "encoding loses nothing");
    Some(decoded)
}

/// Every body, requests first (the server reads them from anyone).
fn body(kind: u8, json: &[u8]) {
    match kind % 40 {
        0 => drop(round_trip::<cases::CreateCase>(json)),
        1 => drop(round_trip::<cases::TeamChange>(json)),
        2 => drop(round_trip::<cases::WritersQuery>(json)),
        3 => drop(round_trip::<identity::RegisterStart>(json)),
        4 => drop(round_trip::<identity::LoginStart>(json)),
        5 => untyped::<identity::CeremonyFinish<Value>>(json),
        6 => drop(round_trip::<identity::Logout>(json)),
        7 => drop(round_trip::<identity::NewInvite>(json)),
        8 => drop(round_trip::<signals::RegisterSignal>(json)),
        9 => drop(round_trip::<signals::ContactInput>(json)),
        10 => drop(round_trip::<oversight::RadarSettings>(json)),
        11 => drop(round_trip::<direction::AskHandover>(json)),
        12 => drop(round_trip::<direction::HandoverDecision>(json)),
        13 => drop(round_trip::<direction::LinkHousehold>(json)),
        // Answers, as the tablet reads them.
        14 => {
            if let Some(me) = round_trip::<identity::Me>(json) {
                let _ = me.role();
                let _ = me.actor();
            }
        }
        15 => drop(round_trip::<identity::Ticket>(json)),
        16 => untyped::<identity::CeremonyStart<Value>>(json),
        17 => drop(round_trip::<identity::LoggedOut>(json)),
        18 => drop(round_trip::<Vec<identity::Device>>(json)),
        19 => drop(round_trip::<identity::Revoked>(json)),
        20 => drop(round_trip::<identity::InviteLink>(json)),
        21 => drop(round_trip::<Vec<identity::AuditItem>>(json)),
        22 => drop(round_trip::<Vec<cases::CaseItem>>(json)),
        23 => drop(round_trip::<Vec<cases::Writer>>(json)),
        24 => drop(round_trip::<Vec<cases::QuarantineItem>>(json)),
        25 => drop(round_trip::<Vec<direction::Organisation>>(json)),
        26 => drop(round_trip::<Vec<direction::HandoverItem>>(json)),
        27 => drop(round_trip::<Vec<direction::LinkItem>>(json)),
        28 => drop(round_trip::<oversight::Radar>(json)),
        29 => drop(round_trip::<oversight::Monitor>(json)),
        30 => drop(round_trip::<signals::Registered>(json)),
        31 => drop(round_trip::<signals::Signals>(json)),
        32 => drop(round_trip::<api::ErrorBody>(json)),
        _ => untyped::<Value>(json),
    }
}

fn text(kind: u8, text: &str) {
    if let Some(notice) = api::QuarantineNotice::parse(text) {
        assert_eq!(
            api::QuarantineNotice::parse(&notice.encode()).as_ref(),
            Some(&notice),
            "a notice reads back what it encodes"
        );
    }
    let rule = TextRule {
        max: usize::from(kind),
        required: kind & 1 == 1,
        lines: kind & 2 == 2,
    };
    if let Ok(checked) = rule.check(text) {
        assert!(within(&checked, rule.max));
        assert_eq!(
            rule.check(&checked).as_ref(),
            Ok(&checked),
            "checked text passes again"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, json)) = data.split_first() else {
        return;
    };
    body(kind, json);
    if let Ok(s) = std::str::from_utf8(json) {
        text(kind, s);
    }
    let _ = api::CloseCode::from_code(u16::from_le_bytes([
        kind,
        json.first().copied().unwrap_or(0),
    ]));
});
