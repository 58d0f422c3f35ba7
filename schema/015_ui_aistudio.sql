-- UI content an operator can change (super admins: PUT /v1/ui/content/{name}),
-- per-org UI preferences, and AI Studio: sessions with their canvas, the
-- turns of each (kept for idempotent replay), attachments and the credits
-- each organization has used per month.
CREATE TABLE ui_content (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  content JSON NOT NULL,
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE ui_org_settings (
  org_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  preferences JSON NOT NULL,
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  CONSTRAINT fk_ui_org_settings_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Navigation entries carry the permission that shows them: none (public),
-- "authenticated" (any signed-in caller) or a permission name.
INSERT INTO ui_content (name, content) VALUES
('navigation', '{"main_nav": [
  {"id": "home", "label": "Home", "path": "/"},
  {"id": "docs", "label": "Documentation", "path": "/docs"},
  {"id": "pricing", "label": "Pricing", "path": "/pricing"},
  {"id": "login", "label": "Sign in", "path": "/login"}],
 "sidebar_nav": [
  {"id": "dashboard", "label": "Dashboard", "path": "/app", "permission": "authenticated"},
  {"id": "flows", "label": "Flows", "path": "/app/flows", "permission": "flows.read"},
  {"id": "runs", "label": "Runs", "path": "/app/runs", "permission": "runs.read"},
  {"id": "schedules", "label": "Schedules", "path": "/app/schedules", "permission": "schedules.read"},
  {"id": "ai_studio", "label": "AI Studio", "path": "/app/ai-studio", "permission": "flows.write"},
  {"id": "secrets", "label": "Secrets", "path": "/app/secrets", "permission": "secrets.read"},
  {"id": "environments", "label": "Environments", "path": "/app/environments", "permission": "environments.read"},
  {"id": "notifications", "label": "Notifications", "path": "/app/notifications", "permission": "notifications.read"},
  {"id": "members", "label": "Members", "path": "/app/members", "permission": "admin.members"},
  {"id": "api_keys", "label": "API keys", "path": "/app/api-keys", "permission": "admin.api_keys"},
  {"id": "audit", "label": "Audit log", "path": "/app/audit", "permission": "admin.audit"},
  {"id": "billing", "label": "Billing", "path": "/app/billing", "permission": "billing.read"}],
 "footer_nav": [
  {"id": "status", "label": "Status", "path": "/v1/health"},
  {"id": "privacy", "label": "Privacy", "path": "/privacy"},
  {"id": "settings", "label": "Settings", "path": "/app/settings", "permission": "authenticated"}]}'),
('marketing', '{"hero": {"title": "Workflows you run yourself",
  "subtitle": "dagy schedules and runs DAGs of steps on your own machines, with one MariaDB as the store of state.",
  "cta": {"label": "Get started", "path": "/login"}},
 "features": [
  {"title": "Schedules that fire once", "description": "Cron, intervals and one-time runs, with catch-up after downtime."},
  {"title": "Crash-safe runs", "description": "Step state is committed as it changes; another worker resumes a run whose worker died."},
  {"title": "AI Studio", "description": "Describe a flow in words and get one that passes validation."}],
 "pricing": {"currency": "USD", "plans": [
  {"id": "free", "name": "Free", "price_monthly": 0},
  {"id": "pro", "name": "Pro", "price_monthly": 49},
  {"id": "enterprise", "name": "Enterprise", "price_monthly": null}]},
 "testimonials": []}'),
('dashboard', '{"widgets": [
  {"id": "runs_by_status", "type": "stat_group", "title": "Runs, last 7 days", "source": "stats.runs_7d"},
  {"id": "success_rate", "type": "stat", "title": "Success rate, last 7 days", "source": "stats.success_rate_7d"},
  {"id": "recent_runs", "type": "list", "title": "Recent runs", "source": "recent_activity"}]}'),
('settings', '{"sections": [
  {"id": "profile", "label": "Profile", "permission": "authenticated"},
  {"id": "organization", "label": "Organization", "permission": "admin.members"},
  {"id": "api_keys", "label": "API keys", "permission": "api_keys.read"},
  {"id": "secrets", "label": "Secrets", "permission": "secrets.read"},
  {"id": "notifications", "label": "Notifications", "permission": "notifications.read"},
  {"id": "billing", "label": "Billing", "permission": "billing.read"}],
 "integrations": [
  {"id": "slack", "label": "Slack", "kind": "notification_channel"},
  {"id": "pagerduty", "label": "PagerDuty", "kind": "notification_channel"},
  {"id": "email", "label": "Email (SMTP)", "kind": "notification_channel"},
  {"id": "webhook", "label": "Webhook", "kind": "notification_channel"}],
 "preferences": {"timezone": "UTC", "theme": "system", "date_format": "iso"}}'),
('ai_studio', '{"templates": [
  {"id": "s3_validate", "title": "Validate JSON records",
   "prompt": "Fetch JSON records over HTTP, validate them against a schema, normalize and deduplicate them, then post them to a webhook."},
  {"id": "api_to_webhook", "title": "API to webhook",
   "prompt": "Fetch an API every hour and post the result to a webhook."}],
 "examples": [
  "Build a workflow that reads JSON, validates schema, normalizes records, deduplicates, and writes them out.",
  "Add a deduplication step before the webhook."]}');

-- The dashboard counts an org's recent runs by status with this index.
ALTER TABLE runs ADD KEY ix_runs_org_created (org_id, created_at, status);

CREATE TABLE ai_sessions (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  user_id BIGINT UNSIGNED NULL,
  title VARCHAR(200) NOT NULL,
  tier VARCHAR(32) NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'active',
  canvas JSON NOT NULL,
  flow_name VARCHAR(200) NULL,
  turns INT UNSIGNED NOT NULL DEFAULT 0,
  credits_used DECIMAL(12,2) NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_ai_sessions_public (public_id),
  UNIQUE KEY uq_ai_sessions_flow (org_id, flow_name),
  KEY ix_ai_sessions_user (org_id, user_id, id),
  CONSTRAINT fk_ai_sessions_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per message; a turn's assistant row keeps the whole answer
-- and the status it went out with, under the turn's key, for replay.
CREATE TABLE ai_messages (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  session_id BIGINT UNSIGNED NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  role VARCHAR(16) NOT NULL,
  content MEDIUMTEXT NOT NULL,
  intent VARCHAR(16) NULL,
  turn_key VARCHAR(200) NULL,
  request_hash CHAR(64) NULL,
  status_code INT NULL,
  response JSON NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_ai_messages_turn (session_id, turn_key),
  KEY ix_ai_messages_session (session_id, id),
  CONSTRAINT fk_ai_messages_session FOREIGN KEY (session_id) REFERENCES ai_sessions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE ai_attachments (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(40) NOT NULL,
  session_id BIGINT UNSIGNED NOT NULL,
  org_id BIGINT UNSIGNED NOT NULL,
  filename VARCHAR(255) NOT NULL,
  kind VARCHAR(8) NOT NULL,
  size_bytes BIGINT UNSIGNED NOT NULL,
  upload_hash CHAR(64) NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'pending',
  uploaded_bytes BIGINT UNSIGNED NULL,
  text MEDIUMTEXT NULL,
  text_chars INT UNSIGNED NULL,
  truncated TINYINT(1) NOT NULL DEFAULT 0,
  expires_at DATETIME(6) NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY uq_ai_attachments_public (public_id),
  KEY ix_ai_attachments_session (session_id, id),
  CONSTRAINT fk_ai_attachments_session FOREIGN KEY (session_id) REFERENCES ai_sessions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Credits used per organization and calendar month (UTC), against the
-- allowance in [ai] monthly_credits.
CREATE TABLE ai_credits (
  org_id BIGINT UNSIGNED NOT NULL,
  period CHAR(7) NOT NULL,
  used DECIMAL(12,2) NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, period),
  CONSTRAINT fk_ai_credits_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
