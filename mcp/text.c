/*-------------------------------------------------------------------------
 *
 * text.c
 *		UTF-8 and string helpers of nadia-mcp.
 *
 * Whatever nadia-mcp writes must stay valid UTF-8 JSON, including when it
 * quotes what a client sent: jsonrpc.c refuses a line that is not UTF-8,
 * and every file that quotes client text (an unknown method or tool
 * name, an argument name) or cuts a long value cuts it on a character
 * boundary with utf8_prefix().  These helpers use nothing else of the
 * program, so that every file may use them.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/*
 * Strict UTF-8 check (no overlong forms, no surrogates, nothing above
 * U+10FFFF, no NUL).  cJSON copies string bytes as they are, so without
 * this an id made of invalid bytes would be echoed into our answer and
 * break the client's parser.
 */
bool
utf8_valid(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		int			n;
		uint32_t	cp;

		if (c == 0)
			return false;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
		{
			n = 1;
			cp = c & 0x1F;
		}
		else if (c >= 0xE0 && c <= 0xEF)
		{
			n = 2;
			cp = c & 0x0F;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			n = 3;
			cp = c & 0x07;
		}
		else
			return false;
		if (i + n >= len)
			return false;	/* truncated sequence */
		for (int k = 1; k <= n; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
			cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

/*
 * Length in bytes of the longest prefix of s that has at most max bytes
 * and does not cut a UTF-8 sequence, so that quoting client text in an
 * error message keeps the answer valid UTF-8.
 */
size_t
utf8_prefix(const char *s, size_t max)
{
	size_t		len = strlen(s);

	if (len <= max)
		return len;
	len = max;
	while (len > 0 && (((unsigned char) s[len]) & 0xC0) == 0x80)
		len--;
	return len;
}

/* number of code points of a valid UTF-8 string */
size_t
utf8_chars(const char *s)
{
	size_t		n = 0;

	for (; *s; s++)
		if ((((unsigned char) *s) & 0xC0) != 0x80)
			n++;
	return n;
}

/* A malloc'd formatted string, or NULL when out of memory. */
char *
text_printf(const char *fmt,...)
{
	va_list		ap;
	char	   *out;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(out, n + 1, fmt, ap);
	va_end(ap);
	return out;
}
