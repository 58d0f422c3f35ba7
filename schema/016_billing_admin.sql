-- Billing (Stripe subscriptions, processed webhook events), the super
-- admin console (organization status, notes, flags, quota overrides),
-- the credits ledger and impersonation tokens.
ALTER TABLE orgs
  ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'active',
  ADD COLUMN notes TEXT NULL,
  ADD COLUMN feature_flags JSON NULL,
  ADD COLUMN quota_overrides JSON NULL,
  ADD COLUMN credits_balance DECIMAL(18, 4) NOT NULL DEFAULT 0,
  ADD COLUMN billing_email VARCHAR(254) NULL,
  ADD COLUMN stripe_customer_id VARCHAR(255) NULL,
  ADD COLUMN stripe_subscription_id VARCHAR(255) NULL,
  ADD COLUMN subscription_status VARCHAR(32) NULL,
  ADD COLUMN period_start DATETIME(6) NULL,
  ADD COLUMN period_end DATETIME(6) NULL,
  -- Set by invoice.payment_failed to the end of the grace period: from
  -- then on no run of the org starts until an invoice is paid.
  ADD COLUMN runs_blocked_after DATETIME(6) NULL,
  ADD COLUMN updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  ADD KEY ix_orgs_stripe_customer (stripe_customer_id);

-- Each Stripe event id is applied once; a replay finds its row.
CREATE TABLE stripe_events (
  event_id VARCHAR(255) NOT NULL PRIMARY KEY,
  type VARCHAR(100) NOT NULL,
  org_id BIGINT UNSIGNED NULL,
  received_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every grant and consumption of credits; orgs.credits_balance is the
-- running sum, updated in the same transaction.
CREATE TABLE credit_ledger (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  org_id BIGINT UNSIGNED NOT NULL,
  amount DECIMAL(18, 4) NOT NULL,
  balance_after DECIMAL(18, 4) NOT NULL,
  reason VARCHAR(100) NOT NULL,
  reference VARCHAR(255) NULL,
  actor_user_id BIGINT UNSIGNED NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY ix_credit_ledger_org (org_id, id),
  CONSTRAINT fk_credit_ledger_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A token issued by POST /v1/admin/impersonate acts as its super admin
-- with owner rights in this org only, and marks every audit row.
ALTER TABLE access_tokens
  ADD COLUMN impersonate_org_id BIGINT UNSIGNED NULL;
