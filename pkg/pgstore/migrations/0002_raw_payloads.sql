-- A body that is valid JSON but that jsonb refuses (a \u0000 in a string, a
-- lone surrogate, invalid UTF-8, a number out of numeric's range) is still
-- stored: its bytes in payload_raw, payload left NULL, and why in
-- payload_error. Every other row has payload and neither of the two.
ALTER TABLE stripe_events ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE stripe_events ADD COLUMN IF NOT EXISTS payload_raw bytea;
ALTER TABLE stripe_events ADD COLUMN IF NOT EXISTS payload_error text;
ALTER TABLE stripe_events DROP CONSTRAINT IF EXISTS stripe_events_payload_or_raw;
ALTER TABLE stripe_events ADD CONSTRAINT stripe_events_payload_or_raw
    CHECK ((payload IS NOT NULL) <> (payload_raw IS NOT NULL));
-- The view's column list was fixed when it was made: add the new ones.
CREATE OR REPLACE VIEW "StripeEvents" AS SELECT * FROM stripe_events;
