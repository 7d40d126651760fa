/*
 * pdf.c - fuzz target: an uploaded PDF read for its text in a child process
 * (services/pdf.c), the child being this target run as "pdf-text".
 *
 * Properties: whatever the bytes, and whatever poppler does with them in
 * the child (crash, spin), the answer is text or a refusal: VERR_OK with
 * valid UTF-8 of at most PDF_TEXT_MAX bytes and at most PDF_PAGES_MAX - 1
 * page breaks, or VERR_INVALID / VERR_TOO_LARGE with a detail. The time
 * bound is the child's (2 s of CPU, 4 s in all), under libFuzzer's -timeout.
 */
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "fuzz.h"
#include "services/pdf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (*argc >= 2 && strcmp((*argv)[1], "pdf-text") == 0)
		exit(pdf_text_main(*argc == 4 ? atoi((*argv)[3]) : 0));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	struct verror err = {0};
	enum verr rc = pdf_text_isolated(NULL, data, size, 2, &text, &err);
	if (rc) {
		CHECK(rc == VERR_INVALID || rc == VERR_TOO_LARGE, "code %d", rc);
		CHECK(err.detail[0], "no detail");
		return 0;
	}
	size_t n = strlen(text), breaks = 0;
	CHECK(n <= PDF_TEXT_MAX, "%zu bytes of text", n);
	CHECK(text_utf8_valid(text, n), "text not UTF-8");
	for (size_t i = 0; i < n; i++)
		breaks += text[i] == PDF_PAGE_BREAK;
	CHECK(breaks < PDF_PAGES_MAX, "%zu page breaks", breaks);
	free(text);
	return 0;
}
