/*
 * pdf.h - the text of a PDF, page by page, with poppler (libpoppler-glib).
 *
 * poppler is a large parser whose work on a hostile file we cannot bound
 * from outside its calls, so an upload is read in a child process (`vault
 * pdf-text`, spawned from /proc/self/exe) under a CPU, memory and wall-time
 * limit: a file that hangs or exhausts poppler costs that child only.
 */
#ifndef VAULT_SERVICES_PDF_H
#define VAULT_SERVICES_PDF_H

#include <stddef.h>

#include "core/err.h"

#define PDF_BYTES_MAX    (64 * 1024 * 1024) /* a larger file is refused before reading */
#define PDF_PAGES_MAX    2000
#define PDF_TEXT_MAX     (1024 * 1024) /* bytes of text, as a note's content */
#define PDF_PAGE_BREAK   '\f'          /* between pages in the text */
#define PDF_CHILDREN_MAX 2             /* children at once: more wait (503, Retry-After) */

/*
 * The text of data[0..n) in this process: pages joined by PDF_PAGE_BREAK
 * (form feeds inside a page's text removed), *text valid UTF-8 the caller
 * frees. VERR_INVALID for a file that is not a readable PDF, is encrypted,
 * holds no text (a scan), has more than PDF_PAGES_MAX pages; VERR_TOO_LARGE
 * past PDF_BYTES_MAX bytes or PDF_TEXT_MAX bytes of text.
 */
enum verr pdf_text(const void *data, size_t n, char **text, struct verror *err);

/*
 * pdf_text() in a child process running `exe pdf-text --cpu N` (exe NULL:
 * /proc/self/exe), which limits itself to cpu_seconds of CPU and 1 GiB of
 * memory before reading; killed when twice cpu_seconds of wall time have
 * passed (VERR_INVALID: "took too long"). At most PDF_CHILDREN_MAX run at
 * once in the process; past that VERR_UNAVAILABLE with a retry time.
 */
enum verr pdf_text_isolated(const char *exe, const void *data, size_t n, int cpu_seconds,
                            char **text, struct verror *err);

/*
 * `vault pdf-text [--cpu N]`: a PDF on stdin, its text on stdout; exit 1
 * (refused) or 2 (too large) with the reason on stdout, 3 if the limits
 * could not be set. With cpu_seconds > 0 it limits itself first.
 */
int pdf_text_main(int cpu_seconds);

#endif
