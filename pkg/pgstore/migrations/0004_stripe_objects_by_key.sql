-- stripe_objects_apply as 0003 wrote it scanned every stored event on each
-- call: `event_ids IS NULL OR …` keeps a SQL function's plan, made without
-- the argument's value, off the primary key, so each group the event-writer
-- stored read (and detoasted) the whole table (64 ms a group at 20,000
-- rows, and growing). Now the group's events are found by their key
-- (stripe_objects_apply_ids), and NULL, every stored event, is spelled out
-- as their ids.

-- stripe_objects_apply_ids brings stripe_objects up to date with the stored
-- events of event_ids and returns how many objects it changed (0003's rules:
-- newer-wins by created, then stripe_object_rank, then event id; objects
-- written in id order).
CREATE OR REPLACE FUNCTION stripe_objects_apply_ids(event_ids text[]) RETURNS bigint
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

-- stripe_objects_apply is stripe_objects_apply_ids, with NULL for every
-- stored event (a catch-up by hand).
CREATE OR REPLACE FUNCTION stripe_objects_apply(event_ids text[]) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF event_ids IS NULL THEN
        SELECT coalesce(array_agg(e.event_id), '{}') INTO event_ids FROM stripe_events e;
    END IF;
    RETURN stripe_objects_apply_ids(event_ids);
END
$$;
