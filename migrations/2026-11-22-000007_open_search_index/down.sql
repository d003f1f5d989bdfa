DROP INDEX tips_open_search_idx;
