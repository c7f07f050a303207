-- drover:revision r1sky0000001
-- drover:parent r00t00000001
-- drover:expand
ALTER TABLE documents
    ADD COLUMN owner bigint NOT NULL,
    DROP COLUMN title;
CREATE INDEX documents_owner_idx ON documents (owner);
