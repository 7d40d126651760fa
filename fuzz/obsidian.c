/*
 * obsidian.c - fuzz target: an imported Markdown file read for its front
 * matter, tags, links and title (services/obsidian.c).
 *
 * Input: the file, made valid UTF-8 first, as the importer requires.
 * Properties: a warning, if any, names the front matter, and front matter
 * kept as text yields no field (the body starts at 0); the body starts within the
 * file, at most OBSIDIAN_TAGS_MAX tags and OBSIDIAN_LINKS_MAX links come
 * back, and every tag, alias, link part and the title is non-empty valid
 * UTF-8, a tag without white space around it (a list item of the
 * front matter may hold spaces, as vault's tags may). The time bound is libFuzzer's
 * -timeout (scripts/fuzz).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "fuzz.h"
#include "services/obsidian.h"

static void check_text(const char *s, const char *what)
{
	CHECK(s && *s, "an empty %s", what);
	CHECK(text_utf8_valid(s, strlen(s)), "%s \"%s\" is not valid UTF-8", what, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	char *text = text_utf8_sanitize_n((const char *)data, size, &n);
	struct obsidian_doc d;
	obsidian_parse(text, n, &d);
	CHECK(!d.warning[0] || strncmp(d.warning, "front matter", 12) == 0, "warning \"%s\"",
	      d.warning);
	CHECK(!strstr(d.warning, "kept as text") || (d.body == 0 && !d.naliases),
	      "front matter kept as text, yet read");
	CHECK(d.body <= n, "body at %zu of %zu", d.body, n);
	CHECK(d.ntags <= OBSIDIAN_TAGS_MAX && d.nlinks <= OBSIDIAN_LINKS_MAX, "%zu tags, %zu links",
	      d.ntags, d.nlinks);
	if (d.title)
		check_text(d.title, "title");
	for (size_t i = 0; i < d.ntags; i++) {
		check_text(d.tags[i], "tag");
		size_t len = strlen(d.tags[i]);
		CHECK(!isspace((unsigned char)d.tags[i][0]) &&
		          !isspace((unsigned char)d.tags[i][len - 1]),
		      "tag \"%s\"", d.tags[i]);
	}
	for (size_t i = 0; i < d.naliases; i++)
		check_text(d.aliases[i], "alias");
	for (size_t i = 0; i < d.nlinks; i++) {
		check_text(d.links[i].target, "link target");
		if (d.links[i].heading)
			check_text(d.links[i].heading, "link heading");
		if (d.links[i].block)
			check_text(d.links[i].block, "link block");
		if (d.links[i].alias)
			check_text(d.links[i].alias, "link alias");
	}
	obsidian_doc_free(&d);
	free(text);
	return 0;
}
