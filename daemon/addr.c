/*
 * Addresses, ports, names and the small word tables of the rule language,
 * as text. Shared by the parser, the printer, the JSON codec and the
 * validator so that every view spells things the same way.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset.h"

static int
addr_maxlen(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : -1;
}

/* true when no bit past the prefix is set */
static bool
addr_host_bits_clear(const struct addr *a)
{
	int i, nbytes = addr_maxlen(a->family) / 8;

	for (i = a->prefix; i < nbytes * 8; i++)
		if (a->bytes[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

int
addr_parse(const char *s, struct addr *a, const char **why)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash, *p, *dummy;
	size_t n;
	int max, len;

	if (why == NULL)
		why = &dummy;
	memset(a, 0, sizeof(*a));
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(buf))
		goto notaddr;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, a->bytes) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, a->bytes) == 1)
		a->family = AF_INET6;
	else
		goto notaddr;
	max = addr_maxlen(a->family);
	a->prefix = max;
	if (slash) {
		/* digits only: no sign, no spaces, at most three of them */
		p = slash + 1;
		if (*p == '\0' || strlen(p) > 3 ||
		    strspn(p, "0123456789") != strlen(p))
			goto badlen;
		len = atoi(p);
		if (len > max)
			goto badlen;
		a->prefix = len;
	}
	if (!addr_host_bits_clear(a)) {
		/* *a keeps the address, so that callers can suggest the
		 * network that was probably meant */
		*why = "host bits are set under the prefix";
		return -1;
	}
	return 0;
notaddr:
	memset(a, 0, sizeof(*a));
	*why = "not an IPv4 or IPv6 address";
	return -1;
badlen:
	*why = a->family == AF_INET ? "prefix length must be 0-32 for IPv4" :
	    "prefix length must be 0-128 for IPv6";
	memset(a, 0, sizeof(*a));
	return -1;
}

char *
addr_format(const struct addr *a, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (len == 0)
		return buf;
	if (addr_maxlen(a->family) < 0 ||
	    inet_ntop(a->family, a->bytes, tmp, sizeof(tmp)) == NULL) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (a->prefix == addr_maxlen(a->family))
		snprintf(buf, len, "%s", tmp);
	else
		snprintf(buf, len, "%s/%d", tmp, a->prefix);
	return buf;
}

bool
addr_equal(const struct addr *a, const struct addr *b)
{
	int max = addr_maxlen(a->family);

	if (a->family != b->family || a->prefix != b->prefix)
		return false;
	if (max < 0)
		return true;
	return memcmp(a->bytes, b->bytes, (size_t)max / 8) == 0;
}

bool
addr_is_host(const struct addr *a)
{
	return addr_maxlen(a->family) > 0 &&
	    a->prefix == addr_maxlen(a->family);
}

bool
addr_in_network(const struct addr *a, const struct addr *n)
{
	int i;

	if (a->family != n->family || addr_maxlen(a->family) < 0 ||
	    a->prefix < n->prefix || n->prefix < 0)
		return false;
	for (i = 0; i < n->prefix / 8; i++)
		if (a->bytes[i] != n->bytes[i])
			return false;
	if (n->prefix % 8) {
		uint8_t mask = (uint8_t)(0xff << (8 - n->prefix % 8));

		if ((a->bytes[i] & mask) != (n->bytes[i] & mask))
			return false;
	}
	return true;
}

bool
name_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > FWCTL_NAME_MAX)
		return false;
	if (!(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') ||
	    (s[0] >= 'a' && s[0] <= 'z')))
		return false;
	/* a loop, not strspn: every rule's name is checked on every whole
	 * check, and strspn builds its table on each call */
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
		    *s == '-'))
			return false;
	return true;
}

/*
 * The kernel takes almost any byte in an interface name; we take the ones
 * people use, so that names survive the shell, JSON and nft's own syntax.
 * A trailing '*' makes a prefix match ("eth*"); a lone "*" is not allowed,
 * "any" zones say that better.
 */
bool
ifname_valid(const char *s)
{
	size_t n, body;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > FWCTL_IFNAME_MAX)
		return false;
	body = s[n - 1] == '*' ? n - 1 : n;
	if (body == 0)
		return false;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.@-") == body;
}

struct word {
	const char	*name;
	int		 value;
};

static const char *
word_name(const struct word *t, int v)
{
	for (; t->name; t++)
		if (t->value == v)
			return t->name;
	return NULL;
}

static int
word_value(const struct word *t, const char *s, int *v)
{
	if (s == NULL)
		return -1;
	for (; t->name; t++)
		if (strcmp(t->name, s) == 0) {
			*v = t->value;
			return 0;
		}
	return -1;
}

static const struct word verdicts[] = {
	{ "accept", VERDICT_ACCEPT },
	{ "drop", VERDICT_DROP },
	{ "reject", VERDICT_REJECT },
	{ NULL, 0 }
};

const char *
verdict_name(enum verdict v)
{
	return word_name(verdicts, (int)v);
}

int
verdict_parse(const char *s, enum verdict *v)
{
	int x;

	if (word_value(verdicts, s, &x) == -1)
		return -1;
	*v = (enum verdict)x;
	return 0;
}

static const struct word set_types[] = {
	{ "ipv4", SET_IPV4 },
	{ "ipv6", SET_IPV6 },
	{ "port", SET_PORT },
	{ NULL, 0 }
};

const char *
set_type_name(enum set_type t)
{
	return word_name(set_types, (int)t);
}

int
set_type_parse(const char *s, enum set_type *t)
{
	int x;

	if (word_value(set_types, s, &x) == -1)
		return -1;
	*t = (enum set_type)x;
	return 0;
}

static const struct word nat_kinds[] = {
	{ "masquerade", NAT_MASQUERADE },
	{ "snat", NAT_SNAT },
	{ "forward", NAT_FORWARD },
	{ NULL, 0 }
};

const char *
nat_kind_name(enum nat_kind k)
{
	return word_name(nat_kinds, (int)k);
}

/* the first name of a value is the canonical one */
static const struct word protos[] = {
	{ "tcp", IPPROTO_TCP },
	{ "udp", IPPROTO_UDP },
	{ "sctp", IPPROTO_SCTP },
	{ "icmp", IPPROTO_ICMP },
	{ "icmpv6", IPPROTO_ICMPV6 },
	{ "ipv6-icmp", IPPROTO_ICMPV6 },
	{ NULL, 0 }
};

const char *
proto_name(int proto)
{
	return word_name(protos, proto);
}

int
proto_parse(const char *s, int *proto)
{
	return word_value(protos, s, proto);
}

bool
service_name_valid(const char *s)
{
	size_t i;

	if (!isalpha((unsigned char)s[0]) || strlen(s) > FWCTL_SERVICE_MAX)
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("-_.+", s[i]) == NULL)
			return false;
	return true;
}

/* getservbyname_r: the daemon serves requests from more than one thread. */
static int
service_lookup(const char *name, const char *proto, uint16_t *port)
{
	struct servent se, *res = NULL;
	char buf[4096];

	if (getservbyname_r(name, proto, &se, buf, sizeof(buf), &res) != 0 ||
	    res == NULL)
		return -1;
	*port = ntohs((uint16_t)res->s_port);
	return 0;
}

int
service_parse(const char *s, int proto, uint16_t *port)
{
	const char *pn = proto_name(proto);

	if (!service_name_valid(s))
		return -1;
	if (pn != NULL && service_lookup(s, pn, port) == 0)
		return 0;
	return service_lookup(s, NULL, port);
}

static const struct word limit_units[] = {
	{ "second", LIMIT_SECOND },
	{ "minute", LIMIT_MINUTE },
	{ "hour", LIMIT_HOUR },
	{ "day", LIMIT_DAY },
	{ NULL, 0 }
};

const char *
limit_unit_name(enum limit_unit u)
{
	return word_name(limit_units, (int)u);
}

int
limit_unit_parse(const char *s, enum limit_unit *u)
{
	int x;

	if (word_value(limit_units, s, &x) == -1)
		return -1;
	*u = (enum limit_unit)x;
	return 0;
}

/* nft's names first (canonical), then the spellings people also write */
static const struct word icmp_types[] = {
	{ "echo-reply", 0 },
	{ "destination-unreachable", 3 },
	{ "source-quench", 4 },
	{ "redirect", 5 },
	{ "echo-request", 8 },
	{ "router-advertisement", 9 },
	{ "router-solicitation", 10 },
	{ "time-exceeded", 11 },
	{ "parameter-problem", 12 },
	{ "timestamp-request", 13 },
	{ "timestamp-reply", 14 },
	{ "info-request", 15 },
	{ "info-reply", 16 },
	{ "address-mask-request", 17 },
	{ "address-mask-reply", 18 },
	{ NULL, 0 }
};

static const struct word icmp6_types[] = {
	{ "destination-unreachable", 1 },
	{ "packet-too-big", 2 },
	{ "time-exceeded", 3 },
	{ "parameter-problem", 4 },
	{ "echo-request", 128 },
	{ "echo-reply", 129 },
	{ "mld-listener-query", 130 },
	{ "mld-listener-report", 131 },
	{ "mld-listener-done", 132 },
	{ "nd-router-solicit", 133 },
	{ "nd-router-advert", 134 },
	{ "nd-neighbor-solicit", 135 },
	{ "nd-neighbor-advert", 136 },
	{ "nd-redirect", 137 },
	{ "router-renumbering", 138 },
	{ "ind-neighbor-solicit", 141 },
	{ "ind-neighbor-advert", 142 },
	{ "mld2-listener-report", 143 },
	/* aliases */
	{ "mld-listener-reduction", 132 },
	{ "router-solicitation", 133 },
	{ "router-advertisement", 134 },
	{ "neighbor-solicitation", 135 },
	{ "neighbour-solicitation", 135 },
	{ "neighbor-advertisement", 136 },
	{ "neighbour-advertisement", 136 },
	{ "redirect", 137 },
	{ NULL, 0 }
};

const char *
icmp_type_name(int proto, uint8_t type)
{
	if (proto == IPPROTO_ICMP)
		return word_name(icmp_types, type);
	if (proto == IPPROTO_ICMPV6)
		return word_name(icmp6_types, type);
	return NULL;
}

int
icmp_type_parse(int proto, const char *s, uint8_t *type)
{
	int x;

	if (proto == IPPROTO_ICMP) {
		if (word_value(icmp_types, s, &x) == -1)
			return -1;
	} else if (proto == IPPROTO_ICMPV6) {
		if (word_value(icmp6_types, s, &x) == -1)
			return -1;
	} else
		return -1;
	*type = (uint8_t)x;
	return 0;
}

static const struct word ctstates[] = {
	{ "invalid", CTSTATE_INVALID },
	{ "established", CTSTATE_ESTABLISHED },
	{ "related", CTSTATE_RELATED },
	{ "new", CTSTATE_NEW },
	{ NULL, 0 }
};

unsigned
ctstate_parse(const char *s)
{
	int x;

	if (word_value(ctstates, s, &x) == -1)
		return 0;
	return (unsigned)x;
}

const char *
ctstate_name(unsigned bit)
{
	return word_name(ctstates, (int)bit);
}

static const struct {
	const char	*unit;
	uint64_t	 ms;
} duration_units[] = {
	/* longest spelling first so that "ms" is not read as "m" */
	{ "ms", 1 },
	{ "d", 86400000 },
	{ "h", 3600000 },
	{ "m", 60000 },
	{ "s", 1000 },
};

#define NDURATION_UNITS	(sizeof(duration_units) / sizeof(duration_units[0]))

int
duration_parse(const char *s, uint64_t *ms)
{
	uint64_t total = 0, n, mul, last = UINT64_MAX;
	size_t i, len;

	if (s == NULL || *s == '\0')
		goto bad;
	while (*s) {
		if (*s < '0' || *s > '9')
			goto bad;
		for (n = 0; *s >= '0' && *s <= '9'; s++) {
			if (n > (UINT64_MAX - 9) / 10)
				goto range;
			n = n * 10 + (uint64_t)(*s - '0');
		}
		for (i = 0; i < NDURATION_UNITS; i++) {
			len = strlen(duration_units[i].unit);
			if (strncmp(s, duration_units[i].unit, len) == 0)
				break;
		}
		if (i == NDURATION_UNITS)
			goto bad;
		s += len;
		mul = duration_units[i].ms;
		/* each unit once, the largest first: 1h1h or 30m1h is more
		 * likely a typo than a sum */
		if (mul >= last)
			goto bad;
		last = mul;
		if (n > UINT64_MAX / mul || total > UINT64_MAX - n * mul)
			goto range;
		total += n * mul;
	}
	*ms = total;
	return 0;
bad:
	errno = EINVAL;
	return -1;
range:
	errno = ERANGE;
	return -1;
}

char *
duration_format(uint64_t ms, char *buf, size_t len)
{
	static const size_t order[] = { 1, 2, 3, 4, 0 };	/* d h m s ms */
	size_t i, off = 0;
	uint64_t n, unit;
	int r;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		unit = duration_units[order[i]].ms;
		if ((n = ms / unit) == 0)
			continue;
		ms -= n * unit;
		r = snprintf(buf + off, len - off, "%llu%s",
		    (unsigned long long)n, duration_units[order[i]].unit);
		if (r < 0 || (size_t)r >= len - off)
			break;
		off += (size_t)r;
	}
	return buf;
}
