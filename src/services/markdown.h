/*
 * markdown.h - every parse of a note's Markdown, with md4c, behind bounds.
 *
 * Debian 12's md4c (0.4.8) is quadratic on some inputs: link brackets
 * whose line it finds by walking the block's lines from the first, labels
 * copied or hashed whole for every nested pair of brackets. Those fixes
 * came upstream in 0.5; here markdown_parse() first measures how much such
 * work a text can cost and, where one stretch of lines would cost more than
 * the budget, escapes its brackets so md4c treats them as text. Everything
 * else md4c does is linear in its input (checked by the fuzz target in
 * fuzz/ and the pathological inputs in tests/unit/test_markdown.c). The
 * renderer and the chunker on top bound their own output.
 */
#ifndef VAULT_SERVICES_MARKDOWN_H
#define VAULT_SERVICES_MARKDOWN_H

#include <md4c.h>
#include <stdbool.h>
#include <stddef.h>

/* GitHub's dialect (tables, strike-through, task lists, bare links). */
#define MARKDOWN_DIALECT MD_DIALECT_GITHUB

/*
 * md_parse() over text[0..n) with parser->flags, after the bounds above:
 * returns what md_parse() returns (nonzero when a callback stopped it or
 * md4c gave up). A callback stops md4c by returning a negative value: md4c
 * 0.4.8 passes only negative ones up out of nested blocks, and goes on
 * after a positive one. *tamed, when not NULL, says whether brackets were
 * escaped.
 */
int markdown_parse(const char *text, size_t n, const MD_PARSER *parser, void *userdata,
                   bool *tamed);

#endif
