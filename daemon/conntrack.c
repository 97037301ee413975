/*
 * A dump of the conntrack table, then one delete per match: the kernel
 * offers no "delete by source" request. Entries that end on their own
 * between the two are not an error.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include "conntrack.h"

struct ct_match {
	const struct addr	*v;
	size_t			 n;
	struct nf_conntrack	**hits;
	size_t			 nhits;
	size_t			 cap;
	int			 error;
};

static bool
ct_src_matches(const struct ct_match *m, const struct nf_conntrack *ct)
{
	struct addr	 a;
	size_t		 i;

	memset(&a, 0, sizeof(a));
	switch (nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO)) {
	case AF_INET:
		a.family = AF_INET;
		a.prefix = 32;
		memcpy(a.bytes, nfct_get_attr(ct, ATTR_ORIG_IPV4_SRC), 4);
		break;
	case AF_INET6:
		a.family = AF_INET6;
		a.prefix = 128;
		memcpy(a.bytes, nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC), 16);
		break;
	default:
		return false;
	}
	for (i = 0; i < m->n; i++)
		if (m->v[i].family == a.family && addr_in_network(&a, &m->v[i]))
			return true;
	return false;
}

static int
ct_dump_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct,
    void *data)
{
	struct ct_match		*m = data;
	struct nf_conntrack	**nv;

	if (!ct_src_matches(m, ct))
		return NFCT_CB_CONTINUE;
	if (m->nhits == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		if ((nv = reallocarray(m->hits, m->cap, sizeof(*nv))) == NULL) {
			m->error = ENOMEM;
			return NFCT_CB_STOP;
		}
		m->hits = nv;
	}
	if ((m->hits[m->nhits] = nfct_clone(ct)) == NULL) {
		m->error = ENOMEM;
		return NFCT_CB_STOP;
	}
	m->nhits++;
	return NFCT_CB_CONTINUE;
}

ssize_t
conntrack_kill_src(const struct addr *v, size_t n, struct diags *d)
{
	struct nfct_handle	*h;
	struct ct_match		 m;
	uint32_t		 family;
	ssize_t			 killed = 0;
	size_t			 i;
	bool			 v4 = false, v6 = false;

	for (i = 0; i < n; i++) {
		v4 |= v[i].family == AF_INET;
		v6 |= v[i].family == AF_INET6;
	}
	if (n == 0)
		return 0;
	if ((h = nfct_open(CONNTRACK, 0)) == NULL) {
		diags_add(d, NULL, "conntrack: %s", strerror(errno));
		return -1;
	}
	memset(&m, 0, sizeof(m));
	m.v = v;
	m.n = n;
	nfct_callback_register(h, NFCT_T_ALL, ct_dump_cb, &m);
	for (i = 0; i < 2 && m.error == 0; i++) {
		if ((i == 0 && !v4) || (i == 1 && !v6))
			continue;
		family = i == 0 ? AF_INET : AF_INET6;
		if (nfct_query(h, NFCT_Q_DUMP, &family) == -1 && errno != ENOENT)
			m.error = errno;
	}
	nfct_callback_unregister(h);
	for (i = 0; i < m.nhits; i++) {
		if (m.error == 0) {
			if (nfct_query(h, NFCT_Q_DESTROY, m.hits[i]) == 0)
				killed++;
			else if (errno != ENOENT)
				m.error = errno;
		}
		nfct_destroy(m.hits[i]);
	}
	free(m.hits);
	nfct_close(h);
	if (m.error != 0) {
		diags_add(d, NULL, "conntrack: %s (%zd connections ended)",
		    strerror(m.error), killed);
		return -1;
	}
	return killed;
}
