-- stripe_objects: the current state of every object the events carry
-- (data.object), newer-wins. The order is the event's created time (whole
-- seconds, so payment_intent.created and .succeeded often tie), then the
-- object's place in its lifecycle (stripe_object_rank), then the event id:
-- out-of-order delivery, redelivery and replay never move an object back.
-- The event-writer applies each group of events in the transaction that
-- stores them (stripe_objects_apply); this migration fills the table from
-- the events already stored, with the same function.

-- stripe_object_rank is an object's place in its lifecycle, for events of one
-- second: later states rank higher. Unknown types and statuses rank 0.
CREATE OR REPLACE FUNCTION stripe_object_rank(obj jsonb) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE obj->>'object'
        WHEN 'payment_intent' THEN CASE obj->>'status'
            WHEN 'requires_payment_method' THEN 1
            WHEN 'requires_confirmation' THEN 2
            WHEN 'requires_action' THEN 3
            WHEN 'processing' THEN 4
            WHEN 'requires_capture' THEN 5
            WHEN 'canceled' THEN 6
            WHEN 'succeeded' THEN 6
            ELSE 0 END
        -- A charge keeps status succeeded while it is captured, then
        -- refunded in part, then in whole: each step ranks one higher.
        WHEN 'charge' THEN CASE obj->>'status'
            WHEN 'pending' THEN 1
            WHEN 'failed' THEN 2
            WHEN 'succeeded' THEN 2
                + CASE WHEN obj->'captured' = 'true'::jsonb THEN 1 ELSE 0 END
                + CASE WHEN coalesce(obj->'amount_refunded', '0'::jsonb) NOT IN ('0'::jsonb, 'null'::jsonb) THEN 1 ELSE 0 END
                + CASE WHEN obj->'refunded' = 'true'::jsonb THEN 1 ELSE 0 END
            ELSE 0 END
        WHEN 'refund' THEN CASE obj->>'status'
            WHEN 'pending' THEN 1
            WHEN 'requires_action' THEN 1
            WHEN 'succeeded' THEN 2
            WHEN 'failed' THEN 2
            WHEN 'canceled' THEN 2
            ELSE 0 END
        WHEN 'invoice' THEN CASE obj->>'status'
            WHEN 'draft' THEN 1
            WHEN 'open' THEN 2
            WHEN 'paid' THEN 3
            WHEN 'uncollectible' THEN 3
            WHEN 'void' THEN 3
            ELSE 0 END
        ELSE 0 END
$$;

CREATE TABLE IF NOT EXISTS stripe_objects (
    id            text PRIMARY KEY,          -- data.object.id
    object_type   text,                      -- data.object.object
    payload       jsonb NOT NULL,            -- data.object of the event that set it
    event_id      text NOT NULL,             -- that event
    event_type    text NOT NULL,
    event_created timestamptz NOT NULL,      -- its created (received_at when absent)
    status_rank   int NOT NULL,              -- stripe_object_rank(payload)
    livemode      boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- stripe_objects_apply brings stripe_objects up to date with the stored
-- events of event_ids (NULL: every stored event) and returns how many
-- objects it changed. Events stored raw (payload NULL) have no object to
-- give. Objects are written in id order, so two transactions applying
-- overlapping groups wait for each other instead of deadlocking.
CREATE OR REPLACE FUNCTION stripe_objects_apply(event_ids text[]) RETURNS bigint
LANGUAGE sql AS $$
    WITH latest AS (
        SELECT DISTINCT ON (e.id)
            e.id, e.object_type, e.payload->'data'->'object' AS obj, e.event_id, e.type,
            coalesce(e.created, e.received_at) AS created, e.livemode
        FROM stripe_events e
        WHERE (event_ids IS NULL OR e.event_id = ANY (event_ids))
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

SELECT stripe_objects_apply(NULL);
