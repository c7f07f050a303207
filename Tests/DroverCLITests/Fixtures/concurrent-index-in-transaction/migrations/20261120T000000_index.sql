-- drover:revision 1ndex0000001
-- drover:parent c27d5e0f4a93
-- drover:expand
ALTER TABLE documents ADD COLUMN title_lower text;
CREATE INDEX CONCURRENTLY documents_title_lower_idx ON documents (title_lower);
