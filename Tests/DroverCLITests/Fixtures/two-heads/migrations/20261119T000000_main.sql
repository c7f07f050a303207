-- drover:revision ma1n00000001
-- drover:parent r00t00000001
-- drover:expand
CREATE TABLE main_line (id int);
