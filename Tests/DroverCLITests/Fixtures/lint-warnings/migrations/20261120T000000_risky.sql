-- drover:revision r1sky0000001
-- drover:parent c27d5e0f4a93
-- drover:expand
ALTER TABLE documents
    ADD COLUMN owner bigint NOT NULL,
    DROP COLUMN created_at;
CREATE INDEX documents_owner_idx ON documents (owner);
