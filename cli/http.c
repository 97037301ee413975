/* http.c: one request to fwctld over its UNIX socket (or its TCP
 * listener with --url), with libcurl.
 * Transport failures and HTTP statuses become the documented exit
 * statuses here, so commands only say what to send. */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "fwctl.h"

struct buf {
	char	*p;
	size_t	 len;
};

static size_t
http_body_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf	*b = arg;
	size_t		 n = size * nmemb;
	char		*p;

	if ((p = realloc(b->p, b->len + n + 1)) == NULL)
		return 0;
	memcpy(p + b->len, data, n);
	b->len += n;
	p[b->len] = '\0';
	b->p = p;
	return n;
}

static size_t
http_header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct reply	*r = arg;
	size_t		 n = size * nmemb, i, j;

	if (n > 5 && strncasecmp(data, "ETag:", 5) == 0) {
		for (i = 5; i < n && (data[i] == ' ' || data[i] == '"' ||
		    data[i] == '\t'); i++)
			;
		for (j = n; j > i && strchr(" \t\r\n\"", data[j - 1]); j--)
			;
		free(r->etag);
		r->etag = strndup(data + i, j - i);
	}
	return n;
}

/* Says why the socket cannot be reached; EXIT_PERM or EXIT_NODAEMON. */
static int
http_unreachable(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
		fprintf(stderr, "fwctl: permission denied on %s "
		    "(root or the fwctl group may use fwctld)\n", opt.socket);
		return EXIT_PERM;
	case ENOENT:
		fprintf(stderr, "fwctl: fwctld is not running (no socket "
		    "at %s)\n", opt.socket);
		return EXIT_NODAEMON;
	case ECONNREFUSED:
		fprintf(stderr, "fwctl: fwctld is not running (connection "
		    "refused on %s)\n", opt.socket);
		return EXIT_NODAEMON;
	default:
		fprintf(stderr, "fwctl: cannot reach fwctld at %s: %s\n",
		    opt.socket, strerror(err));
		return EXIT_NODAEMON;
	}
}

/* Where fwctld is, for messages. */
static const char *
http_where(void)
{
	return opt.url ? opt.url : opt.socket;
}

/*
 * Who answers on the socket, checked once connected and before anything
 * is sent: fwctld runs as root, so a server of another user's (one that
 * took the socket's place) gets neither the request nor our trust in its
 * reply. A user's own server (a test of their own) is theirs to trust.
 */
static uid_t		 http_peer_uid = (uid_t)-1;
static curl_socket_t	 http_sock = CURL_SOCKET_BAD;

/* The socket curl made, for the check once it is connected. */
static int
http_sock_cb(void *clientp, curl_socket_t s, curlsocktype purpose)
{
	http_sock = s;
	return CURL_SOCKOPT_OK;
}

static int
http_peer_check(void *clientp, char *ip, char *local, int rport, int lport)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);

	if (http_sock == CURL_SOCKET_BAD || getsockopt(http_sock, SOL_SOCKET,
	    SO_PEERCRED, &cred, &len) == -1)
		return CURL_PREREQFUNC_ABORT;
	http_peer_uid = cred.uid;
	if (cred.uid != 0 && cred.uid != geteuid())
		return CURL_PREREQFUNC_ABORT;
	return CURL_PREREQFUNC_OK;
}

/* The transport: the socket, or --url with TLS and the bearer token.
 * 0, or an exit status after a message. */
static int
http_transport(CURL *c, const char *path, char **url,
    struct curl_slist **h)
{
	struct stat	 st;
	char		*auth;
	size_t		 len;

	if (opt.url == NULL) {
		/* stat first: curl reports a missing socket as a mere
		 * "couldn't connect" */
		if (stat(opt.socket, &st) == -1)
			return http_unreachable(errno);
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "fwctl: %s is not a socket\n",
			    opt.socket);
			return EXIT_NODAEMON;
		}
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, opt.socket);
		curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, http_sock_cb);
		curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, http_peer_check);
		if (asprintf(url, "http://localhost%s", path) == -1)
			*url = NULL;
		return 0;
	}
	len = strlen(opt.url);
	while (len > 0 && opt.url[len - 1] == '/')
		len--;
	if (asprintf(url, "%.*s%s", (int)len, opt.url, path) == -1)
		*url = NULL;
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	if (opt.cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, opt.cacert);
	if (asprintf(&auth, "Authorization: Bearer %s", opt.token) == -1)
		return 0;
	*h = curl_slist_append(*h, auth);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	return 0;
}

/* A failed transfer: which exit status, and why. */
static int
http_failed(CURL *c, CURLcode rc)
{
	long	 oserr = 0;

	if (rc == CURLE_ABORTED_BY_CALLBACK && opt.url == NULL) {
		if (http_peer_uid == (uid_t)-1)
			fprintf(stderr, "fwctl: cannot tell who answers on %s; "
			    "nothing was sent\n", opt.socket);
		else
			fprintf(stderr, "fwctl: %s is answered by uid %u, not "
			    "by fwctld (root): nothing was sent; someone may "
			    "have taken the socket's place\n", opt.socket,
			    (unsigned)http_peer_uid);
		return EXIT_PERM;
	}
	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
	if (rc == CURLE_COULDNT_CONNECT && oserr != 0 && opt.url == NULL)
		return http_unreachable((int)oserr);
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	    rc == CURLE_OPERATION_TIMEDOUT) {
		fprintf(stderr, "fwctl: cannot reach fwctld at %s: %s\n",
		    http_where(), curl_easy_strerror(rc));
		return EXIT_NODAEMON;
	}
	if (rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CONNECT_ERROR) {
		fprintf(stderr, "fwctl: %s: TLS: %s (see --cacert)\n",
		    http_where(), curl_easy_strerror(rc));
		return EXIT_NODAEMON;
	}
	fprintf(stderr, "fwctl: lost the connection to fwctld at %s: %s\n",
	    http_where(), curl_easy_strerror(rc));
	return EXIT_NODAEMON;
}

int
http_do(const struct request *rq, struct reply *r)
{
	CURL			*c = NULL;
	struct curl_slist	*h = NULL;
	struct buf		 b = { NULL, 0 };
	char			*url = NULL, hdr[128];
	const char		*ct = NULL, *if_match = rq->if_match;
	CURLcode		 rc;
	int			 ret = EXIT_NODAEMON;

	memset(r, 0, sizeof(*r));
	if ((c = curl_easy_init()) == NULL)
		goto oom;
	if ((ret = http_transport(c, rq->path, &url, &h)) != 0)
		goto fail;
	if (url == NULL || (opt.url != NULL && h == NULL))
		goto oom;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* a daemon stuck in a kernel call should not hang scripts forever */
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "fwctl/" FWCTL_VERSION);
	snprintf(hdr, sizeof(hdr), "Accept: %s",
	    rq->accept ? rq->accept : "application/json");
	h = curl_slist_append(h, hdr);
	/* the user's generation wins over one a command read itself: it is
	 * older or the same, so the stricter condition */
	if (opt.if_match != NULL && strcmp(rq->method, "GET") != 0)
		if_match = opt.if_match;
	if (if_match != NULL) {
		snprintf(hdr, sizeof(hdr), "If-Match: \"%s\"", if_match);
		h = curl_slist_append(h, hdr);
	}
	if (rq->ctype) {
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", rq->ctype);
		h = curl_slist_append(h, hdr);
		/* no 100-continue round trip on a local socket */
		h = curl_slist_append(h, "Expect:");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body :
		    "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)rq->len);
	}
	if (h == NULL)
		goto oom;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if ((rc = curl_easy_perform(c)) != CURLE_OK) {
		ret = http_failed(c, rc);
		goto fail;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	if (ct != NULL && (r->ctype = strdup(ct)) == NULL)
		goto oom;
	r->body = b.p ? b.p : strdup("");
	r->len = b.len;
	b.p = NULL;
	if (r->body == NULL)
		goto oom;
	if (r->ctype && strstr(r->ctype, "json") != NULL)
		r->json = json_loadb(r->body, r->len, 0, NULL);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(url);
	return 0;
oom:
	fprintf(stderr, "fwctl: out of memory\n");
	ret = EXIT_REFUSED;
fail:
	free(b.p);
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	free(url);
	reply_free(r);
	return ret;
}

int
http_get_json(const char *cmd, const char *path, struct reply *r)
{
	struct request	 rq = { .method = "GET", .path = path };
	int		 ret;

	if ((ret = http_do(&rq, r)) != 0)
		return ret;
	if ((ret = reply_check(cmd, r, NULL, NULL)) != 0) {
		reply_free(r);
		return ret;
	}
	if (r->json == NULL) {
		fprintf(stderr, "fwctl: fwctld sent a reply that is not "
		    "JSON for %s\n", path);
		reply_free(r);
		return EXIT_REFUSED;
	}
	return 0;
}

char *
http_escape(const char *s)
{
	char	*e = curl_easy_escape(NULL, s, 0), *copy;

	if (e == NULL)
		return NULL;
	copy = strdup(e);
	curl_free(e);
	return copy;
}

void
reply_free(struct reply *r)
{
	free(r->body);
	free(r->ctype);
	free(r->etag);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

int
http_exit_status(long status)
{
	if (status >= 200 && status < 300)
		return EXIT_OK;
	switch (status) {
	case 401:
	case 403:
		return EXIT_PERM;
	case 404:
		return EXIT_NOTFOUND;
	case 409:
	case 412:
		return EXIT_CONFLICT;
	default:
		return EXIT_REFUSED;
	}
}

static int
reply_jint(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

struct cmdline_loc {
	const struct text	*text;
	const char		*shown;
};

/* The daemon's column is a column of the text we sent, which is the
 * user's own words joined: show them with a caret under it. */
static void
reply_loc_cmdline(void *arg, FILE *f, const char *cmd, json_t *e)
{
	struct cmdline_loc	*l = arg;
	json_t			*m = json_object_get(e, "message");
	int			 col = reply_jint(e, "column");

	fprintf(f, "fwctl: %s: %d:%d: %s%s%s\n", cmd, reply_jint(e, "line"),
	    col, output_color(C_RED), json_is_string(m) ?
	    json_string_value(m) : "", output_reset());
	if (l->text != NULL && col > 0)
		output_caret(f, l->shown, l->text->s, (size_t)col);
}

static void
reply_loc_files(void *arg, FILE *f, const char *cmd, json_t *e)
{
	const struct srcmap		*m = arg;
	const struct srcmap_file	*sf;
	json_t				*msg = json_object_get(e, "message");
	const char			*ms = json_is_string(msg) ?
					    json_string_value(msg) : "";
	int				 line = reply_jint(e, "line");
	int				 col = reply_jint(e, "column");
	int				 fl;
	char				*text;

	if ((sf = srcmap_find(m, line, &fl)) == NULL) {
		fprintf(f, "fwctl: %s: %d:%d: %s\n", cmd, line, col, ms);
		return;
	}
	fprintf(f, "%s:%d:%d: %s%s%s\n", sf->path, fl, col,
	    output_color(C_RED), ms, output_reset());
	if (col > 0 && (text = srcmap_line(m, sf, fl)) != NULL) {
		output_caret(f, "", text, (size_t)col);
		free(text);
	}
}

static int
reply_fail(const char *cmd, const struct reply *r, output_loc_fn loc,
    void *arg)
{
	if (r->json != NULL && json_is_object(r->json)) {
		if (opt.json)
			output_json(r->json, stdout);
		output_problem(cmd, r->json, r->status, loc, arg, stderr);
	} else {
		/* not a problem document: say what the body says, briefly */
		size_t	 n = r->len;

		while (n > 0 && strchr(" \t\r\n", r->body[n - 1]))
			n--;
		fprintf(stderr, "fwctl: %s: HTTP %ld%s%.*s\n", cmd, r->status,
		    n ? ": " : "", (int)(n > 200 ? 200 : n), r->body);
	}
	return http_exit_status(r->status);
}

int
reply_check(const char *cmd, const struct reply *r, const struct text *t,
    const char *shown)
{
	struct cmdline_loc	 l = { t, shown ? shown : "" };

	if (r->status >= 200 && r->status < 300)
		return 0;
	return reply_fail(cmd, r, t ? reply_loc_cmdline : NULL, &l);
}

int
reply_check_files(const char *cmd, const struct reply *r,
    const struct srcmap *m)
{
	if (r->status >= 200 && r->status < 300)
		return 0;
	/* the cast only drops const for the callback's void pointer */
	return reply_fail(cmd, r, reply_loc_files, (void *)(uintptr_t)m);
}
