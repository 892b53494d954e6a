//! The automerge-repo protocol codec (`core::protocol`), as the server reads
//! each binary WebSocket frame: the input as a frame, and the input as the
//! recipe of a CBOR map with the protocol's field names, so that decoding
//! reaches every message type's fields. Nothing may panic, and what decodes
//! encodes to a frame that decodes to the same message. Document ids are
//! read from text too.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use ciborium::Value;
use libfuzzer_sys::fuzz_target;
use veldwerk_core::DocumentId;
use veldwerk_core::protocol::{MESSAGE_TYPES, Message};

const FIELDS: &[&str] = &[
    "type",
    "senderId",
    "targetId",
    "peerMetadata",
    "storageId",
    "isEphemeral",
    "supportedProtocolVersions",
    "selectedProtocolVersion",
    "message",
    "documentId",
    "data",
    "count",
    "sessionId",
    "add",
    "remove",
    "newHeads",
    "heads",
    "timestamp",
];

fn text(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    Ok(Value::Text(if bool::arbitrary(u)? {
        (*u.choose(FIELDS)?).to_owned()
    } else {
        String::arbitrary(u)?
    }))
}

fn value(u: &mut Unstructured<'_>, depth: u8) -> arbitrary::Result<Value> {
    let nested = depth > 0;
    Ok(match u.int_in_range(0..=10)? {
        0 => Value::Integer(i64::arbitrary(u)?.into()),
        1 => Value::Integer(u64::arbitrary(u)?.into()),
        2 => Value::Bytes(Vec::arbitrary(u)?),
        3 => text(u)?,
        4 => Value::Text(String::arbitrary(u)?),
        5 => Value::Bool(bool::arbitrary(u)?),
        6 => Value::Float(f64::arbitrary(u)?),
        7 if nested => {
            let len = u.int_in_range(0..=4)?;
            Value::Array(
                (0..len)
                    .map(|_| value(u, depth - 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        8 if nested => map(u, depth - 1)?,
        9 if nested => Value::Tag(u64::arbitrary(u)?, Box::new(value(u, depth - 1)?)),
        _ => Value::Null,
    })
}

fn map(u: &mut Unstructured<'_>, depth: u8) -> arbitrary::Result<Value> {
    let len = u.int_in_range(0..=6)?;
    let mut entries = Vec::with_capacity(len);
    for _ in 0..len {
        entries.push((text(u)?, value(u, depth)?));
    }
    Ok(Value::Map(entries))
}

/// A map with a known `type` and fields of the protocol, valued anyhow.
fn message(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let kind = *u.choose(&MESSAGE_TYPES)?;
    let mut entries = vec![(Value::Text("type".into()), Value::Text(kind.into()))];
    let len = u.int_in_range(0..=7)?;
    for _ in 0..len {
        let field = Value::Text((*u.choose(FIELDS)?).to_owned());
        entries.push((field, value(u, 3)?));
    }
    let mut frame = Vec::new();
    ciborium::into_writer(&Value::Map(entries), &mut frame)
        .map_err(|_| arbitrary::Error::IncorrectFormat)?;
    Ok(frame)
}

fn round_trip(frame: &[u8]) {
    let Ok(decoded) = Message::decode(frame) else {
        return;
    };
    let _ = decoded.kind();
    let _ = decoded.document_id();
    let encoded = decoded.encode();
    let again = Message::decode(&encoded).expect("an encoded message decodes");
    assert_eq!(
        again.encode(),
        encoded,
        "decoding what we encode loses nothing"
    );
}

fuzz_target!(|data: &[u8]| {
    round_trip(data);
    if let Ok(frame) = message(&mut Unstructured::new(data)) {
        round_trip(&frame);
    }
    if let Ok(id) = std::str::from_utf8(data).map(str::parse::<DocumentId>)
        && let Ok(id) = id
    {
        assert_eq!(id.to_string().parse::<DocumentId>(), Ok(id));
    }
});
