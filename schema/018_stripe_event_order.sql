-- Stripe does not deliver events in order: the created time (Unix
-- seconds) of the last subscription event applied to an org, so that an
-- older one arriving late does not overwrite its plan and status.
ALTER TABLE orgs ADD COLUMN stripe_subscription_event_at BIGINT NULL;
