/* Memory shared by the processes of one host: a mapped file, or an
 * anonymous mapping inherited by the processes forked after it. The
 * caller lays out the region and updates it with C11 atomics; this module
 * only creates, sizes, initialises and maps it. */
#ifndef DAGY_SHM_H
#define DAGY_SHM_H

#include <stddef.h>
#include <stdint.h>

/* Maps size bytes of path (created 0600 and sized on first use), or an
 * anonymous shared mapping when path is NULL or "" or cannot be mapped
 * (logged). The region starts with a uint64_t magic: when it differs (a
 * new file, another layout) the region is zeroed and the magic written,
 * under the file's lock. Returns the region or NULL; *shared_file says
 * whether other processes can map the same one. Free with shm_unmap. */
void *shm_map(const char *path, size_t size, uint64_t magic, int *shared_file);
void shm_unmap(void *p, size_t size);

#endif
