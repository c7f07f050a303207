-- drover:revision 0rphan000001
-- drover:parent r00t0000001
-- drover:expand
SELECT 1;
