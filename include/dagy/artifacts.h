/* Artifact uploads in progress: the SQL behind /v1/artifacts. ART_C_*
 * name the columns of an upload row. */
#ifndef DAGY_ARTIFACTS_H
#define DAGY_ARTIFACTS_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

enum artifacts_err { ARTIFACTS_ENOTFOUND = -80, ARTIFACTS_EBUSY = -81 };

enum artifacts_col {
	ART_C_ID, ART_C_ORG, ART_C_UPLOAD, ART_C_KEY, ART_C_FLOW, ART_C_VERSION,
	ART_C_DEPLOYMENT, ART_C_FILE_SIZE, ART_C_PART_SIZE, ART_C_PARTS,
	ART_C_STATUS, ART_C_EXPIRES, ART_C_EXPIRED,
};

struct artifact_upload {
	const char *upload_id, *key, *flow, *version, *deployment;
	int64_t file_size, part_size, parts;
	long expires_in; /* seconds from now */
};

/* ARTIFACTS_EBUSY while another upload of the same flow version is
 * pending and not expired: they would share the object key. */
int artifacts_add(struct db *db, int64_t org_id, const struct artifact_upload *u);
/* The upload row (org_id 0: any organization's, for the part-upload
 * route whose signature stands in for a credential), or
 * ARTIFACTS_ENOTFOUND. */
int artifacts_get(struct db *db, struct arena *a, int64_t org_id,
    const char *upload_id, struct db_res **row);
/* Moves a pending upload to status; 1 if it was pending, else 0. */
int artifacts_finish(struct db *db, int64_t org_id, const char *upload_id,
    const char *status);

#endif
