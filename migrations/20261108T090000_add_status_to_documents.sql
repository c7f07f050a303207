-- drover:revision 9f3a6c2e8b15
-- drover:parent 4b7e1d2c9a01
-- drover:message add status to documents, NOT NULL once every row has one

-- The expand-contract story of one column:
--   expand    adds it nullable, so code of the previous release keeps inserting;
--   backfill  fills the existing rows in small batches, each its own transaction;
--   contract  makes it NOT NULL, after `droverctl release` and inside the window,
--             without holding a lock while the table is scanned: a NOT VALID
--             check (instant), its validation (scans, but lets reads and writes
--             go on), then SET NOT NULL, which uses the validated check instead
--             of scanning (PostgreSQL 12+). Each statement commits on its own.

-- drover:expand
ALTER TABLE documents ADD COLUMN status text;
ALTER TABLE documents ALTER COLUMN status SET DEFAULT 'draft';

-- drover:backfill batch=250 pause=10ms
UPDATE documents SET status = 'draft'
 WHERE id IN (SELECT id FROM documents WHERE status IS NULL LIMIT :batch);

-- drover:contract
-- drover:no-transaction
ALTER TABLE documents ADD CONSTRAINT documents_status_not_null CHECK (status IS NOT NULL) NOT VALID;
ALTER TABLE documents VALIDATE CONSTRAINT documents_status_not_null;
ALTER TABLE documents ALTER COLUMN status SET NOT NULL;
ALTER TABLE documents DROP CONSTRAINT documents_status_not_null;

-- drover:revert
ALTER TABLE documents DROP COLUMN status;
