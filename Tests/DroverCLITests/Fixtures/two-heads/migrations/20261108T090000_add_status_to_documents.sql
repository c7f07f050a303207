-- drover:revision 9f3a6c2e8b15
-- drover:parent 4b7e1d2c9a01
-- drover:message add status to documents, NOT NULL once every row has one

-- The expand-contract story of one column:
--   expand    adds it nullable, so code of the previous release keeps inserting;
--   backfill  fills the existing rows in small batches, each its own transaction;
--   contract  makes it NOT NULL, after `droverctl release` and inside the window.

-- drover:expand
ALTER TABLE documents ADD COLUMN status text;
ALTER TABLE documents ALTER COLUMN status SET DEFAULT 'draft';

-- drover:backfill batch=250 pause=10ms
UPDATE documents SET status = 'draft'
 WHERE id IN (SELECT id FROM documents WHERE status IS NULL LIMIT :batch);

-- drover:contract
ALTER TABLE documents ALTER COLUMN status SET NOT NULL;

-- drover:revert
ALTER TABLE documents DROP COLUMN status;
