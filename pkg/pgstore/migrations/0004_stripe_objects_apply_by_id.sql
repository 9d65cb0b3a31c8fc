-- stripe_objects_apply as 0003 made it filtered its events with
-- (event_ids IS NULL OR e.event_id = ANY (event_ids)), so that its backfill
-- could pass NULL. A SQL function's body is planned for any argument, and
-- that OR kept the primary key out of the plan: every group the writer
-- stored scanned the whole of stripe_events (BenchmarkInsertEvents, groups
-- of 6 into a table of up to 18,000 rows: 18–25 ms a group, against 3–4.6 ms
-- without the function). 0003's backfill has run; from here on the
-- function takes ids only, and looks each up by the primary key: 5.8–6.8 ms
-- a group, against 3.8–6.0 ms without it, measured in turns on a loaded
-- machine. (A PL/pgSQL body, whose plans are kept for the session, measured
-- 7.5–13.4 ms in the same turns: not taken.)
CREATE OR REPLACE FUNCTION stripe_objects_apply(event_ids text[]) RETURNS bigint
LANGUAGE sql AS $$
    WITH latest AS (
        SELECT DISTINCT ON (e.id)
            e.id, e.object_type, e.payload->'data'->'object' AS obj, e.event_id, e.type,
            coalesce(e.created, e.received_at) AS created, e.livemode
        FROM stripe_events e
        WHERE e.event_id = ANY (event_ids)
          AND jsonb_typeof(e.payload->'data'->'object') = 'object'
        ORDER BY e.id, coalesce(e.created, e.received_at) DESC,
            stripe_object_rank(e.payload->'data'->'object') DESC, e.event_id DESC
    ), applied AS (
        INSERT INTO stripe_objects AS o
            (id, object_type, payload, event_id, event_type, event_created, status_rank, livemode, updated_at)
        SELECT id, object_type, obj, event_id, type, created, stripe_object_rank(obj), livemode, now()
        FROM latest ORDER BY id
        ON CONFLICT (id) DO UPDATE SET
            object_type = EXCLUDED.object_type, payload = EXCLUDED.payload,
            event_id = EXCLUDED.event_id, event_type = EXCLUDED.event_type,
            event_created = EXCLUDED.event_created, status_rank = EXCLUDED.status_rank,
            livemode = EXCLUDED.livemode, updated_at = EXCLUDED.updated_at
        WHERE (EXCLUDED.event_created, EXCLUDED.status_rank, EXCLUDED.event_id)
            > (o.event_created, o.status_rank, o.event_id)
        RETURNING 1
    )
    SELECT count(*) FROM applied
$$;
