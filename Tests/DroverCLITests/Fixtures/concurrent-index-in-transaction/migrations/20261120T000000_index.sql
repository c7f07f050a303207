-- drover:revision 1ndex0000001
-- drover:parent r00t00000001
-- drover:expand
ALTER TABLE documents ADD COLUMN title_lower text;
CREATE INDEX CONCURRENTLY documents_title_lower_idx ON documents (title_lower);
