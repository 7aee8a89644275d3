/* The raw text of a request line that cJSON has parsed: what cJSON's values lose. */
#ifndef SCHEDLIFE_JSONTEXT_H
#define SCHEDLIFE_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Where the top-level "id" value stands in a request (so it is echoed byte for byte:
 * cJSON would round a big integer, turn 1e400 into null and cut a string at \u0000),
 * and whether any other string holds what cJSON cannot carry (\u0000) or a raw control
 * character. Only for text that cJSON has already found to be valid JSON.
 */
struct json_request_text {
	const char *id;
	size_t id_len;
	bool nul; /* \u0000 outside the id */
	bool ctl; /* a raw control character in a string */
};

void json_request_scan(const char *s, size_t len, struct json_request_text *t);
/* RFC 8259's number, strictly: cJSON also takes "01", "+1" and "1.", which are not
 * JSON and so cannot be echoed. */
bool json_number_strict(const char *s, size_t len);

#endif
