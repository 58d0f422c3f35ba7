/* /v1/artifacts: multipart artifact uploads in three phases. initiate
 * hands out part-upload URLs (presigned S3 URLs, or with the directory
 * store dagy's own signed URLs answered by the PUT route here), complete
 * checks the parts and the object and registers the flow version and its
 * deployment, abort drops the upload. doc/artifacts.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "api.h"
#include "dagy/artifacts.h"
#include "dagy/audit.h"
#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/deployments.h"
#include "dagy/flows.h"
#include "dagy/flowspec.h"
#include "dagy/log.h"
#include "dagy/objstore.h"
#include "dagy/usage.h"

#define MIB (1024LL * 1024)
#define MIN_PART (5 * MIB)
#define DEFAULT_PART (8 * MIB)
#define MAX_PART (5 * 1024 * MIB)
#define MAX_PARTS 10000

static int art_initiate(struct req *r);
static int art_complete(struct req *r);
static int art_abort(struct req *r);
static int art_put_part(struct req *r);

const struct route artifacts_routes[] = {
	{"POST", "/v1/artifacts/initiate", art_initiate, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"POST", "/v1/artifacts/complete", art_complete, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"POST", "/v1/artifacts/abort", art_abort, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	/* The directory store's part uploads: the URL's signature is the
	 * credential, and the body (one part) is streamed to disk. */
	{"PUT", "/v1/artifacts/uploads/{upload_id}/parts/{part}", art_put_part,
	    PERM_PUBLIC, ROUTE_STREAM, DIALECT_DAGY},
};
const size_t artifacts_routes_n = sizeof(artifacts_routes) / sizeof(artifacts_routes[0]);

/* The store, opened on first use and kept for the life of the process. */
static struct objstore *store;

static struct objstore *
get_store(struct req *r)
{
	char err[256];

	if (store == NULL && objstore_open(&store, r->srv->cfg, err, sizeof(err)) < 0) {
		log_err("artifact storage: %s", err);
		store = NULL;
	}
	return store;
}

/* HMAC of a directory-store part URL: method, upload, key, part, size and
 * expiry, under [storage] upload_secret or a key derived from the database
 * password (as pagination tokens derive theirs). */
static void
part_mac(struct req *r, const char *upload_id, const char *key, int part,
    long long size, long long expires, char hex[65])
{
	const struct config *cfg = r->srv->cfg;
	const char *s = config_str(cfg, "storage", "upload_secret");
	char *msg, seed[600];
	uint8_t k[32], d[32];

	if (*s == '\0') {
		snprintf(seed, sizeof(seed), "dagy-artifact-upload:%s:%s",
		    config_str(cfg, "database", "password"),
		    config_str(cfg, "database", "name"));
		s = seed;
	}
	crypto_sha256(s, strlen(s), k);
	msg = arena_printf(&r->arena, "PUT\n%s\n%s\n%d\n%lld\n%lld", upload_id, key,
	    part, size, expires);
	crypto_hmac_sha256(k, sizeof(k), msg, strlen(msg), d);
	crypto_hex(d, hex);
}

/* Where the client reached dagy-api, for the directory store's URLs. */
static const char *
base_url(struct req *r)
{
	const char *host = req_env(r, "HTTP_HOST"), *https = req_env(r, "HTTPS");
	const char *base = config_str(r->srv->cfg, "notifications", "base_url");

	if (host == NULL)
		return base;
	return arena_printf(&r->arena, "%s://%s",
	    https != NULL && strcasecmp(https, "on") == 0 ? "https" : "http", host);
}

static int
storage_missing(struct req *r)
{
	return api_error(r, API_E_INTERNAL, NULL,
	    "artifact storage not configured: [storage] backend is none, or its "
	    "settings are invalid (see dagy config check)");
}

static int
read_size(struct req *r, const char *field, int required, long long *out)
{
	json_t *v = json_object_get(r->body_json, field);

	if (v == NULL || json_is_null(v)) {
		if (required)
			return api_invalid(r, field, "is required"), -1;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return api_invalid(r, field, "must be a positive integer"), -1;
	*out = json_integer_value(v);
	return 0;
}

static int
art_initiate(struct req *r)
{
	struct objstore *os = get_store(r);
	const char *flow, *version, *dep, *key, *expires_at;
	long long file_size = 0, part_size = DEFAULT_PART, nparts, i;
	long expiry = (long)config_int(r->srv->cfg, "storage", "upload_expiry_seconds");
	long long max = config_int(r->srv->cfg, "storage", "max_artifact_bytes");
	struct artifact_upload u;
	struct db_res *row;
	char *upload_id = NULL, *url;
	json_t *parts;
	int rc;

	if (req_name(r, "flow_name", 1, &flow) < 0 ||
	    req_version(r, "flow_version", &version) < 0 ||
	    req_name(r, "deployment_name", 1, &dep) < 0 ||
	    read_size(r, "file_size", 1, &file_size) < 0 ||
	    read_size(r, "part_size", 0, &part_size) < 0)
		return 0;
	if (version == NULL)
		return api_invalid(r, "flow_version", "is required");
	if (part_size < MIN_PART)
		return api_invalid(r, "part_size", "must be at least 5 MiB (%lld bytes)", MIN_PART);
	if (part_size > MAX_PART)
		return api_invalid(r, "part_size", "must be at most 5 GiB");
	if (max > 0 && file_size > max)
		return api_error(r, API_E_PAYLOAD_TOO_LARGE, json_pack("{s:s}", "file_size",
		    "over [storage] max_artifact_bytes"),
		    "file_size %lld is over the limit of %lld bytes", file_size, max);
	nparts = (file_size + part_size - 1) / part_size;
	if (nparts > MAX_PARTS)
		return api_invalid(r, "part_size", "gives %lld parts; at most %d are allowed",
		    nparts, MAX_PARTS);
	if (os == NULL || objstore_kind(os) == OBJSTORE_NONE)
		return storage_missing(r);
	rc = flows_version(r->db, &r->arena, r->who.org_id, flow, version, &row);
	if (rc == 0)
		return api_error(r, API_E_CONFLICT, NULL, "flow '%s' already has a version '%s'",
		    flow, version);
	if (rc != FLOWS_ENOTFOUND)
		return rc;
	key = arena_printf(&r->arena, "%sflows/%s/%s/%s/artifact.zip",
	    objstore_prefix(os), r->who.org_public_id, flow, version);
	if ((rc = objstore_initiate(os, key, &upload_id)) < 0) {
		log_err("artifact upload of %s: %s", key, objstore_error(os));
		return api_error(r, API_E_INTERNAL, NULL,
		    "artifact storage did not start the upload");
	}
	u = (struct artifact_upload){.upload_id = upload_id, .key = key, .flow = flow,
		.version = version, .deployment = dep, .file_size = file_size,
		.part_size = part_size, .parts = nparts, .expires_in = expiry};
	if ((rc = db_begin(r->db)) == 0 &&
	    (rc = artifacts_add(r->db, r->who.org_id, &u)) == 0 &&
	    (rc = audit_write(r->db, &r->who, "artifact.initiate", "flow", flow,
	    json_pack("{s:s, s:s, s:I}", "flow_version", version, "artifact_key", key,
	    "file_size", (json_int_t)file_size))) == 0 &&
	    (rc = artifacts_get(r->db, &r->arena, r->who.org_id, upload_id, &row)) == 0)
		rc = db_commit(r->db);
	if (rc < 0) {
		/* The store's upload goes with the row that was not written. */
		db_rollback(r->db);
		objstore_abort(os, key, upload_id);
		if (rc == ARTIFACTS_EBUSY)
			rc = api_error(r, API_E_CONFLICT, NULL, "an upload of flow '%s' version "
			    "'%s' is in progress; complete or abort it first", flow, version);
		goto done;
	}
	expires_at = db_val(row, 0, ART_C_EXPIRES);
	parts = json_array();
	for (i = 1; i <= nparts; i++) {
		long long size = i < nparts ? part_size : file_size - (nparts - 1) * part_size;

		if (objstore_kind(os) == OBJSTORE_S3) {
			url = objstore_part_url(os, key, upload_id, (int)i, expiry);
		} else {
			long long exp = (long long)time(NULL) + expiry;
			char mac[65];

			part_mac(r, upload_id, key, (int)i, size, exp, mac);
			if (asprintf(&url, "%s/v1/artifacts/uploads/%s/parts/%lld?size=%lld"
			    "&expires=%lld&signature=%s", base_url(r), upload_id, i, size,
			    exp, mac) < 0)
				url = NULL;
		}
		if (url == NULL) {
			json_decref(parts);
			rc = api_error(r, API_E_INTERNAL, NULL, "cannot sign part URLs");
			goto done;
		}
		json_array_append_new(parts, json_pack("{s:I, s:s, s:I}", "part_number",
		    (json_int_t)i, "url", url, "size", (json_int_t)size));
		free(url);
	}
	rc = api_json(r, 200, json_pack("{s:s, s:s, s:o, s:s}", "upload_id", upload_id,
	    "artifact_key", key, "parts", parts, "expires_at", expires_at));
done:
	free(upload_id);
	return rc;
}

/* The upload named by the body's upload_id and artifact_key, pending:
 * 0 with *row, or -1 after a 400/404 (another org's id is not found). */
static int
pending_upload(struct req *r, struct db_res **row, const char **upload_id,
    const char **key)
{
	int rc;

	if (req_str(r, "upload_id", 1, 512, upload_id) < 0 ||
	    req_str(r, "artifact_key", 1, 1024, key) < 0)
		return -1;
	rc = artifacts_get(r->db, &r->arena, r->who.org_id, *upload_id, row);
	if (rc == ARTIFACTS_ENOTFOUND)
		return api_error(r, API_E_NOT_FOUND, json_pack("{s:s}", "upload_id", "not found"),
		    "no upload '%s'", *upload_id), -1;
	if (rc < 0)
		return rc;
	if (strcmp(db_val(*row, 0, ART_C_KEY), *key) != 0)
		return api_invalid(r, "artifact_key", "is not the key of this upload"), -1;
	if (strcmp(db_val(*row, 0, ART_C_STATUS), "pending") != 0)
		return api_invalid(r, "upload_id", "this upload is %s",
		    db_val(*row, 0, ART_C_STATUS)), -1;
	return 0;
}

/* The client's ETags in part order: parts 1..n, each once. */
static int
read_etags(struct req *r, long long n, const char ***out)
{
	json_t *parts = json_object_get(r->body_json, "parts"), *p;
	const char **etags;
	size_t i;

	if (!json_is_array(parts) || json_array_size(parts) == 0)
		return api_invalid(r, "parts", "is required: [{part_number, etag}]"), -1;
	etags = arena_calloc(&r->arena, (size_t)n * sizeof(*etags));
	json_array_foreach(parts, i, p) {
		json_t *num = json_object_get(p, "part_number");
		const char *e = json_string_value(json_object_get(p, "etag"));
		json_int_t k = json_is_integer(num) ? json_integer_value(num) : 0;

		if (k < 1 || k > n)
			return api_invalid(r, "parts", "part_number must be 1 to %lld", n), -1;
		if (e == NULL || *e == '\0' || strlen(e) > 200)
			return api_invalid(r, "parts", "part %lld has no etag", (long long)k), -1;
		if (etags[k - 1] != NULL)
			return api_invalid(r, "parts", "part %lld is listed twice", (long long)k), -1;
		etags[k - 1] = e;
	}
	for (i = 0; i < (size_t)n; i++)
		if (etags[i] == NULL)
			return api_invalid(r, "parts", "part %zu is missing", i + 1), -1;
	*out = etags;
	return 0;
}

static int
is_md5_etag(const char *e)
{
	size_t i, n;

	if (*e == '"')
		e++;
	n = strlen(e);
	if (n > 0 && e[n - 1] == '"')
		n--;
	if (n != 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!((e[i] >= '0' && e[i] <= '9') || (e[i] >= 'a' && e[i] <= 'f')))
			return 0;
	return 1;
}

/* Reads the assembled object back: its size, SHA-256 and, where the
 * client's ETags are plain MD5s, each part's MD5. 0 with sha set, or a
 * 400 message in *why. */
static int
check_object(struct req *r, struct objstore *os, const char *key,
    const struct db_res *u, const char *const *etags, char sha[65], const char **why)
{
	long long file_size = db_int(u, 0, ART_C_FILE_SIZE);
	long long part_size = db_int(u, 0, ART_C_PART_SIZE), size = 0, got = 0;
	EVP_MD_CTX *s = EVP_MD_CTX_new(), *m = EVP_MD_CTX_new();
	FILE *f = tmpfile();
	static char buf[65536];
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl, i;
	int rc = -1, part = 0;
	int verify = config_int(r->srv->cfg, "storage", "verify_part_md5") != 0;
	size_t k;

	*why = NULL;
	if (f == NULL || s == NULL || m == NULL)
		goto done;
	rc = objstore_get(os, key, f, file_size + 1, &size);
	if (rc == OBJSTORE_ETOOBIG || (rc == 0 && size != file_size)) {
		*why = arena_printf(&r->arena, "the assembled object is not file_size (%lld) bytes",
		    file_size);
		rc = 0;
		goto done;
	}
	if (rc < 0)
		goto done;
	rewind(f);
	EVP_DigestInit_ex(s, EVP_sha256(), NULL);
	EVP_DigestInit_ex(m, EVP_md5(), NULL);
	while ((k = fread(buf, 1, sizeof(buf), f)) > 0) {
		size_t off = 0;

		EVP_DigestUpdate(s, buf, k);
		while (off < k) {
			long long room = part_size - got % part_size;
			size_t take = (long long)(k - off) < room ? k - off : (size_t)room;

			EVP_DigestUpdate(m, buf + off, take);
			off += take;
			got += (long long)take;
			if (got % part_size == 0 || got == file_size) {
				char hex[33];

				EVP_DigestFinal_ex(m, d, &dl);
				for (i = 0; i < 16; i++)
					snprintf(hex + 2 * i, 3, "%02x", d[i]);
				if (verify && is_md5_etag(etags[part]) &&
				    strncmp(etags[part] + (etags[part][0] == '"'), hex, 32) != 0 &&
				    *why == NULL)
					*why = arena_printf(&r->arena, "part %d: ETag %s does not "
					    "match the part uploaded", part + 1, etags[part]);
				part++;
				EVP_DigestInit_ex(m, EVP_md5(), NULL);
			}
		}
	}
	EVP_DigestFinal_ex(s, d, &dl);
	crypto_hex(d, sha);
	rc = 0;
done:
	if (f != NULL)
		fclose(f);
	EVP_MD_CTX_free(s);
	EVP_MD_CTX_free(m);
	return rc;
}

static int
same(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static int
art_complete(struct req *r)
{
	struct objstore *os = get_store(r);
	const char *upload_id, *key, *flow, *version, *dep, *hash, *status, *env, *mode;
	const char *why, *uri_s;
	const char *const *etags;
	struct flow_reg reg;
	struct deploy_settings ds;
	struct flowspec_err e;
	struct db_res *u, *row, *drow;
	json_t *spec = json_object_get(r->body_json, "flow_spec"), *tags;
	char sha[65], *uri = NULL;
	int rc, created;

	memset(&reg, 0, sizeof(reg));
	memset(&ds, 0, sizeof(ds));
	if (os == NULL || objstore_kind(os) == OBJSTORE_NONE)
		return storage_missing(r);
	if (pending_upload(r, &u, &upload_id, &key) < 0 ||
	    req_name(r, "flow_name", 1, &flow) < 0 ||
	    req_version(r, "flow_version", &version) < 0 ||
	    req_name(r, "deployment_name", 1, &dep) < 0 ||
	    req_str(r, "code_hash", 0, 64, &hash) < 0 ||
	    req_str(r, "status", 0, 16, &status) < 0 ||
	    req_str(r, "schedule", 0, 200, &reg.schedule) < 0 ||
	    req_str(r, "default_executor", 0, 64, &reg.executor) < 0 ||
	    req_str(r, "namespace", 0, 200, &reg.namespace) < 0 ||
	    req_str(r, "environment", 0, 64, &env) < 0 ||
	    req_str(r, "execution_mode", 0, 16, &mode) < 0 ||
	    req_json_field(r, "tags", 0, &tags) < 0 ||
	    read_etags(r, db_int(u, 0, ART_C_PARTS), (const char ***)&etags) < 0)
		return 0;
	if (!same(flow, db_val(u, 0, ART_C_FLOW)) || !same(version, db_val(u, 0, ART_C_VERSION)))
		return api_invalid(r, "flow_name", "flow_name and flow_version must be those "
		    "the upload was initiated with (%s %s)", db_val(u, 0, ART_C_FLOW),
		    db_val(u, 0, ART_C_VERSION));
	if (!same(dep, db_val(u, 0, ART_C_DEPLOYMENT)))
		return api_invalid(r, "deployment_name", "must be the one the upload was "
		    "initiated with (%s)", db_val(u, 0, ART_C_DEPLOYMENT));
	if (status != NULL && strcasecmp(status, "active") != 0 &&
	    strcasecmp(status, "inactive") != 0)
		return api_invalid(r, "status", "must be ACTIVE or INACTIVE");
	if (reg.executor != NULL && !api_executor_valid(reg.executor))
		return api_invalid(r, "default_executor", "unknown executor '%s'", reg.executor);
	if (mode != NULL && strcmp(mode, "nano") != 0 && strcmp(mode, "micro") != 0 &&
	    strcmp(mode, "standard") != 0)
		return api_invalid(r, "execution_mode", "must be nano, micro or standard");
	if (!json_is_object(spec))
		return api_invalid(r, "flow_spec", "is required and must be an object");
	reg.canonical = flowspec_canonical(spec,
	    config_int(r->srv->cfg, "worker", "max_step_timeout_seconds"), &e);
	if (reg.canonical == NULL)
		return api_error(r, API_E_VALIDATION, json_pack("{s:s, s:s, s:s}",
		    "node", e.node, "field", e.field, "reason", e.msg),
		    "invalid flow_spec: %s", e.msg);
	if ((rc = api_deploy_guard(r, dep, env, 1)) != 0) {
		rc = rc < 0 ? rc : 0;
		goto done;
	}
	/* The version may have been registered some other way meanwhile; the
	 * object must not be replaced under it. */
	if ((rc = flows_version(r->db, &r->arena, r->who.org_id, flow, version, &row)) == 0) {
		rc = api_error(r, API_E_CONFLICT, NULL, "flow '%s' already has a version '%s'",
		    flow, version);
		goto done;
	}
	if (rc != FLOWS_ENOTFOUND)
		goto done;
	rc = objstore_complete(os, key, upload_id, etags, (size_t)db_int(u, 0, ART_C_PARTS));
	if (rc == OBJSTORE_EREFUSED || rc == OBJSTORE_ENOTFOUND) {
		rc = api_invalid(r, "parts", "failed to complete upload: %s", objstore_error(os));
		goto done;
	}
	if (rc < 0) {
		log_err("completing artifact upload %s: %s", key, objstore_error(os));
		rc = api_error(r, API_E_INTERNAL, NULL, "artifact storage failed to complete the upload");
		goto done;
	}
	if ((rc = check_object(r, os, key, u, etags, sha, &why)) < 0) {
		log_err("reading back artifact %s: %s", key, objstore_error(os));
		rc = api_error(r, API_E_INTERNAL, NULL, "artifact storage failed to read the upload");
		goto done;
	}
	if (why == NULL && hash != NULL && strcasecmp(hash, sha) != 0)
		why = arena_printf(&r->arena, "code_hash does not match the SHA-256 of the "
		    "artifact (%s)", sha);
	if (why != NULL) {
		/* Nothing is registered; the object that failed goes too. */
		objstore_delete(os, key);
		if ((rc = artifacts_finish(r->db, r->who.org_id, upload_id, "failed")) >= 0)
			rc = api_invalid(r, hash != NULL && strstr(why, "code_hash") ? "code_hash" :
			    "parts", "failed to complete upload: %s", why);
		goto done;
	}
	if ((uri = objstore_uri(os, key)) == NULL) {
		rc = -1;
		goto done;
	}
	reg.name = flow;
	reg.version = version;
	reg.artifact = uri;
	reg.deployment_name = dep;
	reg.status = status != NULL && strcasecmp(status, "inactive") == 0 ? "inactive" : "active";
	reg.tags = tags;
	reg.code_hash = sha;
	ds.environment = env;
	ds.schedule = reg.schedule;
	ds.executor = reg.executor;
	ds.mode = mode;
	ds.tags = tags != NULL ? api_json_text(r, tags) : NULL;
	if ((rc = db_begin(r->db)) < 0)
		goto done;
	if ((rc = artifacts_finish(r->db, r->who.org_id, upload_id, "completed")) <= 0) {
		db_rollback(r->db);
		if (rc == 0)
			rc = api_invalid(r, "upload_id", "this upload is no longer pending");
		goto done;
	}
	rc = flows_register(r->db, &r->arena, r->who.org_id, &reg, &row);
	if (rc == FLOWS_EEXISTS) {
		db_rollback(r->db);
		rc = api_error(r, API_E_CONFLICT, NULL, "flow '%s' already has a version '%s'",
		    flow, version);
		goto done;
	}
	if (rc < 0 ||
	    (rc = deploy_upsert(r->db, &r->arena, r->who.org_id, dep,
	    db_int(row, 0, FLOWS_V_FLOW_ID), db_int(row, 0, FLOWS_V_ID), &ds, &created,
	    &drow)) < 0 ||
	    (rc = usage_add_artifact_bytes(r->db, r->who.org_id,
	    db_int(u, 0, ART_C_FILE_SIZE))) < 0 ||
	    (rc = audit_write(r->db, &r->who, "artifact.complete", "flow", flow,
	    json_pack("{s:s, s:s, s:s, s:s}", "flow_version", version,
	    "deployment_name", dep, "artifact_s3_uri", uri, "code_hash", sha))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		goto done;
	uri_s = arena_strdup(&r->arena, uri);
	rc = api_json(r, 200, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}",
	    "artifact_s3_uri", uri_s, "flow_name", flow, "flow_version", version,
	    "deployment_name", dep, "deployment_version",
	    (json_int_t)db_int(row, 0, FLOWS_V_SEQ),
	    "environment", db_val(drow, 0, DEPLOY_C_ENV), "code_hash", sha));
done:
	free(uri);
	json_decref(reg.canonical);
	return rc;
}

static int
art_abort(struct req *r)
{
	struct objstore *os = get_store(r);
	const char *upload_id, *key;
	struct db_res *u;
	int rc;

	if (os == NULL || objstore_kind(os) == OBJSTORE_NONE)
		return storage_missing(r);
	if (pending_upload(r, &u, &upload_id, &key) < 0)
		return 0;
	rc = objstore_abort(os, key, upload_id);
	if (rc < 0 && rc != OBJSTORE_ENOTFOUND) {
		log_err("aborting artifact upload %s: %s", key, objstore_error(os));
		return api_error(r, API_E_INTERNAL, NULL,
		    "artifact storage refused to abort the upload: %s", objstore_error(os));
	}
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = artifacts_finish(r->db, r->who.org_id, upload_id, "aborted")) < 0 ||
	    (rc = audit_write(r->db, &r->who, "artifact.abort", "flow",
	    db_val(u, 0, ART_C_FLOW), json_pack("{s:s}", "artifact_key", key))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_no_content(r);
}

/* A FILE over the FastCGI input stream, for objstore_put_part. */
static ssize_t
fcgi_read(void *cookie, char *buf, size_t n)
{
	int k = FCGX_GetStr(buf, n > 1 << 20 ? 1 << 20 : (int)n, cookie);

	return k < 0 ? -1 : k;
}

static int
art_put_part(struct req *r)
{
	struct objstore *os = get_store(r);
	const char *upload_id = req_param(r, "upload_id"), *ps = req_param(r, "part");
	const char *size_s = req_query(r, "size"), *exp_s = req_query(r, "expires");
	const char *sig = req_query(r, "signature"), *cl = req_env(r, "CONTENT_LENGTH");
	long long size, exp, len;
	char mac[65], *etag = NULL, *end;
	struct db_res *u;
	cookie_io_functions_t io = {.read = fcgi_read};
	FILE *in;
	long part;
	int rc;

	if (os == NULL || objstore_kind(os) != OBJSTORE_DIR)
		return api_error(r, API_E_NOT_FOUND, NULL, "parts are uploaded to the object store");
	part = strtol(ps, &end, 10);
	if (*end != '\0' || part < 1 || part > MAX_PARTS)
		return api_invalid(r, "part", "must be 1 to %d", MAX_PARTS);
	if (size_s == NULL || exp_s == NULL || sig == NULL || strlen(sig) != 64)
		return api_error(r, API_E_FORBIDDEN, NULL, "this URL is not signed");
	size = strtoll(size_s, NULL, 10);
	exp = strtoll(exp_s, NULL, 10);
	rc = artifacts_get(r->db, &r->arena, 0, upload_id, &u);
	if (rc == ARTIFACTS_ENOTFOUND)
		return api_error(r, API_E_FORBIDDEN, NULL, "signature does not match");
	if (rc < 0)
		return rc;
	part_mac(r, upload_id, db_val(u, 0, ART_C_KEY), (int)part, size, exp, mac);
	if (!crypto_equal(mac, sig, 64))
		return api_error(r, API_E_FORBIDDEN, NULL, "signature does not match");
	if (exp < (long long)time(NULL))
		return api_error(r, API_E_FORBIDDEN, NULL, "this URL has expired");
	if (strcmp(db_val(u, 0, ART_C_STATUS), "pending") != 0)
		return api_error(r, API_E_CONFLICT, NULL, "this upload is %s",
		    db_val(u, 0, ART_C_STATUS));
	len = cl != NULL ? strtoll(cl, NULL, 10) : -1;
	if (len > size)
		return api_error(r, API_E_PAYLOAD_TOO_LARGE, NULL,
		    "part %ld is %lld bytes; this URL takes %lld", part, len, size);
	if (len != size)
		return api_invalid(r, "body", "part %ld must be %lld bytes", part, size);
	if ((in = fopencookie(r->fcgi->in, "r", io)) == NULL)
		return -1;
	rc = objstore_put_part(os, upload_id, (int)part, in, len, &etag);
	fclose(in);
	if (rc == OBJSTORE_EREFUSED || rc == OBJSTORE_ENOTFOUND)
		return api_invalid(r, "body", "%s", objstore_error(os));
	if (rc < 0) {
		log_err("storing part %ld of %s: %s", part, upload_id, objstore_error(os));
		return api_error(r, API_E_INTERNAL, NULL, "could not store the part");
	}
	api_header(r, "ETag: %s", etag);
	free(etag);
	return api_json(r, 200, json_pack("{s:i}", "part_number", (int)part));
}
