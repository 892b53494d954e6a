//! Document ids as automerge-repo makes them: bs58check of the 16 bytes of a UUIDv4.

use std::fmt;
use std::str::FromStr;

/// The id of one automerge document (one compartment of one case).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId([u8; 16]);

/// Why a string is not a document id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentIdError {
    #[error("document id is not valid base58check")]
    Encoding,
    #[error("document id must be 16 bytes, got {0}")]
    Length(usize),
}

impl DocumentId {
    /// Builds an id from 16 random bytes; the caller brings the randomness, so
    /// `core` never reads an entropy source itself.
    pub fn from_random_bytes(mut bytes: [u8; 16]) -> Self {
        // Mark the bytes as a version-4, RFC 4122 UUID, as automerge-repo does.
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The `automerge:<id>` URL automerge-repo clients use.
    pub fn url(&self) -> String {
        format!("automerge:{self}")
    }
}

impl FromStr for DocumentId {
    type Err = DocumentIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("automerge:").unwrap_or(s);
        let bytes = bs58::decode(s)
            .with_check(None)
            .into_vec()
            .map_err(|_| DocumentIdError::Encoding)?;
        let array: [u8; 16] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| DocumentIdError::Length(bytes.len()))?;
        Ok(Self(array))
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).with_check().into_string())
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_string_form() {
        let id = DocumentId::from_random_bytes([7; 16]);
        let parsed: DocumentId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        assert_eq!(id.url().parse::<DocumentId>().unwrap(), id);
        assert_eq!(id.as_bytes()[6] >> 4, 4, "UUID version 4");
    }

    #[test]
    fn refuses_a_bad_checksum_and_a_wrong_length() {
        let good = DocumentId::from_random_bytes([9; 16]).to_string();
        let mut tampered = good.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'2' { b'3' } else { b'2' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            tampered.parse::<DocumentId>(),
            Err(DocumentIdError::Encoding)
        );
        let short = bs58::encode([1u8; 8]).with_check().into_string();
        assert_eq!(short.parse::<DocumentId>(), Err(DocumentIdError::Length(8)));
        assert_eq!("".parse::<DocumentId>(), Err(DocumentIdError::Encoding));
    }
}
