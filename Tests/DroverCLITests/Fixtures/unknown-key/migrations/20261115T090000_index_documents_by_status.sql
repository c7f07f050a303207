-- drover:revision c27d5e0f4a93
-- drover:parent 9f3a6c2e8b15
-- drover:message index documents by status

-- CREATE INDEX CONCURRENTLY cannot run in a transaction: the section runs its
-- statements one by one, and drover records each one, so after a crash it resumes
-- at the statement that did not finish (dropping an INVALID index first).

-- drover:expand
-- drover:no-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS documents_status_idx ON documents (status);

-- drover:revert
-- drover:no-transaction
DROP INDEX CONCURRENTLY IF EXISTS documents_status_idx;
