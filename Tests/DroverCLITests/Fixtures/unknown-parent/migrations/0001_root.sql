-- drover:revision r00t00000001
-- drover:parent none
-- drover:message create documents
-- drover:expand
CREATE TABLE documents (id bigint PRIMARY KEY, title text NOT NULL);
