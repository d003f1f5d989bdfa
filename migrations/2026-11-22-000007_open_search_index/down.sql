DROP INDEX tips_unclustered_facility_idx;
DROP INDEX tips_open_search_idx;
