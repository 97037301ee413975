/*
 * The lab proves itself: topology, forwarding without a firewall, the wan
 * host unreachable without NAT, both families, TCP, UDP and ICMP, and
 * nothing left behind.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <net/if.h>

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/lab.h"

static struct lab *lab;

static void
lab_setup(void)
{
	lab = lab_up();
	if (lab == NULL) {
		fprintf(stderr, "lab_lab: lab_up failed\n");
		exit(1);
	}
}

/* Labs made inside a forked test die with it: the sweep takes them. */
static void
lab_teardown(void)
{
	lab_down(lab);
	lab = NULL;
	lab_sweep();
}


/* How many lines of `ip netns list` start with "prefix-". */
static int
netns_count(const char *prefix)
{
	char line[256];
	size_t n = strlen(prefix);
	FILE *f;
	int count = 0;

	f = popen("ip netns list", "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, prefix, n) == 0 && line[n] == '-')
			count++;
	ck_assert_int_eq(pclose(f), 0);
	return count;
}

static void
assert_sysctl(const char *role, const char *path, const char *want)
{
	char *out = lab_output(lab, role, "cat /proc/sys/%s", path);

	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strcmp(out, want) == 0, "%s: %s is '%s', want '%s'",
	    role, path, out, want);
	free(out);
}

START_TEST(topology)
{
	static const char *const roles[] = { "router", "wan", "lan", "dmz" };
	char want[128], *out;
	size_t i;

	ck_assert_int_eq(netns_count(lab_prefix(lab)), 4);
	for (i = 0; i < 4; i++) {
		snprintf(want, sizeof(want), "%s-%s", lab_prefix(lab),
		    roles[i]);
		ck_assert_str_eq(lab_ns(lab, roles[i]), want);
	}
	ck_assert_ptr_null(lab_ns(lab, "internet"));
	/* Forwarding is per namespace: on in the router, off elsewhere. */
	assert_sysctl("router", "net/ipv4/ip_forward", "1\n");
	assert_sysctl("router", "net/ipv6/conf/all/forwarding", "1\n");
	assert_sysctl("lan", "net/ipv4/ip_forward", "0\n");
	assert_sysctl("wan", "net/ipv6/conf/all/forwarding", "0\n");
	assert_sysctl("dmz", "net/ipv6/conf/eth0/accept_dad", "0\n");

	out = lab_output(lab, "router", "ip -br addr show dev lan0");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "10.50.1.1/24") && strstr(out,
	    "fd50:1::1/64") && strstr(out, "UP"), "lan0: %s", out);
	free(out);
	out = lab_output(lab, "wan", "ip -br addr show dev eth0");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "10.50.0.2/24") && strstr(out,
	    "fd50::2/64"), "wan eth0: %s", out);
	free(out);
	/* No IPv6 address may still be tentative. */
	out = lab_output(lab, "lan", "ip -6 addr show tentative");
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "");
	free(out);
	/* The wan host has no way back to lan or dmz. */
	out = lab_output(lab, "wan", "ip route show default; "
	    "ip -6 route show default");
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "");
	free(out);
	out = lab_output(lab, "dmz", "ip route show default");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "via 10.50.2.1") != NULL, "dmz: %s", out);
	free(out);
}
END_TEST

START_TEST(exec_and_output)
{
	long long t0;
	char *out;
	int status;

	ck_assert_int_eq(lab_exec(lab, "lan", "true"), 0);
	ck_assert_int_eq(lab_exec(lab, "lan", "exit 3"), 3);
	ck_assert_int_eq(lab_exec(lab, "lan", "kill -9 $$"), 128 + 9);
	ck_assert_int_eq(lab_exec(lab, "moon", "true"), -1);
	out = lab_output(lab, "dmz", "ip -br link show dev eth0 | "
	    "cut -d@ -f1; printf x");
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "eth0\nx");
	free(out);
	out = lab_output_status(lab, &status, "wan", "echo no; exit 7");
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "no\n");
	ck_assert_int_eq(status, 7);
	free(out);
	/* A background child holding stdout does not hold the caller. */
	t0 = lab_now();
	out = lab_output(lab, "lan", "sleep 20 & echo started");
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "started\n");
	free(out);
	ck_assert_int_lt(lab_now() - t0, 5000);
}
END_TEST

START_TEST(spawn_and_stop)
{
	pid_t pid;

	pid = lab_spawn(lab, "dmz", "sleep 30");
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, 0), 0);
	ck_assert_int_eq(lab_stop(lab, pid), 0);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	ck_assert_int_eq(lab_stop(lab, pid), -1);

	ck_assert_int_eq(lab_wait_port(lab, "dmz", "udp", 7010, 100), -1);
	pid = lab_spawn(lab, "dmz", "exec %s serve udp 7010 >/dev/null",
	    lab_tool("probe"));
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(lab_wait_port(lab, "dmz", "udp", 7010, 3000), 0);
	ck_assert_int_eq(lab_stop(lab, pid), 0);
}
END_TEST

START_TEST(router_reachable)
{
	char src[64];

	ck_assert_int_gt(lab_serve(lab, "router", "tcp", 7001), 0);
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "10.50.1.1", 7001, 2000,
	    src, sizeof(src)), 0);
	ck_assert_str_eq(src, "10.50.1.10");
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "fd50:1::1", 7001, 2000,
	    src, sizeof(src)), 0);
	ck_assert_str_eq(src, "fd50:1::10");
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 7001, 2000,
	    src, sizeof(src)), 0);
	ck_assert_str_eq(src, "10.50.0.2");
}
END_TEST

START_TEST(lan_to_dmz_forwarded)
{
	char src[64], reply[160];

	ck_assert_int_gt(lab_serve(lab, "dmz", "tcp", 7002), 0);
	/* No firewall and no NAT: dmz sees the lan host itself. */
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "10.50.2.10", 7002, 2000,
	    src, sizeof(src)), 0);
	ck_assert_str_eq(src, "10.50.1.10");
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "fd50:2::10", 7002, 2000,
	    src, sizeof(src)), 0);
	ck_assert_str_eq(src, "fd50:1::10");
	ck_assert_int_eq(lab_connect(lab, "lan", "tcp", "10.50.2.10", 7002,
	    2000, reply, sizeof(reply)), 0);
	ck_assert_msg(strncmp(reply, "10.50.1.10 ", 11) == 0 &&
	    strstr(reply, " 10.50.2.10 7002") != NULL, "reply: %s", reply);
	/* Nobody listens on 7003: refused, not a timeout. */
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "10.50.2.10", 7003, 2000,
	    src, sizeof(src)), -1);
	ck_assert_str_eq(src, "");
}
END_TEST

START_TEST(wan_unreachable_without_nat)
{
	char src[64];
	long long t0;

	ck_assert_int_gt(lab_serve(lab, "wan", "tcp", 7004), 0);
	ck_assert_int_gt(lab_serve(lab, "wan", "udp", 7004), 0);
	/* The server is up: the router, on its subnet, reaches it. */
	ck_assert_int_eq(lab_tcp_connect(lab, "router", "10.50.0.2", 7004,
	    2000, src, sizeof(src)), 0);
	ck_assert_str_eq(src, "10.50.0.1");
	ck_assert_int_eq(lab_tcp_connect(lab, "router", "fd50::2", 7004,
	    2000, src, sizeof(src)), 0);
	ck_assert_str_eq(src, "fd50::1");
	/* The lan host's packets arrive but the answers have no route. */
	t0 = lab_now();
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "10.50.0.2", 7004, 500,
	    src, sizeof(src)), -1);
	ck_assert_int_ge(lab_now() - t0, 400);
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "fd50::2", 7004, 500,
	    NULL, 0), -1);
	ck_assert_int_eq(lab_udp_probe(lab, "lan", "10.50.0.2", 7004, 500,
	    NULL, 0), -1);
	ck_assert_int_eq(lab_udp_probe(lab, "dmz", "fd50::2", 7004, 500,
	    NULL, 0), -1);
	ck_assert_int_eq(lab_ping(lab, "lan", "10.50.0.2", 500), -1);
	ck_assert_int_eq(lab_ping(lab, "dmz", "fd50::2", 500), -1);
	ck_assert_int_eq(lab_ping(lab, "router", "10.50.0.2", 2000), 0);
}
END_TEST

START_TEST(udp_both_families)
{
	char src[64], reply[160];

	ck_assert_int_gt(lab_serve(lab, "dmz", "udp", 7005), 0);
	ck_assert_int_eq(lab_udp_probe(lab, "lan", "10.50.2.10", 7005, 2000,
	    src, sizeof(src)), 0);
	ck_assert_str_eq(src, "10.50.1.10");
	ck_assert_int_eq(lab_udp_probe(lab, "lan", "fd50:2::10", 7005, 2000,
	    src, sizeof(src)), 0);
	ck_assert_str_eq(src, "fd50:1::10");
	/* Nobody listens on 7006: ICMP port unreachable, so -1. */
	ck_assert_int_eq(lab_udp_probe(lab, "lan", "10.50.2.10", 7006, 2000,
	    src, sizeof(src)), -1);

	/* The router answers from the address asked, not the nearest. */
	ck_assert_int_gt(lab_serve(lab, "router", "udp", 7005), 0);
	ck_assert_int_eq(lab_connect(lab, "lan", "udp", "10.50.0.1", 7005,
	    2000, reply, sizeof(reply)), 0);
	ck_assert_msg(strncmp(reply, "10.50.1.10 ", 11) == 0 &&
	    strstr(reply, " 10.50.0.1 7005") != NULL, "reply: %s", reply);
	ck_assert_int_eq(lab_connect(lab, "lan", "udp", "fd50:2::1", 7005,
	    2000, reply, sizeof(reply)), 0);
	ck_assert_msg(strncmp(reply, "fd50:1::10 ", 11) == 0 &&
	    strstr(reply, " fd50:2::1 7005") != NULL, "reply: %s", reply);
}
END_TEST

START_TEST(ping_both_families)
{
	ck_assert_int_eq(lab_ping(lab, "lan", "10.50.1.1", 2000), 0);
	ck_assert_int_eq(lab_ping(lab, "lan", "10.50.2.10", 2000), 0);
	ck_assert_int_eq(lab_ping(lab, "lan", "fd50:2::10", 2000), 0);
	ck_assert_int_eq(lab_ping(lab, "dmz", "fd50:1::10", 2000), 0);
	ck_assert_int_eq(lab_ping(lab, "wan", "fd50::1", 2000), 0);
	ck_assert_int_eq(lab_ping(lab, "lan", "10.50.9.9", 300), -1);
	ck_assert_int_eq(lab_ping(lab, "lan", "10.50.1.1; true", 300), -1);
}
END_TEST

START_TEST(bad_arguments)
{
	ck_assert_int_eq(lab_serve(lab, "dmz", "sctp", 7007), -1);
	ck_assert_int_eq(lab_serve(lab, "mars", "tcp", 7007), -1);
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "$(reboot)", 7007, 100,
	    NULL, 0), -1);
	ck_assert_int_eq(lab_wait_port(lab, "lan", "icmp", 1, 100), -1);
	/* A second server on a busy port fails instead of pretending. */
	ck_assert_int_gt(lab_serve(lab, "dmz", "tcp", 7008), 0);
	ck_assert_int_eq(lab_serve(lab, "dmz", "tcp", 7008), -1);
	ck_assert_ptr_null(lab_up_prefix("bad/prefix"));
	ck_assert_ptr_null(lab_up_prefix(""));
	lab_down(NULL);
}
END_TEST

/* A whole lab life in the forked child: up, use, down, nothing left. */
START_TEST(down_removes_everything)
{
	struct lab *l;
	char prefix[64];
	pid_t pid;

	l = lab_up();
	ck_assert_ptr_nonnull(l);
	snprintf(prefix, sizeof(prefix), "%s", lab_prefix(l));
	ck_assert_int_eq(netns_count(prefix), 4);
	/* Two labs at once do not clash. */
	ck_assert_str_ne(prefix, lab_prefix(lab));
	ck_assert_int_eq(netns_count(lab_prefix(lab)), 4);
	pid = lab_spawn(l, "router", "sleep 30");
	ck_assert_int_gt(pid, 0);
	/* Started behind the lab's back: lab_down kills it too. */
	ck_assert_int_eq(lab_exec(l, "wan", "sleep 30 & exit 0"), 0);
	lab_down(l);
	ck_assert_int_eq(netns_count(prefix), 0);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(netns_count(lab_prefix(lab)), 4);
}
END_TEST

/* A run that dies without lab_down leaves nothing after a sweep. */
START_TEST(sweep_removes_dead_labs)
{
	char prefix[64];
	int p[2], status;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct lab *l = lab_up();

		if (l != NULL)
			dprintf(p[1], "%s", lab_prefix(l));
		_exit(l != NULL ? 0 : 1);	/* "crash": no lab_down */
	}
	close(p[1]);
	n = read(p[0], prefix, sizeof(prefix) - 1);
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_gt(n, 0);
	prefix[n] = '\0';
	ck_assert_int_eq(netns_count(prefix), 4);
	lab_sweep();
	ck_assert_int_eq(netns_count(prefix), 0);
	/* A live lab is not a leftover. */
	ck_assert_int_eq(netns_count(lab_prefix(lab)), 4);
}
END_TEST

/* lab_enter moves this (forked) test into the namespace itself. */
START_TEST(enter_namespace)
{
	ck_assert_int_eq(lab_enter(lab, "pluto"), -1);
	ck_assert_int_eq(lab_enter(lab, "lan"), 0);
	ck_assert_uint_ne(if_nametoindex("eth0"), 0);
	ck_assert_uint_eq(if_nametoindex("lan0"), 0);
	ck_assert_int_eq(lab_enter(lab, "router"), 0);
	ck_assert_uint_eq(if_nametoindex("wan0"), 10);
	ck_assert_uint_eq(if_nametoindex("lan0"), 11);
	ck_assert_uint_eq(if_nametoindex("dmz0"), 12);
	ck_assert_uint_eq(if_nametoindex("eth0"), 0);
}
END_TEST

/* tools/lab, for humans and the demo, builds the same lab. */
static const char *
script(void)
{
	static char path[4096];
	const char *src = getenv("FWCTL_SRC");

	snprintf(path, sizeof(path), "%s/tools/lab", src ? src : ".");
	return path;
}

/* The script's lab belongs to the Check parent: its pid names it. */
static void
script_teardown(void)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "%s down fwlsh%d >/dev/null 2>&1",
	    script(), (int)getpid());
	if (system(cmd) != 0)
		fprintf(stderr, "lab_lab: %s failed\n", cmd);
}

static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	ck_assert_int_ne(vasprintf(&cmd, fmt, ap), -1);
	va_end(ap);
	rc = system(cmd);
	free(cmd);
	return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

START_TEST(script_same_topology)
{
	const char *probe = lab_tool("probe");
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "fwlsh%d", (int)getppid());
	ck_assert_int_eq(sh("%s up %s >/dev/null", script(), prefix), 0);
	ck_assert_int_eq(netns_count(prefix), 4);
	/* A second `up` of the same lab refuses and keeps it. */
	ck_assert_int_ne(sh("%s up %s 2>/dev/null", script(), prefix), 0);
	ck_assert_int_eq(netns_count(prefix), 4);
	ck_assert_int_eq(sh("ip -n %s-router -br addr show dev lan0 | "
	    "grep -q '10.50.1.1/24 fd50:1::1/64'", prefix), 0);
	ck_assert_int_eq(sh("ip -n %s-wan route show default | grep -q .",
	    prefix), 1);
	ck_assert_int_eq(sh("LAB_PREFIX=%s %s exec lan %s ping 10.50.2.10 "
	    ">/dev/null", prefix, script(), probe), 0);
	ck_assert_int_eq(sh("LAB_PREFIX=%s %s exec dmz %s ping fd50:1::10 "
	    ">/dev/null", prefix, script(), probe), 0);
	ck_assert_int_eq(sh("LAB_PREFIX=%s %s exec lan %s ping 10.50.0.2 "
	    "--timeout 300 2>/dev/null", prefix, script(), probe), 1);
	ck_assert_int_eq(sh("LAB_PREFIX=%s %s exec moon true 2>/dev/null",
	    prefix, script()), 1);
	/* Made by hand: a sweep leaves it alone, `down` removes it. */
	ck_assert_int_eq(sh("%s sweep", script()), 0);
	ck_assert_int_eq(netns_count(prefix), 4);
	ck_assert_int_eq(sh("%s down %s", script(), prefix), 0);
	ck_assert_int_eq(netns_count(prefix), 0);
	ck_assert_int_ne(sh("%s up 'a/b' 2>/dev/null", script()), 0);
}
END_TEST

static Suite *
lab_suite(void)
{
	Suite *s = suite_create("lab");
	TCase *tc;

	tc = tcase_create("shared");
	tcase_add_unchecked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, topology);
	tcase_add_test(tc, exec_and_output);
	tcase_add_test(tc, spawn_and_stop);
	tcase_add_test(tc, router_reachable);
	tcase_add_test(tc, lan_to_dmz_forwarded);
	tcase_add_test(tc, wan_unreachable_without_nat);
	tcase_add_test(tc, udp_both_families);
	tcase_add_test(tc, ping_both_families);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, down_removes_everything);
	tcase_add_test(tc, sweep_removes_dead_labs);
	tcase_add_test(tc, enter_namespace);
	suite_add_tcase(s, tc);
	tc = tcase_create("script");
	tcase_add_unchecked_fixture(tc, NULL, script_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, script_same_topology);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lab_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
