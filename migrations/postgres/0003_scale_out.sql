-- Several server nodes on one database: each node keeps the documents it
-- serves in memory and catches up from the change log by `seq`. A snapshot
-- records the highest `seq` it covers, so a node that loaded the document
-- earlier can tell whether the compaction removed changes it has not seen.
ALTER TABLE documents ADD COLUMN snapshot_seq BIGINT NOT NULL DEFAULT 0;
