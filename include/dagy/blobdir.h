/* A directory store of uploaded bytes: one file per key (keys are public
 * ids: letters, digits, '_'), written to a temporary name and renamed so
 * a reader never sees half a file. AI Studio keeps attachments here
 * ([ai] attachments_dir) until the S3 object store takes them over. */
#ifndef DAGY_BLOBDIR_H
#define DAGY_BLOBDIR_H

#include <stddef.h>

/* The file of key in dir; -1 for a key that is not safe as a file name. */
int blobdir_path(const char *dir, const char *key, char *out, size_t outlen);
/* Stores n bytes under key, creating dir; 0 or -1 (errno set). */
int blobdir_put(const char *dir, const char *key, const void *data, size_t n);
/* Removes key; a missing file is not an error. */
int blobdir_delete(const char *dir, const char *key);

#endif
