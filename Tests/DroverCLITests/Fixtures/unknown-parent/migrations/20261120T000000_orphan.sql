-- drover:revision 0rphan000001
-- drover:parent c27d5e0f4a9
-- drover:expand
SELECT 1;
