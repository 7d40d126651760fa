/*
 * make_pdf.h - PDFs written in the tests with cairo, one page per text.
 */
#ifndef VAULT_TESTS_MAKE_PDF_H
#define VAULT_TESTS_MAKE_PDF_H

#include <stddef.h>

struct test_pdf {
	char *p;
	size_t len;
};

/* A PDF with one page per text (NULL: a page with a drawn square only, no text). */
struct test_pdf test_pdf_make(const char *const *pages, size_t n);
void test_pdf_free(struct test_pdf *pdf);

#endif
