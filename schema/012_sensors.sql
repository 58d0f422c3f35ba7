-- Sensors: runs started by events. A webhook sensor is found by the
-- SHA-256 of its token (the token itself is shown once); a polling sensor
-- carries its next slot, which a worker claims with FOR UPDATE SKIP LOCKED
-- and advances in the same transaction, so several workers poll it once.
-- Every firing is a row; UNIQUE (sensor_id, delivery_id) makes a
-- redelivered event return its first run instead of starting another.
CREATE TABLE sensors (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(200) NOT NULL,
  sensor_type VARCHAR(16) NOT NULL,
  flow_name VARCHAR(200) NOT NULL,
  -- the configuration as shown: secret fields masked
  config JSON NOT NULL,
  flow_params JSON NOT NULL,
  -- the secret fields (signing secret, polling headers), sealed by the
  -- secrets store under scope 'sensor', and the key that sealed them
  sealed TEXT NULL,
  key_id VARCHAR(40) NULL,
  -- lowercase hex SHA-256 of the webhook token
  token_hash CHAR(64) NULL,
  enabled TINYINT(1) NOT NULL DEFAULT 1,
  created_by BIGINT UNSIGNED NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  -- polling: the slot a worker claims next (NULL: not polled)
  next_poll_at DATETIME(6) NULL,
  poll_interval INT UNSIGNED NULL,
  -- what the last poll saw: the body's hash, or whether the condition held
  poll_state VARCHAR(80) NULL,
  last_polled_at DATETIME(6) NULL,
  last_poll_error VARCHAR(512) NULL,
  UNIQUE KEY uq_sensors_public (public_id),
  UNIQUE KEY uq_sensors_token (token_hash),
  KEY ix_sensors_org (org_id, id),
  KEY ix_sensors_due (next_poll_at),
  CONSTRAINT fk_sensors_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE sensor_firings (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  sensor_id BIGINT UNSIGNED NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  -- webhook, poll or test
  source VARCHAR(8) NOT NULL,
  -- the sender's delivery id (NULL: none given)
  delivery_id VARCHAR(200) NULL,
  run_id BIGINT UNSIGNED NULL,
  run_public_id VARCHAR(40) NOT NULL,
  -- what triggered it: the body's hash, the value seen, the sender's address
  detail JSON NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_sensor_firings_public (public_id),
  UNIQUE KEY uq_sensor_firings_delivery (sensor_id, delivery_id),
  KEY ix_sensor_firings_sensor (sensor_id, id),
  CONSTRAINT fk_sensor_firings_sensor FOREIGN KEY (sensor_id) REFERENCES sensors (id) ON DELETE CASCADE,
  CONSTRAINT fk_sensor_firings_run FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
