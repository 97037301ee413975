/*
 * probe: the traffic tool of the fwctl test lab.
 *
 *   probe serve tcp|udp PORT [--count N] [--time SEC]
 *   probe connect tcp|udp ADDR PORT [--timeout MS]
 *   probe ping ADDR [--timeout MS]
 *
 * The server listens on [::]:PORT (dual stack) and answers every
 * connection or datagram with one line, "PEER-ADDR PEER-PORT LOCAL-ADDR
 * LOCAL-PORT", so the client learns which source address the far end saw
 * (after masquerade) and which destination it arrived at (after DNAT).
 * Once bound, the server prints "listening PROTO [::]:PORT" on stdout.
 *
 * The client prints the server's line (ping: "reply from ADDR") and exits
 * 0; it exits 1 with a message on refusal, timeout or any error, 2 on bad
 * usage.  Every wait is bounded: the client by MS (default 2000), the
 * server by N answers (default 1000) or SEC seconds (default 600).
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROBE_LINE	160

static void	 usage(void) __attribute__((noreturn));
static void	 die(const char *, ...)
		    __attribute__((noreturn, format(printf, 1, 2)));
static long	 num(const char *, const char *, long, long);
static long long now_ms(void);
static void	 addr_text(const struct sockaddr_storage *, char *, size_t,
		    int *);
static int	 resolve(const char *, int, struct sockaddr_storage *,
		    socklen_t *);
static int	 serve_tcp(int, long, long);
static int	 serve_udp(int, long, long);
static int	 connect_tcp(const char *, int, long);
static int	 connect_udp(const char *, int, long);
static int	 ping(const char *, long);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: probe serve tcp|udp PORT [--count N] [--time SEC]\n"
	    "       probe connect tcp|udp ADDR PORT [--timeout MS]\n"
	    "       probe ping ADDR [--timeout MS]\n");
	exit(2);
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("probe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static long
num(const char *what, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "probe: %s: '%s' is not a number in %ld..%ld\n",
		    what, s, lo, hi);
		exit(2);
	}
	return v;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints a v4-mapped address as plain IPv4: tests compare with "10.50.0.1". */
static void
addr_text(const struct sockaddr_storage *ss, char *buf, size_t len,
    int *port)
{
	const struct sockaddr_in6 *s6;
	const struct sockaddr_in *s4;
	struct in_addr a4;

	if (ss->ss_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)ss;
		*port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			memcpy(&a4, &s6->sin6_addr.s6_addr[12], 4);
			inet_ntop(AF_INET, &a4, buf, len);
		} else
			inet_ntop(AF_INET6, &s6->sin6_addr, buf, len);
	} else if (ss->ss_family == AF_INET) {
		s4 = (const struct sockaddr_in *)ss;
		*port = ntohs(s4->sin_port);
		inet_ntop(AF_INET, &s4->sin_addr, buf, len);
	} else {
		*port = 0;
		snprintf(buf, len, "?");
	}
}

/* Numeric addresses only: the lab has no resolver, and a lookup could block. */
static int
resolve(const char *addr, int port, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*sslen = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*sslen = sizeof(*s6);
		return 0;
	}
	fprintf(stderr, "probe: '%s': expected a numeric IPv4 or IPv6 "
	    "address\n", addr);
	return -1;
}

static int
listen_any(int socktype, int port)
{
	struct sockaddr_in6 sin6;
	int fd, off = 0, on = 1;

	if ((fd = socket(AF_INET6, socktype | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	/* Dual stack whatever net.ipv6.bindv6only says. */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == -1)
		die("IPV6_V6ONLY: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_any;
	sin6.sin6_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == -1)
		die("bind [::]:%d: %s", port, strerror(errno));
	if (socktype == SOCK_STREAM && listen(fd, 64) == -1)
		die("listen: %s", strerror(errno));
	return fd;
}

static int
serve_tcp(int port, long count, long secs)
{
	struct sockaddr_storage peer, local;
	struct pollfd pfd;
	socklen_t plen, llen;
	long long deadline;
	char line[PROBE_LINE], pa[INET6_ADDRSTRLEN], la[INET6_ADDRSTRLEN];
	long served = 0;
	int fd, c, pp, lp, n, wait;

	fd = listen_any(SOCK_STREAM, port);
	printf("listening tcp [::]:%d\n", port);
	deadline = now_ms() + secs * 1000;
	while (served < count) {
		if ((wait = (int)(deadline - now_ms())) <= 0)
			break;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((n = poll(&pfd, 1, wait)) == -1 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (n <= 0)
			continue;
		plen = sizeof(peer);
		if ((c = accept4(fd, (struct sockaddr *)&peer, &plen,
		    SOCK_CLOEXEC)) == -1)
			continue;
		llen = sizeof(local);
		getsockname(c, (struct sockaddr *)&local, &llen);
		addr_text(&peer, pa, sizeof(pa), &pp);
		addr_text(&local, la, sizeof(la), &lp);
		n = snprintf(line, sizeof(line), "%s %d %s %d\n", pa, pp, la,
		    lp);
		/* One short line fits the socket buffer: no blocking write. */
		if (send(c, line, n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
			fprintf(stderr, "probe: reply to %s: %s\n", pa,
			    strerror(errno));
		close(c);
		served++;
	}
	close(fd);
	return 0;
}

static int
serve_udp(int port, long count, long secs)
{
	struct sockaddr_storage peer, local;
	struct sockaddr_in6 *l6;
	struct in6_pktinfo pi;
	struct cmsghdr *cm;
	struct msghdr msg;
	struct iovec iov;
	struct pollfd pfd;
	long long deadline;
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cbuf;
	char in[512], line[PROBE_LINE];
	char pa[INET6_ADDRSTRLEN], la[INET6_ADDRSTRLEN];
	long served = 0;
	int fd, on = 1, pp, lp, n, wait, have_pi;
	ssize_t r;

	fd = listen_any(SOCK_DGRAM, port);
	/*
	 * Learn the destination of each datagram and answer from it: a
	 * host with several addresses (the router) would otherwise reply
	 * from whichever address the route picks, and the client's
	 * connected socket would drop the answer.
	 */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
	    sizeof(on)) == -1)
		die("IPV6_RECVPKTINFO: %s", strerror(errno));
	printf("listening udp [::]:%d\n", port);
	deadline = now_ms() + secs * 1000;
	while (served < count) {
		if ((wait = (int)(deadline - now_ms())) <= 0)
			break;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((n = poll(&pfd, 1, wait)) == -1 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (n <= 0)
			continue;
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = in;
		iov.iov_len = sizeof(in);
		msg.msg_name = &peer;
		msg.msg_namelen = sizeof(peer);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		if ((r = recvmsg(fd, &msg, MSG_DONTWAIT)) == -1)
			continue;
		have_pi = 0;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == IPPROTO_IPV6 &&
			    cm->cmsg_type == IPV6_PKTINFO) {
				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				have_pi = 1;
			}
		memset(&local, 0, sizeof(local));
		l6 = (struct sockaddr_in6 *)&local;
		l6->sin6_family = AF_INET6;
		l6->sin6_port = htons(port);
		if (have_pi)
			l6->sin6_addr = pi.ipi6_addr;
		addr_text(&peer, pa, sizeof(pa), &pp);
		addr_text(&local, la, sizeof(la), &lp);
		n = snprintf(line, sizeof(line), "%s %d %s %d\n", pa, pp, la,
		    lp);

		iov.iov_base = line;
		iov.iov_len = n;
		msg.msg_namelen = sizeof(struct sockaddr_in6);
		msg.msg_flags = 0;
		if (have_pi) {
			memset(&cbuf, 0, sizeof(cbuf));
			msg.msg_control = cbuf.buf;
			msg.msg_controllen = sizeof(cbuf.buf);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = IPPROTO_IPV6;
			cm->cmsg_type = IPV6_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			pi.ipi6_ifindex = 0;
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		} else {
			msg.msg_control = NULL;
			msg.msg_controllen = 0;
		}
		if (sendmsg(fd, &msg, MSG_DONTWAIT) == -1)
			fprintf(stderr, "probe: reply to %s: %s\n", pa,
			    strerror(errno));
		served++;
	}
	close(fd);
	return 0;
}

/* Waits for fd to become ready until the deadline; 0 ready, -1 timed out. */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd;
	int n, wait;

	for (;;) {
		if ((wait = (int)(deadline - now_ms())) <= 0)
			return -1;
		pfd.fd = fd;
		pfd.events = events;
		n = poll(&pfd, 1, wait);
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			die("poll: %s", strerror(errno));
	}
}

static int
connect_tcp(const char *addr, int port, long timeout)
{
	struct sockaddr_storage ss;
	socklen_t sslen, elen;
	long long deadline;
	char buf[PROBE_LINE];
	size_t got = 0;
	ssize_t r;
	int fd, err;

	if (resolve(addr, port, &ss, &sslen) == -1)
		return 1;
	deadline = now_ms() + timeout;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&ss, sslen) == -1 &&
	    errno != EINPROGRESS) {
		fprintf(stderr, "probe: connect tcp %s port %d: %s\n", addr,
		    port, strerror(errno));
		return 1;
	}
	if (wait_fd(fd, POLLOUT, deadline) == -1) {
		fprintf(stderr, "probe: connect tcp %s port %d: timed out "
		    "after %ld ms\n", addr, port, timeout);
		return 1;
	}
	elen = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
		err = errno;
	if (err) {
		fprintf(stderr, "probe: connect tcp %s port %d: %s\n", addr,
		    port, strerror(err));
		return 1;
	}
	/* Connected; read the server's one line until EOF. */
	while (got < sizeof(buf) - 1) {
		if (wait_fd(fd, POLLIN, deadline) == -1) {
			fprintf(stderr, "probe: tcp %s port %d: connected, "
			    "but no answer within %ld ms\n", addr, port,
			    timeout);
			return 1;
		}
		r = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r == -1) {
			fprintf(stderr, "probe: tcp %s port %d: read: %s\n",
			    addr, port, strerror(errno));
			return 1;
		}
		if (r == 0)
			break;
		got += r;
	}
	close(fd);
	if (got == 0) {
		fprintf(stderr, "probe: tcp %s port %d: connected, but the "
		    "server sent nothing\n", addr, port);
		return 1;
	}
	buf[got] = '\0';
	fputs(buf, stdout);
	if (buf[got - 1] != '\n')
		putchar('\n');
	return 0;
}

static int
connect_udp(const char *addr, int port, long timeout)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	long long deadline, next;
	char buf[PROBE_LINE];
	ssize_t r;
	int fd, tries = 0;

	if (resolve(addr, port, &ss, &sslen) == -1)
		return 1;
	deadline = now_ms() + timeout;
	if ((fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	/* Connected, so an ICMP port unreachable shows as ECONNREFUSED. */
	if (connect(fd, (struct sockaddr *)&ss, sslen) == -1) {
		fprintf(stderr, "probe: connect udp %s port %d: %s\n", addr,
		    port, strerror(errno));
		return 1;
	}
	/* Up to three requests spread over the timeout, in case one is lost. */
	for (;;) {
		if (tries < 3) {
			if (send(fd, "probe\n", 6, 0) == -1 &&
			    errno != EAGAIN) {
				fprintf(stderr, "probe: udp %s port %d: %s\n",
				    addr, port, strerror(errno));
				return 1;
			}
			tries++;
		}
		next = tries < 3 ? now_ms() + timeout / 3 : deadline;
		if (next > deadline)
			next = deadline;
		if (wait_fd(fd, POLLIN, next) == -1) {
			if (now_ms() >= deadline) {
				fprintf(stderr, "probe: udp %s port %d: no "
				    "answer within %ld ms\n", addr, port,
				    timeout);
				return 1;
			}
			continue;
		}
		r = recv(fd, buf, sizeof(buf) - 1, 0);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r == -1) {
			fprintf(stderr, "probe: udp %s port %d: %s\n", addr,
			    port, strerror(errno));
			return 1;
		}
		buf[r] = '\0';
		break;
	}
	close(fd);
	fputs(buf, stdout);
	if (r == 0 || buf[r - 1] != '\n')
		putchar('\n');
	return 0;
}

static uint16_t
cksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* One ICMP or ICMPv6 echo over a raw socket (root in the namespace). */
static int
ping(const char *addr, long timeout)
{
	struct sockaddr_storage ss;
	struct icmp6_hdr *i6;
	struct icmphdr *i4;
	struct ip *ip;
	socklen_t sslen;
	long long deadline;
	uint8_t pkt[64], in[1500];
	uint16_t id, seq = 1;
	size_t hl;
	ssize_t r;
	int fd, v6;

	if (resolve(addr, 0, &ss, &sslen) == -1)
		return 1;
	v6 = ss.ss_family == AF_INET6;
	deadline = now_ms() + timeout;
	if ((fd = socket(ss.ss_family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)) == -1)
		die("raw socket: %s", strerror(errno));
	id = getpid() & 0xffff;
	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt + 8, "fwctl-probe", 11);
	if (v6) {
		i6 = (struct icmp6_hdr *)pkt;
		i6->icmp6_type = ICMP6_ECHO_REQUEST;
		i6->icmp6_id = htons(id);
		i6->icmp6_seq = htons(seq);
		/* The kernel fills in the ICMPv6 checksum. */
	} else {
		i4 = (struct icmphdr *)pkt;
		i4->type = ICMP_ECHO;
		i4->un.echo.id = htons(id);
		i4->un.echo.sequence = htons(seq);
		i4->checksum = cksum(pkt, sizeof(pkt));
	}
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss,
	    sslen) == -1) {
		fprintf(stderr, "probe: ping %s: %s\n", addr, strerror(errno));
		return 1;
	}
	for (;;) {
		if (wait_fd(fd, POLLIN, deadline) == -1) {
			fprintf(stderr, "probe: ping %s: no reply within "
			    "%ld ms\n", addr, timeout);
			return 1;
		}
		if ((r = recv(fd, in, sizeof(in), 0)) == -1)
			continue;
		/* A raw socket sees every ICMP packet: keep only our reply. */
		if (v6) {
			if ((size_t)r < sizeof(*i6))
				continue;
			i6 = (struct icmp6_hdr *)in;
			if (i6->icmp6_type == ICMP6_ECHO_REPLY &&
			    ntohs(i6->icmp6_id) == id &&
			    ntohs(i6->icmp6_seq) == seq)
				break;
		} else {
			if ((size_t)r < sizeof(*ip))
				continue;
			ip = (struct ip *)in;
			hl = ip->ip_hl * 4;
			if ((size_t)r < hl + sizeof(*i4))
				continue;
			i4 = (struct icmphdr *)(in + hl);
			if (i4->type == ICMP_ECHOREPLY &&
			    ntohs(i4->un.echo.id) == id &&
			    ntohs(i4->un.echo.sequence) == seq)
				break;
		}
	}
	close(fd);
	printf("reply from %s\n", addr);
	return 0;
}

int
main(int argc, char *argv[])
{
	long timeout = 2000, count = 1000, secs = 600;
	int i, port, tcp, nargs;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		usage();
	/* Options come after the positional arguments. */
	if (strcmp(argv[1], "serve") == 0)
		nargs = 4;
	else if (strcmp(argv[1], "connect") == 0)
		nargs = 5;
	else if (strcmp(argv[1], "ping") == 0)
		nargs = 3;
	else
		usage();
	if (argc < nargs)
		usage();
	for (i = nargs; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--timeout") == 0)
			timeout = num("--timeout", argv[++i], 1, 3600000);
		else if (strcmp(argv[i], "--count") == 0)
			count = num("--count", argv[++i], 1, 1000000);
		else if (strcmp(argv[i], "--time") == 0)
			secs = num("--time", argv[++i], 1, 86400);
		else
			usage();
	}
	if (nargs == 3)
		return ping(argv[2], timeout);
	if (strcmp(argv[2], "tcp") == 0)
		tcp = 1;
	else if (strcmp(argv[2], "udp") == 0)
		tcp = 0;
	else {
		fprintf(stderr, "probe: '%s': expected tcp or udp\n", argv[2]);
		return 2;
	}
	if (nargs == 4) {
		port = num("port", argv[3], 1, 65535);
		return tcp ? serve_tcp(port, count, secs) :
		    serve_udp(port, count, secs);
	}
	port = num("port", argv[4], 1, 65535);
	return tcp ? connect_tcp(argv[3], port, timeout) :
	    connect_udp(argv[3], port, timeout);
}
