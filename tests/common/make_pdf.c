/*
 * make_pdf.c - PDFs written in the tests with cairo (see make_pdf.h).
 */
#include "common/make_pdf.h"

#include <cairo-pdf.h>
#include <stdlib.h>
#include <string.h>

static cairo_status_t to_mem(void *closure, const unsigned char *data, unsigned int n)
{
	struct test_pdf *pdf = closure;
	char *p = realloc(pdf->p, pdf->len + n);
	if (!p)
		return CAIRO_STATUS_NO_MEMORY;
	memcpy(p + pdf->len, data, n);
	pdf->p = p;
	pdf->len += n;
	return CAIRO_STATUS_SUCCESS;
}

struct test_pdf test_pdf_make(const char *const *pages, size_t n)
{
	struct test_pdf pdf = {0};
	cairo_surface_t *s = cairo_pdf_surface_create_for_stream(to_mem, &pdf, 595, 842);
	cairo_t *cr = cairo_create(s);
	for (size_t i = 0; i < n; i++) {
		if (pages[i]) {
			cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
			                       CAIRO_FONT_WEIGHT_NORMAL);
			cairo_set_font_size(cr, 14);
			cairo_move_to(cr, 72, 100);
			cairo_show_text(cr, pages[i]);
		} else {
			cairo_rectangle(cr, 100, 100, 200, 200);
			cairo_fill(cr);
		}
		cairo_show_page(cr);
	}
	cairo_destroy(cr);
	cairo_surface_finish(s);
	cairo_surface_destroy(s);
	return pdf;
}

void test_pdf_free(struct test_pdf *pdf)
{
	free(pdf->p);
	*pdf = (struct test_pdf){0};
}
