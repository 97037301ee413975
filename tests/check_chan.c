/*
 * chan.c: the frames between fwctld and its HTTP front.  What is built is
 * read back field by field, a passed fd arrives with its frame, and every
 * frame that breaks the format is refused whole: a length past the end, a
 * string with a NUL inside, a field missing or left over, a header of the
 * wrong magic or type or size, a stream cut short.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"

static int	 sv[2];

static void
pair_up(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
}

static void
pair_down(void)
{
	close(sv[0]);
	close(sv[1]);
}

START_TEST(round_trip)
{
	struct chan_buf	 b;
	struct chan_msg	 m;
	uint32_t	 u;
	uint64_t	 v;
	const char	*s, *absent, *bytes;
	size_t		 len;
	int		 fd;

	pair_up();
	chan_buf_init(&b);
	chan_put_u32(&b, 7);
	chan_put_u64(&b, UINT64_C(1) << 40);
	chan_put_str(&b, "héllo");
	chan_put_str(&b, NULL);
	chan_put_bytes(&b, "a\0b", 3);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(chan_send(sv[0], CHAN_HEAD, 42, &b, fd), 0);
	close(fd);
	chan_buf_free(&b);
	ck_assert_int_eq(chan_recv(sv[1], &m, CHAN_PAYLOAD_MAX), 1);
	ck_assert_uint_eq(m.type, CHAN_HEAD);
	ck_assert_uint_eq(m.id, 42);
	ck_assert_int_ge(m.fd, 0);
	ck_assert(chan_get_u32(&m, &u) && u == 7);
	ck_assert(chan_get_u64(&m, &v) && v == UINT64_C(1) << 40);
	ck_assert(chan_get_str(&m, &s, 64));
	ck_assert_str_eq(s, "héllo");
	ck_assert(chan_get_str(&m, &absent, 64));
	ck_assert_ptr_null(absent);
	/* bytes may hold a NUL; a string may not */
	ck_assert(chan_get_bytes(&m, &bytes, &len, 64));
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(bytes, "a\0b", 3), 0);
	ck_assert(chan_done(&m));
	/* nothing more to read */
	ck_assert(!chan_get_u32(&m, &u));
	ck_assert(!chan_done(&m));
	chan_msg_free(&m);
	pair_down();
}
END_TEST

/* Each read that does not fit fails, and so does every later one. */
START_TEST(bad_fields_refused)
{
	struct chan_buf	 b;
	struct chan_msg	 m;
	const char	*s;
	uint32_t	 u;
	size_t		 len;

	pair_up();
	/* a string with a NUL inside */
	chan_buf_init(&b);
	chan_put_bytes(&b, "ab\0cd", 5);
	ck_assert_int_eq(chan_send(sv[0], CHAN_LOG, 0, &b, -1), 0);
	chan_buf_free(&b);
	ck_assert_int_eq(chan_recv(sv[1], &m, CHAN_PAYLOAD_MAX), 1);
	ck_assert(!chan_get_str(&m, &s, 64));
	ck_assert(!chan_done(&m));
	chan_msg_free(&m);

	/* longer than the reader allows */
	chan_buf_init(&b);
	chan_put_str(&b, "0123456789");
	ck_assert_int_eq(chan_send(sv[0], CHAN_LOG, 0, &b, -1), 0);
	chan_buf_free(&b);
	ck_assert_int_eq(chan_recv(sv[1], &m, CHAN_PAYLOAD_MAX), 1);
	ck_assert(!chan_get_str(&m, &s, 9));
	chan_msg_free(&m);

	/* a length past the end of the frame */
	chan_buf_init(&b);
	chan_put_u32(&b, 1000);
	chan_put_u32(&b, 0);
	ck_assert_int_eq(chan_send(sv[0], CHAN_LOG, 0, &b, -1), 0);
	chan_buf_free(&b);
	ck_assert_int_eq(chan_recv(sv[1], &m, CHAN_PAYLOAD_MAX), 1);
	ck_assert(!chan_get_bytes(&m, &s, &len, 1u << 20));
	ck_assert(!chan_get_u32(&m, &u));
	chan_msg_free(&m);

	/* a field left over */
	chan_buf_init(&b);
	chan_put_u32(&b, 1);
	chan_put_u32(&b, 2);
	ck_assert_int_eq(chan_send(sv[0], CHAN_LOG, 0, &b, -1), 0);
	chan_buf_free(&b);
	ck_assert_int_eq(chan_recv(sv[1], &m, CHAN_PAYLOAD_MAX), 1);
	ck_assert(chan_get_u32(&m, &u));
	ck_assert(!chan_done(&m));
	chan_msg_free(&m);
	pair_down();
}
END_TEST

/* Raw headers: magic, type and size are checked before any payload. */
START_TEST(bad_frames_refused)
{
	struct chan_msg	 m;
	struct {
		uint16_t	 magic;
		uint16_t	 type;
		uint32_t	 len;
		uint64_t	 id;
	} h;

	pair_up();
	memset(&h, 0, sizeof(h));
	h.magic = 0x1234;
	h.type = CHAN_HEAD;
	ck_assert_int_eq(write(sv[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	ck_assert_int_eq(chan_recv(sv[1], &m, CHAN_PAYLOAD_MAX), -1);
	pair_down();

	pair_up();
	h.magic = 0x6677;
	h.type = CHAN_TYPE_MAX;
	ck_assert_int_eq(write(sv[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	ck_assert_int_eq(chan_recv(sv[1], &m, CHAN_PAYLOAD_MAX), -1);
	pair_down();

	pair_up();
	h.type = CHAN_BODY;
	h.len = CHAN_PAYLOAD_MAX + 1;
	ck_assert_int_eq(write(sv[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	ck_assert_int_eq(chan_recv(sv[1], &m, CHAN_PAYLOAD_MAX), -1);
	pair_down();

	/* a payload cut short by the end of the stream */
	pair_up();
	h.len = 100;
	ck_assert_int_eq(write(sv[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	ck_assert_int_eq(write(sv[0], "abc", 3), 3);
	close(sv[0]);
	ck_assert_int_eq(chan_recv(sv[1], &m, CHAN_PAYLOAD_MAX), -1);
	close(sv[1]);

	/* the end of the stream between frames is the end, not an error */
	pair_up();
	close(sv[0]);
	ck_assert_int_eq(chan_recv(sv[1], &m, CHAN_PAYLOAD_MAX), 0);
	close(sv[1]);
}
END_TEST

/* A frame larger than the socket's buffer goes whole. */
START_TEST(big_frame)
{
	struct chan_buf	 b;
	struct chan_msg	 m;
	const char	*p;
	size_t		 len, n = 8u << 20;
	char		*big;
	pid_t		 pid;
	int		 st;

	pair_up();
	big = malloc(n);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', n);
	chan_buf_init(&b);
	chan_put_bytes(&b, big, n);
	if ((pid = fork()) == 0)
		_exit(chan_send(sv[0], CHAN_BODY, 9, &b, -1) == 0 ? 0 : 1);
	ck_assert_int_eq(chan_recv(sv[1], &m, CHAN_PAYLOAD_MAX), 1);
	ck_assert(chan_get_bytes(&m, &p, &len, n));
	ck_assert_uint_eq(len, n);
	ck_assert_int_eq(memcmp(p, big, n), 0);
	ck_assert(chan_done(&m));
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	chan_msg_free(&m);
	chan_buf_free(&b);
	free(big);
	pair_down();
}
END_TEST

static Suite *
chan_suite(void)
{
	Suite	*s = suite_create("chan");
	TCase	*tc = tcase_create("chan");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, bad_fields_refused);
	tcase_add_test(tc, bad_frames_refused);
	tcase_add_test(tc, big_frame);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(chan_suite());
	int	 nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
