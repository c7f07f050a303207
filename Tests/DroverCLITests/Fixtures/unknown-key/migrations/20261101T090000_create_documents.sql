-- drover:revision 4b7e1d2c9a01
-- drover:parent none
-- drover:message create documents

-- drover:expand
CREATE TABLE documents (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- drover:revert
DROP TABLE documents;
