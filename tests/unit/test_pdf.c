/*
 * test_pdf.c - a PDF's text: real PDFs written with cairo come back page by
 * page (a form feed between pages); a PDF of shapes only, an encrypted one
 * and bytes that are not a PDF are refused with what is wrong; read in a
 * child process, the same text arrives, and a child that spins or stalls
 * is stopped by its CPU limit or the wall clock.
 */
#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/make_pdf.h"
#include "core/buf.h"
#include "services/pdf.h"

Test(pdf, text_page_by_page)
{
	struct test_pdf b = test_pdf_make(
	    (const char *const[]){"Boiler service every October", NULL, "Ölfilter und Café"}, 3);
	char *text;
	struct verror err = {0};
	cr_assert_eq(pdf_text(b.p, b.len, &text, &err), VERR_OK, "%s", err.detail);
	char *p1 = text, *f1 = strchr(p1, '\f');
	cr_assert(f1, "no page break in \"%s\"", text);
	char *f2 = strchr(f1 + 1, '\f');
	cr_assert(f2 && !strchr(f2 + 1, '\f'), "not three pages: \"%s\"", text);
	cr_expect(strstr(p1, "Boiler service every October") < f1 && strstr(p1, "Boiler"), "%s",
	          text);
	cr_expect(f2 == f1 + 1 || strspn(f1 + 1, " \n") == (size_t)(f2 - f1 - 1),
	          "the drawing page has text: %s", text);
	cr_expect(strstr(f2, "Ölfilter und Café"), "%s", text);
	free(text);
	test_pdf_free(&b);
}

Test(pdf, refusals_say_why)
{
	char *text;
	struct verror err = {0};
	struct test_pdf shapes = test_pdf_make((const char *const[]){NULL, NULL}, 2);
	cr_expect_eq(pdf_text(shapes.p, shapes.len, &text, &err), VERR_INVALID);
	cr_expect(strstr(err.detail, "holds no text"), "%s", err.detail);
	test_pdf_free(&shapes);

	const char junk[] = "%PDF-1.4\nthis is not really a PDF\n";
	cr_expect_eq(pdf_text(junk, sizeof(junk) - 1, &text, &err), VERR_INVALID);
	cr_expect(strstr(err.detail, "not a PDF vault can read"), "%s", err.detail);
	cr_expect_eq(pdf_text("", 0, &text, &err), VERR_INVALID);

	/* Standard security with passwords we do not have. */
	static const char *const objs[] = {
	    "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
	    "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
	    "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\nendobj\n",
	    "4 0 obj\n<< /Filter /Standard /V 1 /R 2 /P -4\n"
	    "/O <0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef>\n"
	    "/U <fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210> >>\nendobj\n",
	};
	struct buf e;
	buf_init(&e, BUF_NOCAP);
	buf_adds(&e, "%PDF-1.4\n");
	size_t off[4];
	for (int i = 0; i < 4; i++) {
		off[i] = e.len;
		buf_adds(&e, objs[i]);
	}
	size_t xref = e.len;
	buf_adds(&e, "xref\n0 5\n0000000000 65535 f \n");
	for (int i = 0; i < 4; i++)
		buf_printf(&e, "%010zu 00000 n \n", off[i]);
	buf_printf(
	    &e,
	    "trailer\n<< /Size 5 /Root 1 0 R /Encrypt 4 0 R /ID [<00112233445566778899aabbccddeeff>"
	    "<00112233445566778899aabbccddeeff>] >>\nstartxref\n%zu\n%%%%EOF\n",
	    xref);
	cr_expect_eq(pdf_text(e.p, e.len, &text, &err), VERR_INVALID);
	cr_expect(strstr(err.detail, "encrypted"), "%s", err.detail);
	buf_free(&e);
}

/* The vault binary next to the unit tests (build/vault beside build/unit_tests). */
static char *vault_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 16);
	cr_assert_gt(n, 0);
	path[n] = '\0';
	strcpy(strrchr(path, '/') + 1, "vault");
	return path;
}

Test(pdf, isolated_gives_the_same_text)
{
	struct test_pdf b = test_pdf_make((const char *const[]){"First page", "Second page"}, 2);
	char *a, *c;
	struct verror err = {0};
	cr_assert_eq(pdf_text(b.p, b.len, &a, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(pdf_text_isolated(vault_exe(), b.p, b.len, 10, &c, &err), VERR_OK, "%s",
	             err.detail);
	cr_expect_str_eq(c, a);
	free(a);
	free(c);
	const char junk[] = "not a pdf";
	cr_expect_eq(pdf_text_isolated(vault_exe(), junk, sizeof(junk) - 1, 10, &c, &err),
	             VERR_INVALID);
	cr_expect(strstr(err.detail, "not a PDF vault can read"), "%s", err.detail);
	test_pdf_free(&b);
}

static char *script(const char *body)
{
	char *path = strdup("/tmp/vault-pdf-child-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	dprintf(fd, "#!/bin/sh\n%s\n", body);
	close(fd);
	chmod(path, 0700);
	return path;
}

Test(pdf, a_child_that_spins_or_stalls_is_stopped)
{
	char *text;
	struct verror err = {0};
	char *spin = script("cat >/dev/null; while :; do :; done");
	cr_expect_eq(pdf_text_isolated(spin, "x", 1, 1, &text, &err), VERR_INVALID);
	cr_expect(strstr(err.detail, "took too long"), "%s", err.detail);
	unlink(spin);
	free(spin);
	char *stall = script("exec sleep 60");
	cr_expect_eq(pdf_text_isolated(stall, "x", 1, 1, &text, &err), VERR_INVALID);
	cr_expect(strstr(err.detail, "took too long"), "%s", err.detail);
	unlink(stall);
	free(stall);
	char *crash = script("cat >/dev/null; kill -SEGV $$");
	cr_expect_eq(pdf_text_isolated(crash, "x", 1, 5, &text, &err), VERR_INVALID);
	cr_expect(strstr(err.detail, "could not be read"), "%s", err.detail);
	unlink(crash);
	free(crash);
}

struct racer {
	const char *exe;
	enum verr rc;
};

static void *race(void *p)
{
	struct racer *r = p;
	char *text;
	struct verror err;
	r->rc = pdf_text_isolated(r->exe, "x", 1, 1, &text, &err);
	return NULL;
}

Test(pdf, children_at_once_are_bounded)
{
	/* Three readers of a child that stalls for its 2 s: two run, one is told to wait. */
	char *stall = script("exec sleep 60");
	struct racer r[PDF_CHILDREN_MAX + 1];
	pthread_t t[PDF_CHILDREN_MAX + 1];
	for (int i = 0; i <= PDF_CHILDREN_MAX; i++) {
		r[i] = (struct racer){stall, VERR_OK};
		pthread_create(&t[i], NULL, race, &r[i]);
	}
	int busy = 0, ran = 0;
	for (int i = 0; i <= PDF_CHILDREN_MAX; i++) {
		pthread_join(t[i], NULL);
		busy += r[i].rc == VERR_UNAVAILABLE;
		ran += r[i].rc == VERR_INVALID;
	}
	cr_expect_eq(busy, 1);
	cr_expect_eq(ran, PDF_CHILDREN_MAX);
	unlink(stall);
	free(stall);
}
