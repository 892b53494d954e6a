//! Automerge storage chunks as they arrive from outside, looked at before
//! automerge parses them: where each chunk ends, and how large its compressed
//! parts become when inflated. Automerge inflates a DEFLATE stream without a
//! limit, so 130 KB of zeros on the wire would become 128 MiB in memory before
//! any rule could refuse it; here the inflated size is counted, a small buffer
//! at a time, and counting stops as soon as the budget is spent.
//!
//! The layouts read here are automerge's binary format (0.12): every chunk is
//! magic, checksum, type, LEB128 length, body. A compressed change (type 2) is
//! one DEFLATE stream; a document (type 0) and a bundle (type 3) name their
//! columns with a spec whose bit 3 marks a DEFLATE-compressed column.

use std::io::Read;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const HASH_LEN: usize = 32;
const DEFLATE_BIT: u64 = 0b1000;

/// The kinds of chunk automerge writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    Document,
    Change,
    CompressedChange,
    Bundle,
    /// A type this build does not know; automerge refuses it.
    Other(u8),
}

/// One chunk: its kind, its body, and the whole chunk with its header.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    pub kind: ChunkKind,
    pub body: &'a [u8],
    pub bytes: &'a [u8],
}

/// Splits bytes into chunks; `None` when they are not a whole number of chunks.
pub fn split(mut bytes: &[u8]) -> Option<Vec<Chunk<'_>>> {
    let mut chunks = Vec::new();
    while !bytes.is_empty() {
        if bytes.get(..4)? != MAGIC {
            return None;
        }
        let kind = match *bytes.get(8)? {
            0 => ChunkKind::Document,
            1 => ChunkKind::Change,
            2 => ChunkKind::CompressedChange,
            3 => ChunkKind::Bundle,
            other => ChunkKind::Other(other),
        };
        let mut reader = Reader(bytes.get(9..)?);
        let length = reader.uleb()?;
        let start = bytes.len() - reader.0.len();
        let end = start.checked_add(usize::try_from(length).ok()?)?;
        chunks.push(Chunk {
            kind,
            body: bytes.get(start..end)?,
            bytes: &bytes[..end],
        });
        bytes = &bytes[end..];
    }
    Some(chunks)
}

/// Why a chunk's inflated size is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inflation {
    /// The chunk's layout or a DEFLATE stream in it is broken.
    Malformed,
    /// Inflating would pass the budget.
    OverBudget,
}

/// The bytes `chunk` takes once automerge has inflated its compressed parts,
/// if that is at most `budget`. Nothing is kept: each stream is inflated
/// through a small buffer and only counted.
pub fn inflated_size(chunk: &Chunk<'_>, budget: u64) -> Result<u64, Inflation> {
    let size = match chunk.kind {
        ChunkKind::Change | ChunkKind::Other(_) => chunk.bytes.len() as u64,
        ChunkKind::CompressedChange => {
            (chunk.bytes.len() - chunk.body.len()) as u64 + inflate(chunk.body, budget)?
        }
        ChunkKind::Document => columns_size(chunk.body, budget, Layout::Document)?,
        ChunkKind::Bundle => columns_size(chunk.body, budget, Layout::Bundle)?,
    };
    if size > budget {
        return Err(Inflation::OverBudget);
    }
    Ok(size)
}

#[derive(Clone, Copy)]
enum Layout {
    /// Actors, heads, change columns' specs, op columns' specs, then the data
    /// of both (and head indices).
    Document,
    /// Dependencies, actors, then change columns' specs and data, then op
    /// columns' specs and data.
    Bundle,
}

fn columns_size(body: &[u8], budget: u64, layout: Layout) -> Result<u64, Inflation> {
    let mut reader = Reader(body);
    let malformed = Inflation::Malformed;
    let mut sizes = ColumnSizes::default();
    match layout {
        Layout::Document => {
            reader.actors().ok_or(malformed)?;
            reader.hashes().ok_or(malformed)?;
            let mut specs = reader.column_specs().ok_or(malformed)?;
            specs.extend(reader.column_specs().ok_or(malformed)?);
            sizes.read(&mut reader, &specs, budget)?;
        }
        Layout::Bundle => {
            reader.hashes().ok_or(malformed)?;
            reader.actors().ok_or(malformed)?;
            for _ in 0..2 {
                let specs = reader.column_specs().ok_or(malformed)?;
                sizes.read(&mut reader, &specs, budget)?;
            }
        }
    }
    // Everything outside the columns' data counts as it is.
    let rest = (body.len() as u64).saturating_sub(sizes.on_wire);
    Ok(rest.saturating_add(sizes.inflated))
}

/// The columns' data read so far: as sent, and as automerge will hold it.
#[derive(Default)]
struct ColumnSizes {
    on_wire: u64,
    inflated: u64,
}

impl ColumnSizes {
    /// Reads the data of `specs`' columns (spec, length) off `reader`.
    fn read(
        &mut self,
        reader: &mut Reader<'_>,
        specs: &[(u64, u64)],
        budget: u64,
    ) -> Result<(), Inflation> {
        for &(spec, len) in specs {
            let data = usize::try_from(len)
                .ok()
                .and_then(|len| reader.take(len))
                .ok_or(Inflation::Malformed)?;
            self.on_wire += len;
            self.inflated += if spec & DEFLATE_BIT != 0 {
                inflate(data, budget.saturating_sub(self.inflated))?
            } else {
                len
            };
            if self.inflated > budget {
                return Err(Inflation::OverBudget);
            }
        }
        Ok(())
    }
}

/// The length of what a raw DEFLATE stream inflates to, if at most `budget`.
fn inflate(stream: &[u8], budget: u64) -> Result<u64, Inflation> {
    let mut decoder = flate2::bufread::DeflateDecoder::new(stream);
    let mut buffer = [0u8; 8 * 1024];
    let mut total = 0u64;
    loop {
        match decoder.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                total += n as u64;
                if total > budget {
                    return Err(Inflation::OverBudget);
                }
            }
            Err(_) => return Err(Inflation::Malformed),
        }
    }
}

/// A cursor over a chunk body, with the LEB128 integers automerge writes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn uleb(&mut self) -> Option<u64> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first()?;
            self.0 = rest;
            value |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(taken)
    }

    fn count(&mut self) -> Option<usize> {
        let n = usize::try_from(self.uleb()?).ok()?;
        // Every item takes at least one byte: a larger count is a lie.
        (n <= self.0.len()).then_some(n)
    }

    fn actors(&mut self) -> Option<()> {
        for _ in 0..self.count()? {
            let len = usize::try_from(self.uleb()?).ok()?;
            self.take(len)?;
        }
        Some(())
    }

    fn hashes(&mut self) -> Option<()> {
        let n = self.count()?;
        self.take(n.checked_mul(HASH_LEN)?).map(|_| ())
    }

    fn column_specs(&mut self) -> Option<Vec<(u64, u64)>> {
        (0..self.count()?)
            .map(|_| Some((self.uleb()?, self.uleb()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{AutoCommit, ROOT, transaction::Transactable};

    fn record(entries: usize) -> AutoCommit {
        let mut doc = AutoCommit::new();
        for n in 0..entries {
            doc.put(
                ROOT,
                format!("key{n}"),
                format!("Observatie nummer {n}: alles in orde."),
            )
            .unwrap();
            doc.commit();
        }
        doc
    }

    #[test]
    fn splits_the_chunks_real_documents_and_changes_are_made_of() {
        let mut doc = record(5);
        let changes: Vec<Vec<u8>> = doc
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        assert_eq!(split(&changes.concat()).unwrap().len(), 5);
        let saved = doc.save();
        let chunks = split(&saved).unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].kind, ChunkKind::Document);
        assert!(split(&[0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 5]).is_none());
        let mut cut = changes.concat();
        cut.pop();
        assert!(split(&cut).is_none());
        assert!(split(b"not automerge").is_none());
    }
}
