/*
 * bench/markdown.c - the worst Markdown a note can hold, timed: each shape
 * known to make md4c 0.4.8 (or Debian 12's cmark-gfm) quadratic or blow up
 * its output, filled to the 1 MiB note limit, through the code the server
 * runs on every write (chunker_split) and every ?format=html or preview
 * (render_markdown_html). Prints one line a shape: milliseconds and output
 * bytes of each. Build and run with bench/markdown.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "services/chunker.h"
#include "services/render.h"

#define NOTE_MAX (1024 * 1024)

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* head, then body repeated while the note stays within NOTE_MAX. */
static char *fill(const char *head, const char *body)
{
	struct buf b;
	buf_init(&b, NOTE_MAX);
	buf_adds(&b, head);
	while (buf_adds(&b, body) == VERR_OK)
		;
	return buf_steal(&b);
}

static char *wide_table(void)
{
	struct buf b;
	buf_init(&b, BUF_NOCAP);
	for (int k = 0; k < 127; k++)
		buf_printf(&b, "|h%d", k);
	buf_adds(&b, "|\n");
	for (int k = 0; k < 127; k++)
		buf_adds(&b, "|---");
	buf_adds(&b, "|\n");
	char *head = buf_steal(&b);
	char *t = fill(head, "|\n");
	free(head);
	return t;
}

int main(void)
{
	char refdef[5100];
	snprintf(refdef, sizeof(refdef), "[x]: <%05000d>\n\n", 0);
	struct {
		const char *name;
		char *md;
	} shapes[] = {
	    {"broken links ]([", fill("", "]([\n")},
	    {"shortcut refs [x] per line", fill("", "[x]\n")},
	    {"nested brackets + ref def", fill("[a]: /b\n\n", "[[[[[[[[[[]]]]]]]]]]")},
	    {"open brackets per line", fill("", "[\n")},
	    {"]([ paragraphs", fill("", "]([\n\n")},
	    {"[x] paragraphs + ref def", fill("[x]: /b\n\n", "[x]\n\n")},
	    {"[x] and \\f lines + ref def", fill("[x]: /b\n\n", "[x]\n\f\n")},
	    {"[[x]] in one list item", fill("- a\n\n", "  [[x]] [y]\n\n")},
	    {"5 KB ref used many times", fill(refdef, "[x] ")},
	    {"rows padded to 127 cols", wide_table()},
	    {"![[]() (cmark-gfm)", fill("", "![[]()")},
	    {"a.b@c. autolinks", fill("", "a.b@c.")},
	    {"nested quotes", fill("", "> ")},
	    {"nested lists", fill("", "- ")},
	    {"emphasis *a **a", fill("", "*a **a ")},
	    {"tiny sections", fill("", "###### h\n")},
	    {"1 MiB of prose", fill("# Notes\n\n", "Some plain words in a sentence. ")},
	    {"reading list", fill("# Links\n\n", "- [An article](https://example.com/a?b=c) by x\n")},
	};
	printf("%-28s %9s %10s %9s %8s\n", "shape (1 MiB)", "render ms", "html bytes", "chunk ms",
	       "chunks");
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		double t0 = now_ms();
		char *html = render_markdown_html(shapes[i].md);
		double t1 = now_ms();
		struct chunk *c;
		size_t n = chunker_split("t", shapes[i].md, &c);
		double t2 = now_ms();
		printf("%-28s %9.1f %10zu %9.1f %8zu\n", shapes[i].name, t1 - t0, strlen(html),
		       t2 - t1, n);
		free(html);
		chunks_free(c, n);
		free(shapes[i].md);
	}
	return 0;
}
