/*
 * The framing of chan.h.  A frame is struct chan_hdr and its payload, sent
 * with one sendmsg (a passed fd rides on its first byte) and read back in
 * two steps: the header, checked, then exactly its payload.  Fields are
 * u32/u64 in host order (both ends are this binary) and strings/bytes as
 * a u32 length (CHAN_ABSENT for NULL), the bytes and a NUL, so a reader
 * hands out pointers into the frame without copying.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"

#define CHAN_MAGIC	0x6677u		/* "fw" */
#define CHAN_ABSENT	UINT32_MAX

struct chan_hdr {
	uint16_t	 magic;
	uint16_t	 type;
	uint32_t	 len;
	uint64_t	 id;
};

void
chan_buf_init(struct chan_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
chan_buf_free(struct chan_buf *b)
{
	free(b->p);
	chan_buf_init(b);
}

static char *
chan_room(struct chan_buf *b, size_t n)
{
	size_t	 cap;
	char	*np;

	if (b->oom)
		return NULL;
	if (n > CHAN_REPLY_MAX || b->len > CHAN_REPLY_MAX - n) {
		b->oom = true;
		return NULL;
	}
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->oom = true;
			return NULL;
		}
		b->p = np;
		b->cap = cap;
	}
	np = b->p + b->len;
	b->len += n;
	return np;
}

void
chan_put_u32(struct chan_buf *b, uint32_t v)
{
	char	*p = chan_room(b, sizeof(v));

	if (p != NULL)
		memcpy(p, &v, sizeof(v));
}

void
chan_put_u64(struct chan_buf *b, uint64_t v)
{
	char	*p = chan_room(b, sizeof(v));

	if (p != NULL)
		memcpy(p, &v, sizeof(v));
}

void
chan_put_bytes(struct chan_buf *b, const void *s, size_t n)
{
	char	*p;

	if (n >= CHAN_ABSENT) {
		b->oom = true;
		return;
	}
	chan_put_u32(b, (uint32_t)n);
	if ((p = chan_room(b, n + 1)) == NULL)
		return;
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
}

void
chan_put_str(struct chan_buf *b, const char *s)
{
	if (s == NULL)
		chan_put_u32(b, CHAN_ABSENT);
	else
		chan_put_bytes(b, s, strlen(s));
}

int
chan_send(int sock, uint32_t type, uint64_t id, const struct chan_buf *b,
    int fd)
{
	struct chan_hdr	 h;
	struct iovec	 iov[2];
	struct msghdr	 mh;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr	*c;
	size_t		 left, n;
	ssize_t		 w;
	int		 niov;

	if (b != NULL && b->oom) {
		errno = ENOMEM;
		return -1;
	}
	memset(&h, 0, sizeof(h));
	h.magic = CHAN_MAGIC;
	h.type = (uint16_t)type;
	h.len = b != NULL ? (uint32_t)b->len : 0;
	h.id = id;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = b != NULL ? b->p : NULL;
	iov[1].iov_len = h.len;
	niov = h.len ? 2 : 1;
	left = sizeof(h) + h.len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)niov;
	if (fd != -1) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (left > 0) {
		w = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		/* the fd went with the first byte */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		left -= (size_t)w;
		/* step over what went out */
		while (w > 0 && mh.msg_iovlen > 0) {
			n = mh.msg_iov->iov_len;
			if ((size_t)w < n) {
				mh.msg_iov->iov_base = (char *)
				    mh.msg_iov->iov_base + w;
				mh.msg_iov->iov_len -= (size_t)w;
				w = 0;
			} else {
				w -= (ssize_t)n;
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	return 0;
}

/* Exactly n bytes; 0 at the end of the stream before any, -1 otherwise. */
static int
chan_read_all(int sock, void *buf, size_t n, int *fd)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct cmsghdr	*c;
	size_t		 got = 0, k, i;
	ssize_t		 r;
	int		 fds[4];

	while (got < n) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = (char *)buf + got;
		iov.iov_len = n - got;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 && got == 0)
				return 0;
			if (r == 0)
				errno = EPROTO;
			return -1;
		}
		for (c = CMSG_FIRSTHDR(&mh); c != NULL;
		    c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (k > 4)
				k = 4;
			memcpy(fds, CMSG_DATA(c), k * sizeof(int));
			/* one fd per frame, on its first byte: any other
			 * is closed, never used */
			for (i = 0; i < k; i++) {
				if (fd != NULL && *fd == -1 && got == 0 &&
				    i == 0)
					*fd = fds[i];
				else
					close(fds[i]);
			}
		}
		got += (size_t)r;
	}
	return 1;
}

int
chan_recv(int sock, struct chan_msg *m, size_t max)
{
	struct chan_hdr	 h;
	int		 rv;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if ((rv = chan_read_all(sock, &h, sizeof(h), &m->fd)) <= 0)
		return rv;
	if (h.magic != CHAN_MAGIC || h.type == 0 || h.type >= CHAN_TYPE_MAX ||
	    h.len > max) {
		chan_msg_free(m);
		errno = EPROTO;
		return -1;
	}
	m->type = h.type;
	m->id = h.id;
	m->len = h.len;
	if ((m->p = malloc(h.len + 1)) == NULL) {
		chan_msg_free(m);
		return -1;
	}
	if (h.len > 0 && chan_read_all(sock, m->p, h.len, NULL) != 1) {
		chan_msg_free(m);
		errno = EPROTO;
		return -1;
	}
	m->p[h.len] = '\0';
	return 1;
}

void
chan_msg_free(struct chan_msg *m)
{
	free(m->p);
	m->p = NULL;
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
}

static const char *
chan_take(struct chan_msg *m, size_t n)
{
	const char	*p;

	if (m->bad || n > m->len - m->off) {
		m->bad = true;
		return NULL;
	}
	p = m->p + m->off;
	m->off += n;
	return p;
}

bool
chan_get_u32(struct chan_msg *m, uint32_t *v)
{
	const char	*p = chan_take(m, sizeof(*v));

	if (p == NULL)
		return false;
	memcpy(v, p, sizeof(*v));
	return true;
}

bool
chan_get_u64(struct chan_msg *m, uint64_t *v)
{
	const char	*p = chan_take(m, sizeof(*v));

	if (p == NULL)
		return false;
	memcpy(v, p, sizeof(*v));
	return true;
}

bool
chan_get_bytes(struct chan_msg *m, const char **out, size_t *len, size_t max)
{
	uint32_t	 n;
	const char	*p;

	*out = NULL;
	*len = 0;
	if (!chan_get_u32(m, &n))
		return false;
	if (n == CHAN_ABSENT)
		return true;
	if (n > max || (p = chan_take(m, (size_t)n + 1)) == NULL ||
	    p[n] != '\0') {
		m->bad = true;
		return false;
	}
	*out = p;
	*len = n;
	return true;
}

bool
chan_get_str(struct chan_msg *m, const char **s, size_t max)
{
	size_t	 len;

	if (!chan_get_bytes(m, s, &len, max))
		return false;
	if (*s != NULL && memchr(*s, '\0', len) != NULL) {
		m->bad = true;
		*s = NULL;
		return false;
	}
	return true;
}

bool
chan_done(struct chan_msg *m)
{
	return !m->bad && m->off == m->len;
}
