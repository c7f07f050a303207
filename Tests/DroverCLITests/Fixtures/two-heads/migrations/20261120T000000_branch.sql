-- drover:revision b4anch000001
-- drover:parent 9f3a6c2e8b15
-- drover:expand
CREATE TABLE side (id int);
