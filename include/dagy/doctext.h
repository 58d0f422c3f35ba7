/* The text of an uploaded document: PDF through poppler-utils' pdftotext,
 * DOCX and PPTX from their XML (unzip -p), CSV, TXT, MD, JSON and YAML as
 * they are (UTF-8 required). Child processes run with a time limit. */
#ifndef DAGY_DOCTEXT_H
#define DAGY_DOCTEXT_H

#include <stddef.h>

/* "pdf", "docx", … for a supported file name (by extension, any case),
 * or NULL; images and everything else are refused. */
const char *doctext_kind(const char *filename);
/* "pdf, docx, pptx, csv, txt, md, json, yaml". */
const char *doctext_kinds(void);
/* The text of the file at path of kind, at most max bytes (cut at a
 * character boundary, *truncated set): 0 with *out (malloc'd) and *len,
 * or -1 with err saying why. */
int doctext_extract(const char *path, const char *kind, size_t max,
    int timeout_seconds, char **out, size_t *len, int *truncated,
    char *err, size_t errlen);

#endif
