/* The raw text of a request line that cJSON has parsed: what cJSON's values lose. */
#include "jsontext.h"

#include <string.h>

static size_t
skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	return i;
}

/* s[i] opens a string: the index past its closing quote. */
static size_t
skip_string(const char *s, size_t len, size_t i, bool *nul, bool *ctl)
{
	for (i++; i < len && s[i] != '"'; i++) {
		if ((unsigned char)s[i] < 0x20)
			*ctl = true;
		if (s[i] == '\\') {
			if (len - i > 5 && memcmp(s + i + 1, "u0000", 5) == 0)
				*nul = true;
			i++;
		}
	}
	return i + 1;
}

/* s[i] starts a value: the index past it. */
static size_t
skip_value(const char *s, size_t len, size_t i, bool *nul, bool *ctl)
{
	int depth = 0;

	if (i < len && s[i] == '"')
		return skip_string(s, len, i, nul, ctl);
	if (i < len && (s[i] == '{' || s[i] == '[')) {
		while (i < len) {
			if (s[i] == '"') {
				i = skip_string(s, len, i, nul, ctl);
				continue;
			}
			if (s[i] == '{' || s[i] == '[')
				depth++;
			else if (s[i] == '}' || s[i] == ']')
				depth--;
			i++;
			if (depth == 0)
				break;
		}
		return i;
	}
	while (i < len && s[i] != '\0' && strchr(",}] \t\r\n", s[i]) == NULL)
		i++;
	return i;
}

/* RFC 8259's number, strictly: cJSON also takes "01", "+1" and "1.", which are not JSON
 * and so cannot be echoed. */
bool
json_number_strict(const char *s, size_t len)
{
	size_t i = 0, d;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0') {
		i++;
	} else {
		for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d || s[d] == '0')
			return false;
	}
	if (i < len && s[i] == '.') {
		for (d = ++i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	return i == len;
}

void
json_request_scan(const char *s, size_t len, struct json_request_text *t)
{
	size_t i = skip_ws(s, len, 0) + 1, key, key_end, vstart;
	bool id_nul = false;

	memset(t, 0, sizeof(*t));
	for (;;) {
		i = skip_ws(s, len, i);
		if (i >= len || s[i] != '"')
			return;
		key = i;
		key_end = i = skip_string(s, len, i, &t->nul, &t->ctl);
		i = skip_ws(s, len, i) + 1; /* the ':' */
		vstart = i = skip_ws(s, len, i);
		if (key_end - key == 4 && memcmp(s + key, "\"id\"", 4) == 0 && t->id == NULL) {
			i = skip_value(s, len, i, &id_nul, &t->ctl);
			t->id = s + vstart;
			t->id_len = i - vstart;
		} else {
			i = skip_value(s, len, i, &t->nul, &t->ctl);
		}
		i = skip_ws(s, len, i);
		if (i >= len || s[i] != ',')
			return;
		i++;
	}
}
