/* proxy_protocol.c — PROXY protocol v1 and v2 parsing. */
#include "hellod/proxy_protocol.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char v2_signature[12] = "\r\n\r\n\0\r\nQUIT\n";
#define V1_MAX 107

/* ---- v1: "PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n" ---- */

static bool parse_port(const char *text, uint16_t *port)
{
	char *end;
	if (!*text || (text[0] == '0' && text[1]) || strlen(text) > 5)
		return false;
	unsigned long n = strtoul(text, &end, 10);
	if (*end || n > 65535)
		return false;
	*port = (uint16_t)n;
	return true;
}

/* Fields of a TCP4/TCP6 line, split in place on single spaces. */
static int parse_v1_fields(char *line, struct hd_peer *peer)
{
	char *fields[6];
	int n = 0;
	for (char *tok = line; tok; n++) {
		if (n == 6)
			return HD_PROXY_INVALID; /* a seventh field */
		fields[n] = tok;
		tok = strchr(tok, ' ');
		if (tok)
			*tok++ = '\0';
	}
	if (n != 6)
		return HD_PROXY_INVALID;
	int family = !strcmp(fields[1], "TCP4")	  ? AF_INET
		     : !strcmp(fields[1], "TCP6") ? AF_INET6
						  : 0;
	struct hd_peer p = {.family = (uint8_t)family};
	unsigned char dst[16];
	uint16_t dst_port;
	if (!family || inet_pton(family, fields[2], p.addr) != 1 ||
	    inet_pton(family, fields[3], dst) != 1 ||
	    !parse_port(fields[4], &p.port) ||
	    !parse_port(fields[5], &dst_port))
		return HD_PROXY_INVALID;
	*peer = p;
	return 0;
}

static int parse_v1(const char *data, size_t len, struct hd_peer *peer)
{
	size_t check = len < 6 ? len : 6;
	if (memcmp(data, "PROXY ", check))
		return HD_PROXY_INVALID;
	size_t scan = len < V1_MAX ? len : V1_MAX;
	const char *crlf = memchr(data, '\r', scan);
	const char *lf = memchr(data, '\n', scan);
	if (lf && (!crlf || lf < crlf))
		return HD_PROXY_INVALID; /* a bare line feed */
	if (!crlf)
		return len >= V1_MAX ? HD_PROXY_INVALID : HD_PROXY_NEED_MORE;
	size_t line_len = (size_t)(crlf - data);
	if (line_len + 2 > len)
		return HD_PROXY_NEED_MORE;
	if (crlf[1] != '\n')
		return HD_PROXY_INVALID;
	char line[V1_MAX + 1];
	memcpy(line, data, line_len);
	line[line_len] = '\0';
	if (!strncmp(line, "PROXY UNKNOWN", 13) &&
	    (line[13] == '\0' || line[13] == ' '))
		return (int)line_len + 2;
	if (parse_v1_fields(line, peer))
		return HD_PROXY_INVALID;
	return (int)line_len + 2;
}

/* ---- v2: signature, ver/cmd, family, length, addresses, TLVs ---- */

static int parse_v2(const unsigned char *data, size_t len, struct hd_peer *peer)
{
	if (len < 16)
		return HD_PROXY_NEED_MORE;
	unsigned version = data[12] >> 4, command = data[12] & 0x0f;
	size_t body = (size_t)data[14] << 8 | data[15];
	if (version != 2 || command > 1 || 16 + body > HD_PROXY_MAX)
		return HD_PROXY_INVALID;
	if (len < 16 + body)
		return HD_PROXY_NEED_MORE;
	if (command == 0) /* LOCAL: the balancer's own health check */
		return (int)(16 + body);
	struct hd_peer p = {0};
	switch (data[13]) {
	case 0x11: /* TCP over IPv4 */
		if (body < 12)
			return HD_PROXY_INVALID;
		p.family = AF_INET;
		memcpy(p.addr, data + 16, 4);
		p.port = (uint16_t)(data[24] << 8 | data[25]);
		break;
	case 0x21: /* TCP over IPv6 */
		if (body < 36)
			return HD_PROXY_INVALID;
		p.family = AF_INET6;
		memcpy(p.addr, data + 16, 16);
		p.port = (uint16_t)(data[48] << 8 | data[49]);
		break;
	case 0x00: /* UNSPEC: keep the connection's address */
		return (int)(16 + body);
	default: /* UDP and unix sockets make no sense in front of HTTP */
		return HD_PROXY_INVALID;
	}
	*peer = p;
	return (int)(16 + body);
}

int hd_proxy_parse(const char *data, size_t len, struct hd_peer *peer)
{
	if (len == 0)
		return HD_PROXY_NEED_MORE;
	if (data[0] == '\r') {
		size_t check = len < 12 ? len : 12;
		if (memcmp(data, v2_signature, check))
			return HD_PROXY_INVALID;
		return parse_v2((const unsigned char *)data, len, peer);
	}
	return parse_v1(data, len, peer);
}
