/* UI configuration: content documents an operator can change (navigation,
 * marketing, dashboard widgets, settings sections, AI Studio templates;
 * seeded by 015_ui_aistudio and replaced by super admins), per-org
 * preferences, and the dashboard's figures from the org's runs. */
#ifndef DAGY_UI_H
#define DAGY_UI_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

/* The JSON text of content document name, or *text NULL when none. */
int ui_content_get(struct db *db, struct arena *a, const char *name,
    const char **text);
int ui_content_put(struct db *db, const char *name, const char *text);
/* The org's preferences (JSON text), or NULL when it set none. */
int ui_prefs_get(struct db *db, struct arena *a, int64_t org_id, const char **text);
int ui_prefs_put(struct db *db, int64_t org_id, const char *text);

/* Runs of the org created in the last `days` days: status, count. */
int ui_runs_by_status(struct db *db, struct arena *a, int64_t org_id, int days,
    struct db_res **rows);
/* The org's latest runs: public id, flow, status, created_at, completed_at. */
int ui_recent_runs(struct db *db, struct arena *a, int64_t org_id, int limit,
    struct db_res **rows);
/* Counts of the org's flows and enabled schedules. */
int ui_counts(struct db *db, struct arena *a, int64_t org_id, int64_t *flows,
    int64_t *schedules);

#endif
