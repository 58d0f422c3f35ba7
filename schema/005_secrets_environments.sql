-- Secrets and environments. Sealed values (secrets, environment variables)
-- are AES-256-GCM text "v1.<key_id>.<base64>" written by src/lib/secrets.c;
-- key_id beside them lets `dagy secrets rotate-key` find what is left.
CREATE TABLE secret_keys (
  key_id VARCHAR(64) NOT NULL PRIMARY KEY,
  check_value VARCHAR(255) NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- environment '' is the organization-wide scope.
CREATE TABLE secrets (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  environment VARCHAR(64) NOT NULL DEFAULT '',
  name VARCHAR(200) NOT NULL,
  key_id VARCHAR(64) NOT NULL,
  ciphertext MEDIUMTEXT NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_secrets_public (public_id),
  UNIQUE KEY uq_secrets_org_name (org_id, name, environment),
  KEY ix_secrets_env (org_id, environment, name),
  KEY ix_secrets_key (key_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE environments (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(64) NOT NULL,
  default_executor VARCHAR(64) NOT NULL DEFAULT '',
  config_json JSON NULL,
  is_protected TINYINT(1) NOT NULL DEFAULT 0,
  protected_roles JSON NULL,
  promotion_order INT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_environments_public (public_id),
  UNIQUE KEY uq_environments_org_name (org_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE env_variables (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  env_id BIGINT UNSIGNED NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  var_key VARCHAR(255) NOT NULL,
  key_id VARCHAR(64) NOT NULL,
  ciphertext MEDIUMTEXT NOT NULL,
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_env_variables (env_id, var_key),
  KEY ix_env_variables_key (key_id),
  CONSTRAINT fk_env_variables_env FOREIGN KEY (env_id) REFERENCES environments (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The environment a run executes in: its variables and secrets. NULL for
-- runs that name none (and every run from before this migration).
ALTER TABLE runs ADD COLUMN environment VARCHAR(64) NULL;
