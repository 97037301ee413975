/*
 * Serving the REST API in fwctld (api_int.h): the listeners it opens, the
 * HTTP front it has started and started again (privsep.h), and the
 * requests the front hands over the channel (chan.h): a head, kept until
 * its body comes, then run by api.c's handlers; events to the front.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "api_int.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "trust.h"
#include "ui.h"

static void	api_tick(void *);

#ifndef FWCTL_UI_DIR
#define FWCTL_UI_DIR	"/usr/local/share/fwctl/ui"
#endif

/* ---- requests from the front ---- */

static void
api_req_free(struct api_req *r)
{
	int	 i;

	if (r == NULL)
		return;
	for (i = 0; i < API_MAX_ARGS; i++)
		free(r->args[i]);
	free(r->early_detail);
	free(r->allow);
	json_decref(r->json);
	free(r->text);
	if (r->fd != -1)
		close(r->fd);
	chan_msg_free(&r->head);
	chan_msg_free(&r->bodymsg);
	free(r);
}

/* The head's fields, read with every length checked; false: a frame
 * that does not read (the front is not well). */
static bool
api_read_head(struct api_req *r)
{
	struct chan_msg	*m = &r->head;
	uint32_t	 tcp, nq, i;
	const char	*method, *url;

	if (!chan_get_u32(m, &tcp) || !chan_get_str(m, &method, 64) ||
	    !chan_get_str(m, &url, FRONT_URL_MAX) || method == NULL ||
	    url == NULL || !chan_get_u32(m, &nq) ||
	    nq > FRONT_QUERY_MAX + 1)
		return false;
	r->tcp = tcp != 0;
	r->too_many_args = nq > FRONT_QUERY_MAX;
	for (i = 0; i < nq && !r->too_many_args; i++) {
		if (!chan_get_str(m, &r->qkey[i], FRONT_URL_MAX) ||
		    !chan_get_str(m, &r->qval[i], FRONT_URL_MAX) ||
		    r->qkey[i] == NULL)
			return false;
		r->nq++;
	}
	if (!chan_get_str(m, &r->h_auth, FRONT_HEADERS_MAX) ||
	    !chan_get_str(m, &r->h_if_match, FRONT_HEADERS_MAX) ||
	    !chan_get_str(m, &r->h_accept, FRONT_HEADERS_MAX) ||
	    !chan_get_str(m, &r->h_last_event, FRONT_HEADERS_MAX) ||
	    !chan_get_str(m, &r->h_ctype, FRONT_HEADERS_MAX) ||
	    !chan_done(m))
		return false;
	/* only the socket's connections come with one */
	if (r->tcp && r->fd != -1) {
		close(r->fd);
		r->fd = -1;
	}
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->url, sizeof(r->url), "%s", url);
	return true;
}

static struct api_req **
api_pending_find(struct api *api, uint64_t id)
{
	struct api_pending	*p;

	for (p = api->pending; p != NULL; p = p->next)
		if (p->r->id == id)
			return &p->r;
	return NULL;
}

static void
api_pending_drop(struct api *api, uint64_t id)
{
	struct api_pending	**pp, *p;

	for (pp = &api->pending; (p = *pp) != NULL; pp = &p->next)
		if (p->r->id == id) {
			*pp = p->next;
			api_req_free(p->r);
			free(p);
			api->npending--;
			return;
		}
}

/* A head: refused now, refused once its body is in, or kept until its
 * body comes. */
static bool
api_head(struct api *api, struct chan_msg *m)
{
	struct api_pending	*p;
	struct api_req		*r;
	struct chan_buf		 b;

	if (api_pending_find(api, m->id) != NULL ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		return false;
	r->api = api;
	r->id = m->id;
	r->head = *m;
	r->fd = m->fd;
	m->p = NULL;
	m->fd = -1;
	r->bodymsg.fd = -1;
	r->limit = API_BODY_MAX;
	if (!api_read_head(r)) {
		api_req_free(r);
		return false;
	}
	if (api->npending >= API_PENDING_MAX)
		api_early(r, 503, "too many requests at once; retry later");
	else
		api_first(r);
	if (r->fd != -1) {
		close(r->fd);
		r->fd = -1;
	}
	if (r->early) {
		r->retry_after = r->early == 503;
		/* refusals of who asks are heard at once; the others once
		 * the body is in, so that a client still sending one reads
		 * its reply */
		api_send_early(r, r->early != 401 && r->early != 403 &&
		    r->early != 503);
		api_req_free(r);
		return true;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		api_req_free(r);
		return false;
	}
	p->r = r;
	p->next = api->pending;
	api->pending = p;
	api->npending++;
	chan_buf_init(&b);
	chan_put_u64(&b, r->limit);
	chan_put_str(&b, r->route->path);
	chan_put_u64(&b, engine_generation(api->engine));
	api_front_send(api, CHAN_GO, r->id, &b);
	chan_buf_free(&b);
	return true;
}

/* The body of a head let through: the request runs. */
static bool
api_body(struct api *api, struct chan_msg *m)
{
	struct api_req	**rp, *r;
	const char	*body;
	size_t		 len, sent;

	if ((rp = api_pending_find(api, m->id)) == NULL)
		return true;	/* its client went */
	r = *rp;
	if (!chan_get_bytes(m, &body, &len, r->limit) || !chan_done(m) ||
	    body == NULL) {
		/* over the limit the front was told: it is not well */
		return false;
	}
	r->bodymsg = *m;
	m->p = NULL;
	m->fd = -1;
	r->body = (char *)(uintptr_t)body;
	r->len = len;
	if ((r->route->flags & API_BODY) && r->len == 0)
		api_problem(r, 400, NULL, "the request needs a body");
	else if (!(r->route->flags & API_MUTATE) || (api_if_match(r) &&
	    api_dry_run(r)))
		r->route->handler(r);
	sent = api_send(r, false);
	api_pending_drop(api, r->id);
	/* with the request's body gone too; after a body or a reply this
	 * big, its parsing, checking or encoding freed a lot even when
	 * nothing changed */
	if (len >= API_TRIM_BODY || sent >= API_TRIM_BODY)
		malloc_trim(0);
	else
		engine_trim(api->engine);
	return true;
}

/* A line the front logs, as the daemon's: printable only. */
static bool
api_front_log(struct chan_msg *m)
{
	uint32_t	 level;
	const char	*msg;
	char		 line[512];
	size_t		 i;

	if (!chan_get_u32(m, &level) || !chan_get_str(m, &msg, 4096) ||
	    !chan_done(m) || msg == NULL)
		return false;
	snprintf(line, sizeof(line), "%s", msg);
	for (i = 0; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (level <= LOG_WARNING)
		log_warnx("front: %s", line);
	else if (level == LOG_DEBUG)
		log_debug("front: %s", line);
	else
		log_info("front: %s", line);
	return true;
}

/* ---- the front's life ---- */

/* A frame to the front, if it is up; a front that does not read within
 * API_SEND_SECS is stuck, and is stopped (and started again). */
void
api_front_send(struct api *api, uint32_t type, uint64_t id,
    const struct chan_buf *b)
{
	pthread_mutex_lock(&api->send_mtx);
	if (api->chan != -1 && chan_send(api->chan, type, id, b, -1) == -1) {
		log_warn("the HTTP front (pid %d) does not take a message",
		    (int)api->front_pid);
		/* the back thread finds the end and starts another */
		(void)shutdown(api->chan, SHUT_RDWR);
	}
	pthread_mutex_unlock(&api->send_mtx);
}

struct api_fwd {
	struct api	*api;
	uint64_t	 id;		/* that one, or 0: all */
};

static void
api_forward_one(void *arg, uint64_t id, const char *text, size_t len)
{
	struct api_fwd	*f = arg;
	struct chan_buf	 b;

	if (f->id != 0 && id != f->id)
		return;
	chan_buf_init(&b);
	chan_put_bytes(&b, text, len);
	api_front_send(f->api, CHAN_EVENT, id, &b);
	chan_buf_free(&b);
}

/* What the front needs to serve: sent first, once. */
static int
api_front_config(struct api *api, int chan)
{
	struct chan_buf	 b;
	size_t		 i;
	int		 rv;

	chan_buf_init(&b);
	chan_put_u32(&b, api->tcp_fd != -1);
	chan_put_u32(&b, (uint32_t)api->front_uid);
	chan_put_u32(&b, (uint32_t)api->front_gid);
	chan_put_str(&b, api->front_root);
	chan_put_u32(&b, api->threads);
	chan_put_u32(&b, api->timeout);
	chan_put_u32(&b, api->conn_limit);
	chan_put_u32(&b, (uint32_t)api->log_level);
	chan_put_str(&b, api->cert);
	chan_put_str(&b, api->key);
	chan_put_str(&b, api->ui_dir);
	chan_put_u32(&b, (uint32_t)api->ncors);
	for (i = 0; i < api->ncors; i++)
		chan_put_str(&b, api->cors[i]);
	rv = chan_send(chan, CHAN_CONFIG, 0, &b, -1);
	if (b.p != NULL)
		explicit_bzero(b.p, b.len);
	chan_buf_free(&b);
	return rv;
}

static int
api_front_start(struct api *api)
{
	struct api_fwd	 f = { api, 0 };
	struct timeval	 tv = { API_SEND_SECS, 0 };
	pid_t		 pid;
	int		 chan;

	if ((pid = privsep_spawn(&api->starter, &chan)) == -1)
		return -1;
	(void)setsockopt(chan, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (api_front_config(api, chan) == -1) {
		/* it goes when it finds its channel closed */
		close(chan);
		return -1;
	}
	/* the events kept, before any new one: in order */
	pthread_mutex_lock(&api->ev_mtx);
	pthread_mutex_lock(&api->send_mtx);
	if (__atomic_load_n(&api->stopping, __ATOMIC_ACQUIRE)) {
		/* api_stop has looked for a channel to shut already */
		pthread_mutex_unlock(&api->send_mtx);
		pthread_mutex_unlock(&api->ev_mtx);
		close(chan);
		errno = ECANCELED;
		return -1;
	}
	api->chan = chan;
	api->front_pid = pid;
	pthread_mutex_unlock(&api->send_mtx);
	events_each(api->events, api_forward_one, &f);
	pthread_mutex_unlock(&api->ev_mtx);
	return 0;
}

/* The front ended (or broke the format): it goes, with every request it
 * held.  Closing its channel is what ends it: it leaves when it reads
 * the end (the starter, its parent, tells the log how it ended). */
static void
api_front_end(struct api *api)
{
	struct api_pending	*p;
	pid_t			 pid = api->front_pid;

	pthread_mutex_lock(&api->send_mtx);
	if (api->chan != -1)
		close(api->chan);
	api->chan = -1;
	pthread_mutex_unlock(&api->send_mtx);
	while ((p = api->pending) != NULL) {
		api->pending = p->next;
		api_req_free(p->r);
		free(p);
	}
	api->npending = 0;
	if (!__atomic_load_n(&api->stopping, __ATOMIC_ACQUIRE))
		log_warnx("the HTTP front (pid %d) is gone: starting another; "
		    "the ruleset is untouched", (int)pid);
}

static bool
api_front_frame(struct api *api, struct chan_msg *m)
{
	switch (m->type) {
	case CHAN_HEAD:
		return api_head(api, m);
	case CHAN_BODY:
		return api_body(api, m);
	case CHAN_GONE:
		api_pending_drop(api, m->id);
		return true;
	case CHAN_TICK:
		api_tick(api);
		return true;
	case CHAN_LOG:
		return api_front_log(m);
	}
	return false;
}

/*
 * The back thread: runs what the front hands over, one request at a time
 * (the engine takes changes one at a time anyway), and starts the front
 * again when it ends.  A front that sends what does not read is ended.
 */
static void *
api_back(void *arg)
{
	struct api	*api = arg;
	struct chan_msg	 m;
	struct timespec	 pause = { 1, 0 };
	time_t		 started;
	int		 rv;

	for (;;) {
		started = time(NULL);
		while ((rv = chan_recv(api->chan, &m, CHAN_PAYLOAD_MAX)) == 1) {
			if (!api_front_frame(api, &m)) {
				log_warnx("the HTTP front sent a message that "
				    "does not read (type %u): ending it",
				    (unsigned)m.type);
				chan_msg_free(&m);
				break;
			}
			chan_msg_free(&m);
		}
		api_front_end(api);
		if (__atomic_load_n(&api->stopping, __ATOMIC_ACQUIRE))
			break;
		metrics_front_restart(api->metrics);
		/* one that dies at once is not started in a tight loop */
		if (time(NULL) - started < 2)
			nanosleep(&pause, NULL);
		while (api_front_start(api) == -1) {
			if (__atomic_load_n(&api->stopping, __ATOMIC_ACQUIRE))
				return NULL;
			log_warn("cannot start the HTTP front");
			nanosleep(&pause, NULL);
		}
	}
	return NULL;
}

/* A socket file nobody answers on is stale; a live one is another daemon. */
static int
api_socket_stale(const char *path)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd, rv;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rv == 0) {
		errno = EADDRINUSE;
		return -1;
	}
	return unlink(path);
}

static int
api_mkdirs(const char *path)
{
	char	 buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

static int
api_listen(struct api *api, const char *path, const char *group,
    struct diags *d)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	mode_t			 mask;
	int			 fd, rv;
	const char		*what;
	char			 dir[PATH_MAX];

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		diags_add(d, NULL, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	what = "create the socket directory";
	if (api_mkdirs(path) == -1)
		goto fail;
	/* another user's directory could swap the socket for theirs */
	if (snprintf(dir, sizeof(dir), "%s", path) < (int)sizeof(dir) &&
	    trust_dir(dirname(dir), "socket directory", d) == -1)
		return -1;
	what = "remove the stale socket";
	if (api_socket_stale(path) == -1)
		goto fail;
	if ((gr = getgrnam(group)) != NULL) {
		api->have_gid = true;
		api->gid = gr->gr_gid;
	} else
		log_info("group %s does not exist: only root may use the API",
		    group);
	what = "create the socket";
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		goto fail;
	what = "bind the socket";
	/* created 0660 already: no window in which others may connect */
	mask = umask(0117);
	rv = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(mask);
	if (rv == -1)
		goto failfd;
	what = "set the socket's mode";
	if (chmod(path, 0660) == -1 ||
	    (api->have_gid && chown(path, 0, api->gid) == -1))
		goto failunlink;
	what = "listen";
	if (listen(fd, 128) == -1)
		goto failunlink;
	api->fd = fd;
	return 0;
failunlink:
	(void)unlink(path);
failfd:
	close(fd);
fail:
	diags_add(d, NULL, "%s: cannot %s: %s", path, what, strerror(errno));
	return -1;
}

/* A whole small file (certificate, key, tokens), NUL-terminated. */
static char *
api_read_file(const char *path, bool secret, struct diags *d)
{
	struct stat	 st;
	char		*buf = NULL;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		diags_add(d, NULL, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > API_FILE_MAX) {
		diags_add(d, NULL, "%s: not a regular file of sane size", path);
		goto fail;
	}
	if (secret && (st.st_mode & 0007)) {
		diags_add(d, NULL, "%s: readable by others; chmod o-rwx", path);
		goto fail;
	}
	/* a secret someone else could rewrite is not ours to trust */
	if (secret && st.st_uid != 0 && st.st_uid != geteuid()) {
		diags_add(d, NULL, "%s: owned by uid %u; expected root",
		    path, (unsigned)st.st_uid);
		goto fail;
	}
	if (secret && (st.st_mode & 0020)) {
		diags_add(d, NULL, "%s: writable by its group; chmod g-w",
		    path);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	while (off < (size_t)st.st_size) {
		if ((n = read(fd, buf + off, (size_t)st.st_size - off)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			diags_add(d, NULL, "%s: short read", path);
			goto fail;
		}
		off += (size_t)n;
	}
	buf[off] = '\0';
	close(fd);
	return buf;
fail:
	if (buf != NULL)
		explicit_bzero(buf, (size_t)st.st_size);
	free(buf);
	if (fd != -1)
		close(fd);
	return NULL;
}

/* The tokens file: a secret, so only root may have written it. */
static int
api_load_tokens(struct api *api, const char *path, struct diags *d)
{
	char	*text;
	size_t	 clear;

	if ((text = api_read_file(path, true, d)) == NULL)
		return -1;
	api->tokens = token_parse(text, path, &clear, d);
	explicit_bzero(text, strlen(text));
	free(text);
	if (api->tokens == NULL)
		return -1;
	if (clear > 0)
		log_warnx("%s: %zu token%s kept in clear; store crypt(3) hashes "
		    "instead (fwctld(8))", path, clear, clear == 1 ? "" : "s");
	return 0;
}

static int
api_parse_listen(const char *s, struct sockaddr_storage *ss, struct diags *d)
{
	struct addrinfo	 hints, *res = NULL;
	char		 host[64];
	const char	*port, *h = s;
	size_t		 hl;

	if (*s == '[') {
		h = s + 1;
		port = strstr(h, "]:");
		hl = port ? (size_t)(port - h) : 0;
		port = port ? port + 2 : NULL;
	} else {
		port = strrchr(s, ':');
		hl = port ? (size_t)(port - s) : 0;
		port = port ? port + 1 : NULL;
	}
	if (port == NULL || hl == 0 || hl >= sizeof(host) || *port == '\0') {
		diags_add(d, NULL, "--listen %s: expected ADDR:PORT or "
		    "[ADDR6]:PORT", s);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) {
		diags_add(d, NULL, "--listen %s: not a numeric address and "
		    "port", s);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/* TCP with TLS and bearer tokens: opt-in (SPEC §4). */
static int
api_config_tcp(struct api *api, const struct api_config *cfg,
    struct diags *d)
{

	if (cfg->tls_cert == NULL || cfg->tls_key == NULL ||
	    cfg->tokens == NULL) {
		diags_add(d, NULL, "--listen needs --tls-cert, --tls-key and "
		    "--tokens");
		return -1;
	}
	if (api_parse_listen(cfg->listen, &api->tcp_addr, d) == -1 ||
	    (api->cert = api_read_file(cfg->tls_cert, false, d)) == NULL ||
	    (api->key = api_read_file(cfg->tls_key, true, d)) == NULL ||
	    api_load_tokens(api, cfg->tokens, d) == -1)
		return -1;
	if ((api->listen = strdup(cfg->listen)) == NULL)
		return -1;
	return 0;
}

/* The TCP listener: bound here, before the kernel is touched, so that
 * an address in use stops the start; the front serves it. */
static int
api_tcp_socket(struct api *api, struct diags *d)
{
	struct sockaddr_storage	*ss = &api->tcp_addr;
	socklen_t		 len;
	int			 fd, one = 1;

	len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		goto fail;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	/* bound now, to fail before the kernel is touched; listening only
	 * once the ruleset is in place (api_serve) */
	if (bind(fd, (struct sockaddr *)ss, len) == -1)
		goto fail;
	api->tcp_fd = fd;
	return 0;
fail:
	diags_add(d, NULL, "--listen %s: %s", api->listen, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

static void
api_free(struct api *api)
{
	size_t	 i;

	token_free(api->tokens);
	if (api->key != NULL)
		explicit_bzero(api->key, strlen(api->key));
	free(api->key);
	free(api->cert);
	free(api->listen);
	free(api->socket_path);
	free(api->ui_dir);
	free(api->front_root);
	metrics_free(api->metrics);
	events_free(api->events);
	if (api->trace_fd != -1)
		close(api->trace_fd);
	if (api->tcp_fd != -1)
		close(api->tcp_fd);
	for (i = 0; i < api->ncors; i++)
		free(api->cors[i]);
	pthread_mutex_destroy(&api->send_mtx);
	pthread_mutex_destroy(&api->ev_mtx);
	free(api);
}

/* "scheme://host[:port]", as a browser sends it in Origin: no path, no
 * wildcard. */
static bool
api_origin_valid(const char *o)
{
	const char	*h;

	if (strncmp(o, "https://", 8) == 0)
		h = o + 8;
	else if (strncmp(o, "http://", 7) == 0)
		h = o + 7;
	else
		return false;
	return *h != '\0' && strlen(o) < 256 &&
	    strspn(h, "abcdefghijklmnopqrstuvwxyz0123456789.-:[]") ==
	    strlen(h);
}

static int
api_config_cors(struct api *api, const struct api_config *cfg,
    struct diags *d)
{
	size_t	 i;

	for (i = 0; i < cfg->ncors && i < API_CORS_MAX; i++) {
		if (!api_origin_valid(cfg->cors[i])) {
			diags_add(d, NULL, "--cors-origin %s: expected "
			    "https://HOST[:PORT] (lower case, no path, no "
			    "wildcard)", cfg->cors[i]);
			return -1;
		}
		if ((api->cors[i] = strdup(cfg->cors[i])) == NULL)
			return -1;
		api->ncors++;
	}
	return 0;
}

/* The dashboard: the files of --ui-dir, or those installed if there.
 * Read here to stop a start with a broken one; the front reads them
 * again for itself. */
static int
api_config_ui(struct api *api, const struct api_config *cfg,
    struct diags *d)
{
	struct diags	 quiet;
	struct ui	*ui;
	const char	*dir = cfg->ui_dir ? cfg->ui_dir : FWCTL_UI_DIR;

	if (cfg->ui_dir != NULL && *cfg->ui_dir == '\0')
		return 0;
	if (cfg->ui_dir != NULL) {
		if ((ui = ui_load(dir, d)) == NULL)
			return -1;
	} else {
		diags_init(&quiet);
		if ((ui = ui_load(dir, &quiet)) == NULL)
			log_info("no dashboard: %s", quiet.n && quiet.v[0].msg ?
			    quiet.v[0].msg : FWCTL_UI_DIR);
		diags_free(&quiet);
	}
	if (ui == NULL)
		return 0;
	ui_free(ui);
	return (api->ui_dir = strdup(dir)) == NULL ? -1 : 0;
}

struct api *
api_new(const struct api_config *cfg, struct diags *d)
{
	struct api	*api;
	const char	*env;
	char		 dir[PATH_MAX];

	if ((api = calloc(1, sizeof(*api))) == NULL)
		return NULL;
	api->fd = -1;
	api->tcp_fd = -1;
	api->chan = -1;
	api->starter.pid = -1;
	api->starter.ctl = -1;
	api->trace_fd = -1;
	pthread_mutex_init(&api->send_mtx, NULL);
	pthread_mutex_init(&api->ev_mtx, NULL);
	if ((env = getenv("FWCTLD_API_TRACE")) != NULL && *env != '\0' &&
	    (api->trace_fd = open(env, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0600)) == -1)
		log_warnx("FWCTLD_API_TRACE %s: %s", env, strerror(errno));
	api->threads = cfg->threads ? cfg->threads : API_THREADS;
	api->timeout = cfg->timeout ? cfg->timeout : API_TIMEOUT;
	api->conn_limit = cfg->conn_limit ? cfg->conn_limit : API_CONN_LIMIT;
	api->log_level = cfg->log_level;
	api->drift = -1;
	snprintf(dir, sizeof(dir), "%s", cfg->socket_path);
	if ((api->socket_path = strdup(cfg->socket_path)) == NULL ||
	    (api->front_root = strdup(dirname(dir))) == NULL ||
	    (api->metrics = metrics_new()) == NULL ||
	    (api->events = events_new(2000, NULL, NULL)) == NULL)
		goto fail;
	if (privsep_user(cfg->front_user, &api->front_uid, &api->front_gid,
	    d) == -1)
		goto fail;
	if (cfg->listen != NULL && api_config_tcp(api, cfg, d) == -1)
		goto fail;
	if (api_config_cors(api, cfg, d) == -1 ||
	    (cfg->listen != NULL && api_config_ui(api, cfg, d) == -1))
		goto fail;
	if (api_listen(api, cfg->socket_path, cfg->group ? cfg->group :
	    "fwctl", d) == -1)
		goto fail;
	if (cfg->listen != NULL && api_tcp_socket(api, d) == -1)
		goto fail;
	return api;
fail:
	if (api->fd != -1) {
		close(api->fd);
		(void)unlink(api->socket_path);
	}
	api_free(api);
	return NULL;
}

/* An event for GET /v1/events: kept here (a front started again gets
 * the last of them) and sent to the front, in order. */
static void
api_publish(struct api *api, const char *type, json_t *j)
{
	struct api_fwd	 f = { api, 0 };
	char		*t;

	if (j == NULL)
		return;
	if ((t = json_dumps(j, JSON_COMPACT)) != NULL) {
		pthread_mutex_lock(&api->ev_mtx);
		if ((f.id = events_publish(api->events, type, t)) != 0)
			events_each(api->events, api_forward_one, &f);
		pthread_mutex_unlock(&api->ev_mtx);
	}
	free(t);
	json_decref(j);
}

static void
api_observe(void *arg, const struct engine_event *ev)
{
	struct api	*api = arg;

	metrics_observe(api->metrics, ev);
	if (ev->dry_run || !ev->applied)
		return;
	if (ev->op == CHANGE_CONFIRM) {
		api_publish(api, "confirmed", json_pack("{s:I, s:s}",
		    "generation", (json_int_t)ev->generation, "who", ev->who));
		return;
	}
	if (ev->reverted != 0) {
		api_publish(api, "reverted", json_pack("{s:I, s:I, s:s, s:s}",
		    "generation", (json_int_t)ev->generation, "reverted",
		    (json_int_t)ev->reverted, "who", ev->who, "summary",
		    ev->summary));
		return;
	}
	api_publish(api, "change", json_pack("{s:I, s:s, s:s, s:s}",
	    "generation", (json_int_t)ev->generation, "who", ev->who, "op",
	    ev->what, "summary", ev->summary));
	if (ev->pending)
		api_publish(api, "pending", json_pack("{s:I, s:I, s:s}",
		    "generation", (json_int_t)ev->generation, "seconds",
		    (json_int_t)ev->confirm_secs, "who", ev->who));
}

/* The events' ticker, while someone listens: drift is found by looking. */
static void
api_tick(void *arg)
{
	struct api			*api = arg;
	struct engine_status_info	 info;

	if (api->engine == NULL)
		return;
	engine_info(api->engine, &info);
	if ((int)info.drift == api->drift)
		return;
	api->drift = info.drift;
	api_publish(api, "drift", json_pack("{s:b, s:I}", "drift", info.drift,
	    "generation", (json_int_t)info.generation));
}

int
api_serve(struct api *api, struct engine *engine, struct diags *d)
{
	struct engine_status_info info;

	api->engine = engine;
	engine_set_observer(engine, api_observe, api);
	engine_info(engine, &info);
	api->drift = info.drift;
	api_publish(api, "start", json_pack("{s:s, s:I, s:b}", "version",
	    FWCTL_VERSION, "generation", (json_int_t)info.generation,
	    "drift", info.drift));
	if (api->tcp_fd != -1 && listen(api->tcp_fd, 128) == -1) {
		diags_add(d, NULL, "--listen %s: %s", api->listen,
		    strerror(errno));
		return -1;
	}
	if (api_front_start(api) == -1) {
		diags_add(d, NULL, "cannot start the HTTP front: %s",
		    strerror(errno));
		return -1;
	}
	if (pthread_create(&api->back, NULL, api_back, api) != 0) {
		diags_add(d, NULL, "cannot start the API's thread");
		return -1;
	}
	api->have_back = true;
	log_info("listening on %s (HTTP front pid %d, uid %u)",
	    api->socket_path, (int)api->front_pid, (unsigned)api->front_uid);
	if (api->listen != NULL)
		log_info("listening on %s (TLS, %zu token%s)", api->listen,
		    token_count(api->tokens), token_count(api->tokens) == 1 ?
		    "" : "s");
	return 0;
}

int
api_prepare(struct api *api, struct diags *d)
{
	return privsep_starter(&api->starter, api->fd, api->tcp_fd,
	    api->trace_fd, d);
}

int
api_starter_fd(struct api *api)
{
	return api->starter.ctl;
}

pid_t
api_front_pid(struct api *api)
{
	pid_t	 pid;

	pthread_mutex_lock(&api->send_mtx);
	pid = api->chan != -1 ? api->front_pid : -1;
	pthread_mutex_unlock(&api->send_mtx);
	return pid;
}

void
api_stop(struct api *api)
{
	if (api == NULL)
		return;
	__atomic_store_n(&api->stopping, true, __ATOMIC_RELEASE);
	/* the front reads the end and goes; the back thread then ends it */
	pthread_mutex_lock(&api->send_mtx);
	if (api->chan != -1)
		(void)shutdown(api->chan, SHUT_RDWR);
	pthread_mutex_unlock(&api->send_mtx);
	if (api->have_back)
		pthread_join(api->back, NULL);
	else if (api->chan != -1)
		api_front_end(api);
	privsep_starter_stop(&api->starter);
	if (api->engine != NULL)
		engine_set_observer(api->engine, NULL, NULL);
	if (api->fd != -1) {
		close(api->fd);
		(void)unlink(api->socket_path);
	}
	api_free(api);
}
