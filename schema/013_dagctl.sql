-- The dagctl control plane: projects (a git repository the worker keeps
-- a checkout of, run through one dagy flow named after the project's
-- public id), jobs (a dagy schedule of that flow with the job's command)
-- and plans (explain -> approve -> execute runs of that flow).
CREATE TABLE dagctl_projects (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  -- NULL once the project is deleted and the worker has its workspace
  -- left to remove
  flow_id BIGINT UNSIGNED NULL,
  name VARCHAR(200) NOT NULL,
  description TEXT NULL,
  project_type VARCHAR(16) NOT NULL,
  repository_url VARCHAR(1024) NOT NULL,
  branch VARCHAR(255) NOT NULL,
  git_auth_method VARCHAR(16) NOT NULL,
  -- the HTTPS token or SSH private key, sealed by the secrets store
  sealed TEXT NULL,
  key_id VARCHAR(40) NULL,
  -- the framework settings as given (sqlmesh_environment, versions, ...)
  settings JSON NOT NULL,
  deployed TINYINT(1) NOT NULL DEFAULT 0,
  suspended TINYINT(1) NOT NULL DEFAULT 0,
  deleted TINYINT(1) NOT NULL DEFAULT 0,
  current_commit_sha VARCHAR(64) NULL,
  latest_commit_sha VARCHAR(64) NULL,
  latest_commit_message TEXT NULL,
  commits_behind INT NOT NULL DEFAULT 0,
  sync_error TEXT NULL,
  next_sync_at DATETIME(6) NULL,
  synced_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_dagctl_projects_public (public_id),
  UNIQUE KEY uq_dagctl_projects_name (org_id, name, deleted, id),
  KEY ix_dagctl_projects_sync (next_sync_at),
  CONSTRAINT fk_dagctl_projects_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
  CONSTRAINT fk_dagctl_projects_flow FOREIGN KEY (flow_id) REFERENCES flows (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE dagctl_jobs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  project_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(200) NOT NULL,
  description TEXT NULL,
  command TEXT NOT NULL,
  schedule VARCHAR(200) NOT NULL,
  enabled TINYINT(1) NOT NULL DEFAULT 1,
  slack_channel VARCHAR(200) NULL,
  slack_alerts_enabled TINYINT(1) NOT NULL DEFAULT 0,
  slack_alert_on_success TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_dagctl_jobs_public (public_id),
  UNIQUE KEY uq_dagctl_jobs_name (project_id, name),
  CONSTRAINT fk_dagctl_jobs_project FOREIGN KEY (project_id) REFERENCES dagctl_projects (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE dagctl_plans (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  group_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  project_id BIGINT UNSIGNED NOT NULL,
  -- explain until approved, then execute
  plan_type VARCHAR(16) NOT NULL DEFAULT 'explain',
  -- running, pending, approved, completed, failed, rejected, cancelled
  status VARCHAR(16) NOT NULL DEFAULT 'running',
  from_commit_sha VARCHAR(64) NULL,
  to_commit_sha VARCHAR(64) NOT NULL,
  commit_message TEXT NULL,
  commits_behind INT NOT NULL DEFAULT 0,
  triggered_by VARCHAR(16) NOT NULL,
  explain_run_id BIGINT UNSIGNED NULL,
  execute_run_id BIGINT UNSIGNED NULL,
  plan_output MEDIUMTEXT NULL,
  auto_discarded TINYINT(1) NOT NULL DEFAULT 0,
  decided_by VARCHAR(320) NULL,
  error_message TEXT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_dagctl_plans_public (public_id),
  KEY ix_dagctl_plans_project (project_id, status, id),
  CONSTRAINT fk_dagctl_plans_project FOREIGN KEY (project_id) REFERENCES dagctl_projects (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Invitations to an organization: the token is shown once; the row keeps
-- its lookup id in clear and argon2id of its secret, like API keys.
CREATE TABLE dagctl_invitations (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  email VARCHAR(254) NOT NULL,
  role VARCHAR(16) NOT NULL,
  lookup_id CHAR(8) NOT NULL,
  secret_hash VARCHAR(160) NOT NULL,
  invited_by VARCHAR(254) NULL,
  expires_at DATETIME(6) NOT NULL,
  accepted_at DATETIME(6) NULL,
  revoked_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_dagctl_invitations_public (public_id),
  UNIQUE KEY uq_dagctl_invitations_lookup (lookup_id),
  KEY ix_dagctl_invitations_org (org_id, id),
  CONSTRAINT fk_dagctl_invitations_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- dagctl's organization-wide environment variables are the variables of
-- the dagy environment "dagctl" (sealed there); this table keeps what
-- dagctl adds: whether the value may be shown.
CREATE TABLE dagctl_env_vars (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  org_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(255) NOT NULL,
  is_sensitive TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_dagctl_env_vars (org_id, name),
  CONSTRAINT fk_dagctl_env_vars_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- dagctl's environment protections: a record on a dagy environment (its
-- is_protected flag is the protection's "enabled") and the users excepted
-- from it, the only ones who may approve plans targeting it.
CREATE TABLE dagctl_protections (
  env_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  org_id BIGINT UNSIGNED NOT NULL,
  created_by VARCHAR(40) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY ix_dagctl_protections_org (org_id),
  CONSTRAINT fk_dagctl_protections_env FOREIGN KEY (env_id) REFERENCES environments (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE dagctl_protection_users (
  env_id BIGINT UNSIGNED NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (env_id, user_id),
  CONSTRAINT fk_dagctl_protection_users_env FOREIGN KEY (env_id) REFERENCES dagctl_protections (env_id) ON DELETE CASCADE,
  CONSTRAINT fk_dagctl_protection_users_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
