-- Runs, their steps, logs and outputs, and the workers that execute them.
CREATE TABLE runs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  flow_id BIGINT UNSIGNED NOT NULL,
  version_id BIGINT UNSIGNED NOT NULL,
  deployment_id BIGINT UNSIGNED NULL,
  schedule_id BIGINT UNSIGNED NULL,
  scheduled_for DATETIME(6) NULL,
  run_slug VARCHAR(255) NOT NULL,
  status VARCHAR(16) NOT NULL,
  trigger_type VARCHAR(16) NOT NULL DEFAULT 'api',
  parameters JSON NULL,
  output JSON NULL,
  error TEXT NULL,
  retry_count INT UNSIGNED NOT NULL DEFAULT 0,
  executor VARCHAR(64) NOT NULL DEFAULT 'local',
  execution_mode VARCHAR(16) NOT NULL DEFAULT 'nano',
  tags JSON NULL,
  worker_id VARCHAR(128) NULL,
  lease_expires_at DATETIME(6) NULL,
  created_by BIGINT UNSIGNED NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  started_at DATETIME(6) NULL,
  completed_at DATETIME(6) NULL,
  cancelled_at DATETIME(6) NULL,
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_runs_public (public_id),
  UNIQUE KEY uq_runs_slug (org_id, run_slug),
  UNIQUE KEY uq_runs_slot (schedule_id, scheduled_for),
  KEY ix_runs_claim (status, id),
  KEY ix_runs_org (org_id, id),
  KEY ix_runs_org_flow (org_id, flow_id, id),
  KEY ix_runs_org_status (org_id, status, id),
  KEY ix_runs_org_updated (org_id, updated_at, id),
  KEY ix_runs_worker (worker_id, status),
  KEY ix_runs_lease (status, lease_expires_at),
  KEY ix_runs_flow_poll (flow_id, id, updated_at),
  KEY ix_runs_flow_updated (flow_id, updated_at, id),
  KEY ix_runs_flow_created (flow_id, created_at, status, started_at, completed_at),
  CONSTRAINT fk_runs_flow FOREIGN KEY (flow_id) REFERENCES flows (id) ON DELETE CASCADE,
  CONSTRAINT fk_runs_version FOREIGN KEY (version_id) REFERENCES flow_versions (id) ON DELETE CASCADE,
  CONSTRAINT fk_runs_deployment FOREIGN KEY (deployment_id) REFERENCES deployments (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE step_runs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  run_id BIGINT UNSIGNED NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  flow_id BIGINT UNSIGNED NOT NULL,
  step_id VARCHAR(64) NOT NULL,
  type VARCHAR(32) NOT NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'pending',
  attempt INT UNSIGNED NOT NULL DEFAULT 0,
  exit_code INT NULL,
  error TEXT NULL,
  worker VARCHAR(128) NULL,
  decided_by VARCHAR(254) NULL,
  started_at DATETIME(6) NULL,
  finished_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_step_runs_step (run_id, step_id),
  KEY ix_step_runs_org_updated (org_id, updated_at, id),
  KEY ix_step_runs_flow_poll (flow_id, id, updated_at),
  KEY ix_step_runs_flow_updated (flow_id, updated_at, id),
  KEY ix_step_runs_flow_started (flow_id, started_at, step_id, status, finished_at),
  CONSTRAINT fk_step_runs_run FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE step_logs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  run_id BIGINT UNSIGNED NOT NULL,
  step_id VARCHAR(64) NOT NULL,
  stream TINYINT UNSIGNED NOT NULL,
  ts DATETIME(6) NOT NULL,
  ingested_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  line TEXT NOT NULL,
  truncated TINYINT(1) NOT NULL DEFAULT 0,
  KEY ix_step_logs_run (run_id, id),
  KEY ix_step_logs_step (run_id, step_id, id),
  CONSTRAINT fk_step_logs_run FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE step_outputs (
  run_id BIGINT UNSIGNED NOT NULL,
  step_id VARCHAR(64) NOT NULL,
  k VARCHAR(128) NOT NULL,
  v TEXT NOT NULL,
  seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  PRIMARY KEY (run_id, step_id, k),
  UNIQUE KEY uq_step_outputs_seq (seq),
  CONSTRAINT fk_step_outputs_run FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE workers (
  name VARCHAR(128) NOT NULL PRIMARY KEY,
  host VARCHAR(128) NOT NULL,
  pid INT UNSIGNED NOT NULL,
  concurrency INT UNSIGNED NOT NULL,
  started_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  heartbeat_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY ix_workers_heartbeat (heartbeat_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Where the dagctl surface's numbered pages ended, so that page N + 1 of
-- the same query starts after page N's last row instead of scanning an
-- offset. Kept an hour.
CREATE TABLE page_marks (
  query_hash CHAR(64) NOT NULL,
  page INT UNSIGNED NOT NULL,
  last_id BIGINT UNSIGNED NOT NULL,
  total BIGINT UNSIGNED NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (query_hash, page),
  KEY ix_page_marks_age (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
