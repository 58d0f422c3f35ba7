-- Flows and their versions, deployments, and visual-builder drafts.
CREATE TABLE flows (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(200) NOT NULL,
  latest_seq INT UNSIGNED NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_flows_public (public_id),
  UNIQUE KEY uq_flows_org_name (org_id, name),
  CONSTRAINT fk_flows_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE flow_versions (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  flow_id BIGINT UNSIGNED NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  version VARCHAR(64) NOT NULL,
  seq INT UNSIGNED NOT NULL,
  spec LONGTEXT NOT NULL,
  code_hash CHAR(64) NOT NULL,
  artifact_s3_uri VARCHAR(1024) NULL,
  deployment_name VARCHAR(200) NULL,
  schedule VARCHAR(200) NULL,
  default_executor VARCHAR(64) NULL,
  namespace VARCHAR(200) NULL,
  tags JSON NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'active',
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_flow_versions_version (flow_id, version),
  UNIQUE KEY uq_flow_versions_seq (flow_id, seq),
  CONSTRAINT fk_flow_versions_flow FOREIGN KEY (flow_id) REFERENCES flows (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE deployments (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(200) NOT NULL,
  flow_id BIGINT UNSIGNED NOT NULL,
  version_id BIGINT UNSIGNED NOT NULL,
  previous_version_id BIGINT UNSIGNED NULL,
  environment VARCHAR(64) NOT NULL DEFAULT 'production',
  schedule VARCHAR(200) NULL,
  default_executor VARCHAR(64) NOT NULL DEFAULT '',
  execution_mode VARCHAR(16) NOT NULL DEFAULT 'nano',
  tags JSON NULL,
  dep_package_slugs JSON NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'active',
  promoted_from_env VARCHAR(64) NULL,
  promoted_from_deployment VARCHAR(200) NULL,
  promoted_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_deployments_public (public_id),
  UNIQUE KEY uq_deployments_org_name (org_id, name),
  KEY ix_deployments_env (org_id, environment, name),
  CONSTRAINT fk_deployments_flow FOREIGN KEY (flow_id) REFERENCES flows (id) ON DELETE CASCADE,
  CONSTRAINT fk_deployments_version FOREIGN KEY (version_id) REFERENCES flow_versions (id) ON DELETE CASCADE,
  CONSTRAINT fk_deployments_prev FOREIGN KEY (previous_version_id) REFERENCES flow_versions (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE dag_drafts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(200) NOT NULL,
  description TEXT NULL,
  canvas_json LONGTEXT NOT NULL,
  flow_name VARCHAR(200) NULL,
  executor VARCHAR(64) NULL,
  created_by BIGINT UNSIGNED NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_dag_drafts_public (public_id),
  KEY ix_dag_drafts_org (org_id, id),
  CONSTRAINT fk_dag_drafts_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
