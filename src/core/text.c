/*
 * text.c - UTF-8 validation and repair, control characters and trimming.
 */
#include "core/text.h"

#include <string.h>
#include <utf8proc.h>

#include "core/mem.h"

/* Length of the well-formed UTF-8 sequence at s[0..n), n >= 1; 0 if none starts there. */
static size_t seq_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned cp, min;
	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0)
		len = 2, cp = c & 0x1F, min = 0x80;
	else if ((c & 0xF0) == 0xE0)
		len = 3, cp = c & 0x0F, min = 0x800;
	else if ((c & 0xF8) == 0xF0)
		len = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

bool text_utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0, len; i < n; i += len)
		if (!(len = seq_len((const unsigned char *)s + i, n - i)))
			return false;
	return true;
}

char *text_utf8_sanitize(const char *s)
{
	return text_utf8_sanitize_n(s, strlen(s), NULL);
}

char *text_utf8_sanitize_n(const char *s, size_t n, size_t *outlen)
{
	size_t o = 0;
	char *out = xmalloc(3 * n + 1); /* at worst every byte becomes EF BF BD */
	for (size_t i = 0; i < n;) {
		size_t len = seq_len((const unsigned char *)s + i, n - i);
		if (len) {
			memcpy(out + o, s + i, len);
			i += len, o += len;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			i++, o += 3;
		}
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return out;
}

size_t text_utf8_whole(const char *s, size_t n)
{
	/* The last lead byte among the last four: does its sequence reach the end? */
	for (size_t back = 1; back <= 4 && back <= n; back++) {
		unsigned char c = (unsigned char)s[n - back];
		if ((c & 0xC0) == 0x80)
			continue;
		size_t want = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1;
		return want > back ? n - back : n;
	}
	return n;
}

size_t text_utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t text_utf8_len(const char *s, size_t n)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			count++;
	return count;
}

bool text_has_control(const char *str, bool allow_whitespace)
{
	const unsigned char *s = (const unsigned char *)str;
	for (; *s; s++) {
		if (*s < 0x20) {
			if (allow_whitespace && (*s == '\t' || *s == '\n' || *s == '\r'))
				continue;
			return true;
		}
		if (*s == 0x7F)
			return true;
		/* C1 controls U+0080-U+009F are encoded as C2 80..C2 9F. */
		if (*s == 0xC2 && s[1] >= 0x80 && s[1] <= 0x9F)
			return true;
	}
	return false;
}

/* Byte length of the white space character at s, or 0 (also at the end of s). */
static size_t space_len(const char *s)
{
	static const char *const wide[] = {
	    "\xC2\x85", /* U+0085 NEXT LINE, not allowed as \u0085 in C */
	    "\u00A0",   "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004",
	    "\u2005",   "\u2006", "\u2007", "\u2008", "\u2009", "\u200A", "\u200B",
	    "\u2028",   "\u2029", "\u202F", "\u205F", "\u3000", "\uFEFF"};
	if (*s && strchr(" \t\n\r\f\v", *s))
		return 1;
	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
		if (strncmp(s, wide[i], strlen(wide[i])) == 0)
			return strlen(wide[i]);
	return 0;
}

char *text_trim(const char *s)
{
	size_t n, end = 0;
	while ((n = space_len(s)))
		s += n;
	/* Byte by byte through other characters: no space starts with a continuation byte. */
	for (size_t i = 0; s[i]; i += n ? n : 1)
		if (!(n = space_len(s + i)))
			end = i + 1;
	return xstrndup(s, end);
}

char *text_fold(const char *s)
{
	utf8proc_uint8_t *f = utf8proc_NFKC_Casefold((const utf8proc_uint8_t *)s);
	return f ? (char *)f : xstrdup(s);
}
