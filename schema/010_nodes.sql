-- Custom node types of an organization and the versions they had. The
-- current definition lives in custom_nodes; each PUT first copies it into
-- custom_node_versions, so a flow registered against version N still finds
-- N. Built-in node types are a table in the code (src/lib/nodes.c).
CREATE TABLE custom_nodes (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  org_id BIGINT UNSIGNED NOT NULL,
  node_type VARCHAR(64) NOT NULL,
  version INT UNSIGNED NOT NULL DEFAULT 1,
  definition JSON NOT NULL,
  created_by BIGINT UNSIGNED NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_custom_nodes_type (org_id, node_type),
  CONSTRAINT fk_custom_nodes_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE custom_node_versions (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  custom_node_id BIGINT UNSIGNED NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  version INT UNSIGNED NOT NULL,
  definition JSON NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_custom_node_versions (custom_node_id, version),
  KEY ix_custom_node_versions_org (org_id),
  CONSTRAINT fk_custom_node_versions_node FOREIGN KEY (custom_node_id)
    REFERENCES custom_nodes (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
