-- drover:revision b4anch000001
-- drover:parent r00t00000001
-- drover:expand
CREATE TABLE side (id int);
