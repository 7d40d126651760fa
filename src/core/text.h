/*
 * text.h - checks and clean-ups for text that users send.
 */
#ifndef VAULT_CORE_TEXT_H
#define VAULT_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, surrogates or NULs). */
bool text_utf8_valid(const char *s, size_t n);

/* Number of code points in valid UTF-8 s[0..n). */
size_t text_utf8_len(const char *s, size_t n);

/*
 * Whether s holds a control character (C0, DEL or C1). allow_whitespace lets
 * tab, newline and carriage return through, as note content needs.
 */
bool text_has_control(const char *s, bool allow_whitespace);

/*
 * A copy of s with every byte that does not start a well-formed UTF-8
 * sequence replaced by U+FFFD, so client bytes can go into JSON (which
 * refuses invalid UTF-8). Caller frees.
 */
char *text_utf8_sanitize(const char *s);

/* The same for s[0..n), which may hold NULs (they become U+FFFD too); *outlen gets the copy's
 * length. */
char *text_utf8_sanitize_n(const char *s, size_t n, size_t *outlen);

/*
 * The length of s[0..n) less a last character that has begun but not ended
 * (at most 3 bytes), so text that arrives in pieces can be passed on in
 * whole characters.
 */
size_t text_utf8_whole(const char *s, size_t n);

/* Writes code point cp (at most U+10FFFF) as UTF-8 into out; returns its length, 1-4. */
size_t text_utf8_encode(uint32_t cp, char out[4]);

/*
 * A copy of s without leading and trailing white space: ASCII, Unicode's
 * (U+00A0, U+2000-U+200A, U+3000, ...) and the invisible U+200B and U+FEFF,
 * so a title of only a no-break space counts as empty. Caller frees.
 */
char *text_trim(const char *s);

/*
 * s (valid UTF-8) in NFKC and case-folded, the key under which names that a
 * person would call the same meet ("Café", "CAFÉ", "Cafe\u0301"). Caller frees.
 */
char *text_fold(const char *s);

#endif
