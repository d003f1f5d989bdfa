DROP FUNCTION tip_daily_counts_rebuild();
DROP TRIGGER tips_daily_counts_insert ON tips;
DROP FUNCTION tip_daily_counts_insert();

CREATE FUNCTION tip_daily_counts_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tip_daily_counts AS c (day, region_code, category, outbreak, tips)
    SELECT (submitted_at AT TIME ZONE 'Europe/Stockholm')::date, region_code, category,
           coalesce(outbreak, ''), count(*)
    FROM inserted_tips
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (day, region_code, category, outbreak)
        DO UPDATE SET tips = c.tips + EXCLUDED.tips;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tips_daily_counts_insert AFTER INSERT ON tips
    REFERENCING NEW TABLE AS inserted_tips
    FOR EACH STATEMENT EXECUTE FUNCTION tip_daily_counts_insert();
