-- The seed's StripeEvents table: one row per Stripe event, whatever the redeliveries.
CREATE TABLE IF NOT EXISTS stripe_events (
    event_id    text PRIMARY KEY,
    id          text NOT NULL,
    type        text NOT NULL,
    object_type text,
    related_ids text[] NOT NULL DEFAULT '{}',
    livemode    boolean NOT NULL DEFAULT false,
    api_version text,
    created     timestamptz,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS stripe_events_id_created ON stripe_events (id, created);
CREATE INDEX IF NOT EXISTS stripe_events_type_created ON stripe_events (type, created);
CREATE INDEX IF NOT EXISTS stripe_events_related_ids ON stripe_events USING gin (related_ids);
-- The name the seed's users query by.
CREATE OR REPLACE VIEW "StripeEvents" AS SELECT * FROM stripe_events;
