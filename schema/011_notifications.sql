-- Notifications: channels, alert rules, and the outbox of deliveries that
-- the worker sends. A delivery row is written in the same transaction as
-- the run's state change that causes it; UNIQUE (rule, channel, run,
-- trigger, kind) makes a rule fire once per run and trigger.
CREATE TABLE channels (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(200) NOT NULL,
  channel_type VARCHAR(16) NOT NULL,
  -- the configuration as shown: secret fields masked
  config JSON NOT NULL,
  -- the secret fields, a JSON object sealed by the secrets store, and
  -- the key that sealed it (for rotation)
  sealed TEXT NULL,
  key_id VARCHAR(40) NULL,
  enabled TINYINT(1) NOT NULL DEFAULT 1,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_channels_public (public_id),
  KEY ix_channels_org (org_id, id),
  CONSTRAINT fk_channels_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE alert_rules (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(200) NOT NULL,
  trigger_type VARCHAR(16) NOT NULL,
  -- NULL: every flow of the org
  flow_name VARCHAR(200) NULL,
  sla_seconds INT UNSIGNED NULL,
  enabled TINYINT(1) NOT NULL DEFAULT 1,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_alert_rules_public (public_id),
  KEY ix_alert_rules_match (org_id, trigger_type, enabled),
  KEY ix_alert_rules_org (org_id, id),
  CONSTRAINT fk_alert_rules_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE alert_rule_channels (
  rule_id BIGINT UNSIGNED NOT NULL,
  channel_id BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (rule_id, channel_id),
  KEY ix_alert_rule_channels_channel (channel_id),
  CONSTRAINT fk_arc_rule FOREIGN KEY (rule_id) REFERENCES alert_rules (id) ON DELETE CASCADE,
  CONSTRAINT fk_arc_channel FOREIGN KEY (channel_id) REFERENCES channels (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE deliveries (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  rule_id BIGINT UNSIGNED NOT NULL,
  channel_id BIGINT UNSIGNED NOT NULL,
  run_id BIGINT UNSIGNED NULL,
  flow_name VARCHAR(200) NULL,
  trigger_type VARCHAR(16) NOT NULL,
  -- trigger, resolve (PagerDuty) or test
  kind VARCHAR(8) NOT NULL DEFAULT 'trigger',
  event JSON NOT NULL,
  -- pending, delivered or failed
  status VARCHAR(10) NOT NULL DEFAULT 'pending',
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  claimed_by VARCHAR(160) NULL,
  claimed_until DATETIME(6) NULL,
  last_error TEXT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  delivered_at DATETIME(6) NULL,
  UNIQUE KEY uq_deliveries_public (public_id),
  UNIQUE KEY uq_deliveries_once (rule_id, channel_id, run_id, trigger_type, kind),
  KEY ix_deliveries_due (status, next_attempt_at),
  KEY ix_deliveries_rule (rule_id, id),
  KEY ix_deliveries_incident (rule_id, channel_id, flow_name, id),
  CONSTRAINT fk_deliveries_rule FOREIGN KEY (rule_id) REFERENCES alert_rules (id) ON DELETE CASCADE,
  CONSTRAINT fk_deliveries_channel FOREIGN KEY (channel_id) REFERENCES channels (id) ON DELETE CASCADE,
  CONSTRAINT fk_deliveries_run FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE delivery_attempts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  delivery_id BIGINT UNSIGNED NOT NULL,
  attempt INT UNSIGNED NOT NULL,
  attempted_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  -- the HTTP status, or the SMTP server's last reply code
  response_code INT NULL,
  error TEXT NULL,
  duration_ms INT UNSIGNED NOT NULL DEFAULT 0,
  KEY ix_delivery_attempts (delivery_id, id),
  CONSTRAINT fk_delivery_attempts FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
