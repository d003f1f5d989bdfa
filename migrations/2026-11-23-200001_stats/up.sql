-- Situation report (lägesbild): when each tip was first reviewed, a daily rollup of tip counts
-- kept by the database in the writing transaction, and a covering index for the selections the
-- rollup does not cover.

-- The first time a tip left 'new' (someone started on it): the "time to first review".
ALTER TABLE tips ADD COLUMN first_reviewed_at timestamptz;
UPDATE tips t SET first_reviewed_at = e.at
FROM (SELECT tip_id, min(created_at) AS at FROM tip_events
      WHERE kind IN ('status_changed', 'closed') GROUP BY tip_id) e
WHERE e.tip_id = t.id AND t.status <> 'new';

CREATE FUNCTION tips_mark_first_review() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.first_reviewed_at := coalesce(NEW.first_reviewed_at, now());
    RETURN NEW;
END;
$$;
-- Fires only on the one update that takes a tip out of 'new' for the first time.
CREATE TRIGGER tips_first_review BEFORE UPDATE OF status ON tips FOR EACH ROW
    WHEN (OLD.status = 'new' AND NEW.status <> 'new' AND OLD.first_reviewed_at IS NULL)
    EXECUTE FUNCTION tips_mark_first_review();

-- Tips per Swedish calendar day, län, category and outbreak tag: the dimensions of the
-- dashboard's time series and tile map and of the typical export (weeks by län and category).
-- Few enough keys that a year is ~100 000 rows even at a million tips in two years; more
-- dimensions would make it as many rows as tips. `outbreak` is '' for none (a key column
-- cannot be NULL).
CREATE TABLE tip_daily_counts (
    day date NOT NULL,
    region_code text NOT NULL,
    category text NOT NULL,
    outbreak text NOT NULL,
    tips integer NOT NULL,
    PRIMARY KEY (day, region_code, category, outbreak)
);

-- Inserted tips, counted per statement (a bulk load makes one upsert per key, not per row).
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

CREATE FUNCTION tip_daily_counts_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tip_daily_counts c SET tips = c.tips - d.n
    FROM (SELECT (submitted_at AT TIME ZONE 'Europe/Stockholm')::date AS day, region_code,
                 category, coalesce(outbreak, '') AS outbreak, count(*) AS n
          FROM deleted_tips GROUP BY 1, 2, 3, 4) d
    WHERE (c.day, c.region_code, c.category, c.outbreak)
        = (d.day, d.region_code, d.category, d.outbreak);
    RETURN NULL;
END;
$$;
CREATE TRIGGER tips_daily_counts_delete AFTER DELETE ON tips
    REFERENCING OLD TABLE AS deleted_tips
    FOR EACH STATEMENT EXECUTE FUNCTION tip_daily_counts_delete();

-- A change of a counted column moves the tip from one key to another. Only changes of those
-- columns fire it (the workflow never changes them; a status change, a priority override or
-- an assignment costs nothing here).
CREATE FUNCTION tip_daily_counts_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tip_daily_counts SET tips = tips - 1
    WHERE day = (OLD.submitted_at AT TIME ZONE 'Europe/Stockholm')::date
      AND region_code = OLD.region_code AND category = OLD.category
      AND outbreak = coalesce(OLD.outbreak, '');
    INSERT INTO tip_daily_counts AS c (day, region_code, category, outbreak, tips)
    VALUES ((NEW.submitted_at AT TIME ZONE 'Europe/Stockholm')::date, NEW.region_code,
            NEW.category, coalesce(NEW.outbreak, ''), 1)
    ON CONFLICT (day, region_code, category, outbreak)
        DO UPDATE SET tips = c.tips + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tips_daily_counts_update
    AFTER UPDATE OF submitted_at, region_code, category, outbreak ON tips
    FOR EACH ROW
    WHEN ((OLD.submitted_at, OLD.region_code, OLD.category, OLD.outbreak)
          IS DISTINCT FROM (NEW.submitted_at, NEW.region_code, NEW.category, NEW.outbreak))
    EXECUTE FUNCTION tip_daily_counts_update();

CREATE FUNCTION tip_daily_counts_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE tip_daily_counts;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tips_daily_counts_truncate AFTER TRUNCATE ON tips
    FOR EACH STATEMENT EXECUTE FUNCTION tip_daily_counts_truncate();

-- The tips already stored.
INSERT INTO tip_daily_counts (day, region_code, category, outbreak, tips)
SELECT (submitted_at AT TIME ZONE 'Europe/Stockholm')::date, region_code, category,
       coalesce(outbreak, ''), count(*)
FROM tips GROUP BY 1, 2, 3, 4;

-- Selections the rollup cannot answer (municipality, sector, outcome, channel, reporter role,
-- facilities, deadlines) read this index only, never the wide rows with their text.
CREATE INDEX tips_stats_idx ON tips (submitted_at) INCLUDE (
    region_code, municipality_code, category, care_sector, priority, outcome, outbreak,
    channel, reporter_role, team, status, due_at, first_reviewed_at, facility_key, cluster_id
);
