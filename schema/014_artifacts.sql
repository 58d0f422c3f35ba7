-- Multipart artifact uploads in progress (POST /v1/artifacts/initiate):
-- what initiate promised, so complete can check the parts against it and
-- abort can find the store's upload. A finished upload keeps its row.
CREATE TABLE artifact_uploads (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  org_id BIGINT UNSIGNED NOT NULL,
  -- the store's id (S3's UploadId, or the directory store's own)
  upload_id VARCHAR(512) NOT NULL,
  artifact_key VARCHAR(1024) NOT NULL,
  flow_name VARCHAR(200) NOT NULL,
  flow_version VARCHAR(64) NOT NULL,
  deployment_name VARCHAR(200) NOT NULL,
  file_size BIGINT UNSIGNED NOT NULL,
  part_size BIGINT UNSIGNED NOT NULL,
  parts INT UNSIGNED NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'pending',
  -- SHA-256 of flow name and version while pending, else NULL: one upload
  -- at a time per flow version, since they share the object key
  pending_slot CHAR(64) NULL,
  expires_at DATETIME(6) NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_artifact_uploads_id (upload_id),
  UNIQUE KEY uq_artifact_uploads_slot (org_id, pending_slot),
  KEY ix_artifact_uploads_org (org_id, created_at),
  CONSTRAINT fk_artifact_uploads_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
