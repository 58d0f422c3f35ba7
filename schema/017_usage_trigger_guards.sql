-- The usage triggers of 006, guarded. A trigger body of INSERT ... SELECT
-- ... WHERE <condition> is planned and run on every row even when the
-- condition is false, and the worker updates each step two or three
-- times of which one finishes it: those no-op bodies doubled the cost
-- of a step's writes and of queueing a run. Here each event has one
-- trigger whose IF is checked first; the counting is the same as 006's.
-- (The migration runner splits statements at a ';' that ends a line, so
-- the statements inside a body end mid-line.)
DROP TRIGGER usage_run_hourly;
DROP TRIGGER usage_run_daily;
DROP TRIGGER usage_error_hourly;
DROP TRIGGER usage_error_daily;
DROP TRIGGER usage_task_hourly;
DROP TRIGGER usage_task_daily;
DROP TRIGGER usage_task_insert_hourly;
DROP TRIGGER usage_task_insert_daily;

-- A run counts when it is queued (execute: false creates it without
-- starting it).
CREATE TRIGGER usage_run_insert AFTER INSERT ON runs FOR EACH ROW
IF NEW.status <> 'created' THEN
  INSERT INTO usage_hourly (org_id, hour, shard, run_count)
  VALUES (NEW.org_id, DATE_FORMAT(NEW.created_at, '%Y-%m-%d %H:00:00'), CONNECTION_ID() % 4, 1)
  ON DUPLICATE KEY UPDATE run_count = run_count + 1; INSERT INTO usage_daily
  (org_id, day, flow_name, executor, shard, run_count)
  VALUES (NEW.org_id, DATE(NEW.created_at),
   COALESCE((SELECT name FROM flows WHERE id = NEW.flow_id), ''), NEW.executor, CONNECTION_ID() % 4, 1)
  ON DUPLICATE KEY UPDATE run_count = run_count + 1; END IF;

-- An error is a run that failed; a retried run that fails again counts
-- again.
CREATE TRIGGER usage_run_update AFTER UPDATE ON runs FOR EACH ROW
IF NEW.status = 'failed' AND OLD.status <> 'failed' THEN
  INSERT INTO usage_hourly (org_id, hour, shard, error_count)
  VALUES (NEW.org_id, DATE_FORMAT(COALESCE(NEW.completed_at, UTC_TIMESTAMP()), '%Y-%m-%d %H:00:00'),
   CONNECTION_ID() % 4, 1)
  ON DUPLICATE KEY UPDATE error_count = error_count + 1; INSERT INTO usage_daily
  (org_id, day, flow_name, executor, shard, error_count)
  VALUES (NEW.org_id, DATE(COALESCE(NEW.completed_at, UTC_TIMESTAMP())),
   COALESCE((SELECT name FROM flows WHERE id = NEW.flow_id), ''), NEW.executor, CONNECTION_ID() % 4, 1)
  ON DUPLICATE KEY UPDATE error_count = error_count + 1; END IF;

-- A task is one finished attempt of a step that ran (a new finished_at);
-- its step-seconds are the attempt's wall time. Approval steps wait for a
-- person and use no compute: they are not tasks. A step inserted already
-- finished (an import) counts as well. The worker's recorder counts the
-- steps it finishes itself, one statement a batch instead of two a step,
-- and marks its connection with @dagy_usage_by_batch.
CREATE PROCEDURE usage_add_task(org BIGINT UNSIGNED, flow BIGINT UNSIGNED, run BIGINT UNSIGNED,
  started DATETIME(6), finished DATETIME(6))
BEGIN
  INSERT INTO usage_hourly (org_id, hour, shard, task_count, step_ms)
  VALUES (org, DATE_FORMAT(finished, '%Y-%m-%d %H:00:00'), CONNECTION_ID() % 4, 1,
   GREATEST(0, ROUND(TIMESTAMPDIFF(MICROSECOND, started, finished) / 1000)))
  ON DUPLICATE KEY UPDATE task_count = task_count + 1, step_ms = step_ms + VALUES(step_ms); INSERT INTO usage_daily
  (org_id, day, flow_name, executor, shard, task_count, step_ms)
  VALUES (org, DATE(finished), COALESCE((SELECT name FROM flows WHERE id = flow), ''),
   COALESCE((SELECT executor FROM runs WHERE id = run), ''), CONNECTION_ID() % 4, 1,
   GREATEST(0, ROUND(TIMESTAMPDIFF(MICROSECOND, started, finished) / 1000)))
  ON DUPLICATE KEY UPDATE task_count = task_count + 1, step_ms = step_ms + VALUES(step_ms); END;

CREATE TRIGGER usage_step_update AFTER UPDATE ON step_runs FOR EACH ROW
IF @dagy_usage_by_batch IS NULL AND NEW.finished_at IS NOT NULL AND NEW.started_at IS NOT NULL
   AND NOT (OLD.finished_at <=> NEW.finished_at) AND NEW.type <> 'approval' THEN
  CALL usage_add_task(NEW.org_id, NEW.flow_id, NEW.run_id, NEW.started_at, NEW.finished_at); END IF;

CREATE TRIGGER usage_step_insert AFTER INSERT ON step_runs FOR EACH ROW
IF NEW.finished_at IS NOT NULL AND NEW.started_at IS NOT NULL AND NEW.type <> 'approval' THEN
  CALL usage_add_task(NEW.org_id, NEW.flow_id, NEW.run_id, NEW.started_at, NEW.finished_at); END IF;
