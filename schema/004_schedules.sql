-- Schedules: cron, interval, one-time and manual, in the user's time zone.
-- A slot fires at most once: runs has UNIQUE (schedule_id, scheduled_for).
CREATE TABLE schedules (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(200) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  flow_id BIGINT UNSIGNED NOT NULL,
  flow_version VARCHAR(64) NULL,
  deployment_id BIGINT UNSIGNED NULL,
  source VARCHAR(16) NOT NULL DEFAULT 'api',
  mode VARCHAR(16) NOT NULL,
  enabled TINYINT(1) NOT NULL DEFAULT 1,
  timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
  catchup_policy VARCHAR(8) NOT NULL DEFAULT 'skip',
  cron_expression VARCHAR(200) NULL,
  interval_seconds BIGINT UNSIGNED NULL,
  anchor_at DATETIME(6) NULL,
  one_time_at DATETIME(6) NULL,
  start_at DATETIME(6) NULL,
  end_at DATETIME(6) NULL,
  parameters JSON NULL,
  description TEXT NULL,
  environment VARCHAR(64) NULL,
  next_run_at DATETIME(6) NULL,
  last_run_at DATETIME(6) NULL,
  last_run_id VARCHAR(40) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_schedules_public (org_id, public_id),
  UNIQUE KEY uq_schedules_deployment (deployment_id),
  KEY ix_schedules_due (enabled, next_run_at),
  KEY ix_schedules_flow (org_id, flow_id),
  CONSTRAINT fk_schedules_flow FOREIGN KEY (flow_id) REFERENCES flows (id) ON DELETE CASCADE,
  CONSTRAINT fk_schedules_deployment FOREIGN KEY (deployment_id) REFERENCES deployments (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE runs ADD CONSTRAINT fk_runs_schedule FOREIGN KEY (schedule_id)
  REFERENCES schedules (id) ON DELETE SET NULL;
