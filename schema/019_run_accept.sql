-- A run triggered through the API and its audit row, in one transaction
-- and one round trip (runs_create_audited in src/lib/runs.c): begin, the
-- two inserts and commit sent one by one were four round trips, which cost
-- MariaDB about a quarter of its CPU per POST /v1/runs. An error (a slug
-- taken meanwhile) rolls back and reaches the caller, which tries again
-- with another slug. The audit row is the one audit_write would write.
CREATE PROCEDURE run_insert_audited(p_public_id VARCHAR(40), p_org BIGINT UNSIGNED,
  p_flow BIGINT UNSIGNED, p_version BIGINT UNSIGNED, p_deployment BIGINT UNSIGNED,
  p_schedule BIGINT UNSIGNED, p_scheduled_for DATETIME(6), p_slug VARCHAR(255),
  p_status VARCHAR(16), p_trigger VARCHAR(16), p_params LONGTEXT, p_executor VARCHAR(64),
  p_mode VARCHAR(16), p_tags LONGTEXT, p_user BIGINT UNSIGNED, p_env VARCHAR(64),
  a_public_id VARCHAR(40), a_org BIGINT UNSIGNED, a_user BIGINT UNSIGNED,
  a_email VARCHAR(254), a_action VARCHAR(64), a_target_type VARCHAR(32),
  a_details LONGTEXT, a_ip VARCHAR(64), a_agent TEXT)
BEGIN
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END; START TRANSACTION; INSERT INTO runs (public_id, org_id, flow_id, version_id, deployment_id, schedule_id,
   scheduled_for, run_slug, status, trigger_type, parameters, executor, execution_mode, tags,
   created_by, environment)
  VALUES (p_public_id, p_org, p_flow, p_version, NULLIF(p_deployment, 0), NULLIF(p_schedule, 0),
   p_scheduled_for, p_slug, p_status, p_trigger, p_params, p_executor, p_mode, p_tags,
   NULLIF(p_user, 0), p_env); INSERT INTO audit_log (public_id, org_id, actor_user_id, actor_email, action, target_type,
   target_id, details, ip, user_agent)
  VALUES (a_public_id, NULLIF(a_org, 0), NULLIF(a_user, 0), a_email, a_action, a_target_type,
   p_public_id, a_details, a_ip, LEFT(a_agent, 255)); COMMIT; END;
