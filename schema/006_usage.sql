-- Usage rollups, schedule slots skipped over quota, and what the audit
-- log API reads. Usage is metered by triggers in the transaction of the
-- event itself (a run queued, a step finished, a run failed), so every
-- path that writes runs — the API, the scheduler, the worker, a reaper,
-- a cancel — counts the same way and nothing scans runs to answer.
-- API requests are counted in each host's shared memory and added to
-- usage_hourly by dagy-api every [limits] usage_flush_seconds.

-- Each (organization, bucket) has up to 4 rows, one per shard, chosen by
-- the writing connection (CONNECTION_ID() % 4): every transaction that
-- queues a run or finishes a step adds to its organization's bucket, and
-- without shards those transactions would all wait for one row lock.
-- Readers add the shards up.

-- Per organization and UTC hour: the totals the summary, the timeseries
-- (day and hour buckets) and the quotas read.
CREATE TABLE usage_hourly (
  org_id BIGINT UNSIGNED NOT NULL,
  hour DATETIME NOT NULL,
  shard TINYINT UNSIGNED NOT NULL,
  run_count BIGINT UNSIGNED NOT NULL DEFAULT 0,
  task_count BIGINT UNSIGNED NOT NULL DEFAULT 0,
  step_ms BIGINT UNSIGNED NOT NULL DEFAULT 0,
  error_count BIGINT UNSIGNED NOT NULL DEFAULT 0,
  api_calls BIGINT UNSIGNED NOT NULL DEFAULT 0,
  artifact_bytes BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, hour, shard)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Per organization, UTC day, flow and executor: costs by flow and
-- executor and the dashboard's top flows. Flows are kept by name so that
-- a deleted flow's usage still adds up.
CREATE TABLE usage_daily (
  org_id BIGINT UNSIGNED NOT NULL,
  day DATE NOT NULL,
  flow_name VARCHAR(200) NOT NULL,
  executor VARCHAR(64) NOT NULL,
  shard TINYINT UNSIGNED NOT NULL,
  run_count BIGINT UNSIGNED NOT NULL DEFAULT 0,
  task_count BIGINT UNSIGNED NOT NULL DEFAULT 0,
  step_ms BIGINT UNSIGNED NOT NULL DEFAULT 0,
  error_count BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, day, flow_name, executor, shard)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A schedule slot that did not become a run, and why; the audit log has a
-- schedule.skip row for each as well.
CREATE TABLE schedule_skips (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  org_id BIGINT UNSIGNED NOT NULL,
  schedule_id BIGINT UNSIGNED NOT NULL,
  scheduled_for DATETIME(6) NOT NULL,
  reason VARCHAR(32) NOT NULL,
  quota VARCHAR(32) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_schedule_skips_slot (schedule_id, scheduled_for),
  KEY ix_schedule_skips_org (org_id, id),
  CONSTRAINT fk_schedule_skips_schedule FOREIGN KEY (schedule_id) REFERENCES schedules (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE audit_log
  ADD COLUMN user_agent VARCHAR(255) NULL AFTER ip,
  ADD KEY ix_audit_org_target (org_id, target_type, target_id, created_at, id);

-- A run counts when it is queued (execute: false creates it without
-- starting it).
CREATE TRIGGER usage_run_hourly AFTER INSERT ON runs FOR EACH ROW
  INSERT INTO usage_hourly (org_id, hour, shard, run_count)
  SELECT NEW.org_id, DATE_FORMAT(NEW.created_at, '%Y-%m-%d %H:00:00'), CONNECTION_ID() % 4, 1
  FROM DUAL WHERE NEW.status <> 'created'
  ON DUPLICATE KEY UPDATE run_count = run_count + 1;

CREATE TRIGGER usage_run_daily AFTER INSERT ON runs FOR EACH ROW
  INSERT INTO usage_daily (org_id, day, flow_name, executor, shard, run_count)
  SELECT NEW.org_id, DATE(NEW.created_at),
   COALESCE((SELECT name FROM flows WHERE id = NEW.flow_id), ''), NEW.executor, CONNECTION_ID() % 4, 1
  FROM DUAL WHERE NEW.status <> 'created'
  ON DUPLICATE KEY UPDATE run_count = run_count + 1;

-- An error is a run that failed; a retried run that fails again counts
-- again.
CREATE TRIGGER usage_error_hourly AFTER UPDATE ON runs FOR EACH ROW
  INSERT INTO usage_hourly (org_id, hour, shard, error_count)
  SELECT NEW.org_id, DATE_FORMAT(COALESCE(NEW.completed_at, UTC_TIMESTAMP()), '%Y-%m-%d %H:00:00'), CONNECTION_ID() % 4, 1
  FROM DUAL WHERE NEW.status = 'failed' AND OLD.status <> 'failed'
  ON DUPLICATE KEY UPDATE error_count = error_count + 1;

CREATE TRIGGER usage_error_daily AFTER UPDATE ON runs FOR EACH ROW
  INSERT INTO usage_daily (org_id, day, flow_name, executor, shard, error_count)
  SELECT NEW.org_id, DATE(COALESCE(NEW.completed_at, UTC_TIMESTAMP())),
   COALESCE((SELECT name FROM flows WHERE id = NEW.flow_id), ''), NEW.executor, CONNECTION_ID() % 4, 1
  FROM DUAL WHERE NEW.status = 'failed' AND OLD.status <> 'failed'
  ON DUPLICATE KEY UPDATE error_count = error_count + 1;

-- A task is one finished attempt of a step that ran (a new finished_at);
-- its step-seconds are the attempt's wall time. Approval steps wait for a
-- person and use no compute: they are not tasks. The worker inserts steps
-- pending and updates them; a step inserted already finished (an import)
-- counts as well.
CREATE TRIGGER usage_task_hourly AFTER UPDATE ON step_runs FOR EACH ROW
  INSERT INTO usage_hourly (org_id, hour, shard, task_count, step_ms)
  SELECT NEW.org_id, DATE_FORMAT(NEW.finished_at, '%Y-%m-%d %H:00:00'), CONNECTION_ID() % 4, 1,
   GREATEST(0, ROUND(TIMESTAMPDIFF(MICROSECOND, NEW.started_at, NEW.finished_at) / 1000))
  FROM DUAL WHERE NEW.finished_at IS NOT NULL AND NEW.started_at IS NOT NULL
   AND NOT (OLD.finished_at <=> NEW.finished_at) AND NEW.type <> 'approval'
  ON DUPLICATE KEY UPDATE task_count = task_count + 1, step_ms = step_ms + VALUES(step_ms);

CREATE TRIGGER usage_task_daily AFTER UPDATE ON step_runs FOR EACH ROW
  INSERT INTO usage_daily (org_id, day, flow_name, executor, shard, task_count, step_ms)
  SELECT NEW.org_id, DATE(NEW.finished_at),
   COALESCE((SELECT name FROM flows WHERE id = NEW.flow_id), ''),
   COALESCE((SELECT executor FROM runs WHERE id = NEW.run_id), ''),
   CONNECTION_ID() % 4, 1,
   GREATEST(0, ROUND(TIMESTAMPDIFF(MICROSECOND, NEW.started_at, NEW.finished_at) / 1000))
  FROM DUAL WHERE NEW.finished_at IS NOT NULL AND NEW.started_at IS NOT NULL
   AND NOT (OLD.finished_at <=> NEW.finished_at) AND NEW.type <> 'approval'
  ON DUPLICATE KEY UPDATE task_count = task_count + 1, step_ms = step_ms + VALUES(step_ms);

CREATE TRIGGER usage_task_insert_hourly AFTER INSERT ON step_runs FOR EACH ROW
  INSERT INTO usage_hourly (org_id, hour, shard, task_count, step_ms)
  SELECT NEW.org_id, DATE_FORMAT(NEW.finished_at, '%Y-%m-%d %H:00:00'), CONNECTION_ID() % 4, 1,
   GREATEST(0, ROUND(TIMESTAMPDIFF(MICROSECOND, NEW.started_at, NEW.finished_at) / 1000))
  FROM DUAL WHERE NEW.finished_at IS NOT NULL AND NEW.started_at IS NOT NULL
   AND NEW.type <> 'approval'
  ON DUPLICATE KEY UPDATE task_count = task_count + 1, step_ms = step_ms + VALUES(step_ms);

CREATE TRIGGER usage_task_insert_daily AFTER INSERT ON step_runs FOR EACH ROW
  INSERT INTO usage_daily (org_id, day, flow_name, executor, shard, task_count, step_ms)
  SELECT NEW.org_id, DATE(NEW.finished_at),
   COALESCE((SELECT name FROM flows WHERE id = NEW.flow_id), ''),
   COALESCE((SELECT executor FROM runs WHERE id = NEW.run_id), ''),
   CONNECTION_ID() % 4, 1,
   GREATEST(0, ROUND(TIMESTAMPDIFF(MICROSECOND, NEW.started_at, NEW.finished_at) / 1000))
  FROM DUAL WHERE NEW.finished_at IS NOT NULL AND NEW.started_at IS NOT NULL
   AND NEW.type <> 'approval'
  ON DUPLICATE KEY UPDATE task_count = task_count + 1, step_ms = step_ms + VALUES(step_ms);
