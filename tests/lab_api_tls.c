/*
 * The opt-in TCP listener: TLS with bearer tokens.  fwctld runs in the
 * lab's router namespace listening on its lan address; curl talks to it
 * from the router (loopback path) and from the lan host (through the
 * firewall fwctld itself programs).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/lab.h"

#define TOKEN		"s3cret-token-0123456789"
#define LISTEN		"10.50.1.1:8443"
#define URL		"https://10.50.1.1:8443"

static struct lab *lab;
static char	 dir[64];
static char	 sock[100];
static char	 fwctld[4096];

static const char base_rules[] =
    "zone wan { interface wan0; external }\n"
    "zone lan { interface lan0; network 10.50.1.0/24 }\n"
    "rule ssh from lan to self tcp dport 22 accept\n";



static char *
slurp(const char *path)
{
	FILE	*f = fopen(path, "r");
	char	*buf;
	size_t	 n;

	buf = calloc(1, 65536);
	ck_assert_ptr_nonnull(buf);
	if (f != NULL) {
		n = fread(buf, 1, 65535, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

static void
setup(void)
{
	const char	*env = getenv("FWCTLD");
	int		 st;

	if (env != NULL)
		snprintf(fwctld, sizeof(fwctld), "%s", env);
	else
		ck_assert_ptr_nonnull(realpath("daemon/fwctld", fwctld));
	snprintf(dir, sizeof(dir), "/tmp/fwctl-tls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_lt(snprintf(sock, sizeof(sock), "%s/fwctld.sock", dir),
	    (int)sizeof(sock));
	lab = lab_up();
	ck_assert_ptr_nonnull(lab);
	st = lab_exec(lab, "router", "cd %s && mkdir rules.d && printf '%%s' "
	    "'%s' > rules.d/a.rules && openssl req -x509 -newkey ec "
	    "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem "
	    "-out cert.pem -days 1 -subj /CN=10.50.1.1 "
	    "-addext subjectAltName=IP:10.50.1.1 >/dev/null 2>&1 && "
	    "chmod 600 key.pem && printf '# name token\\nadmin %s\\n' > "
	    "tokens && chmod 600 tokens", dir, base_rules, TOKEN);
	ck_assert_int_eq(st, 0);
	ck_assert_int_gt(lab_spawn(lab, "router", "exec %s --foreground "
	    "--socket %s --state-dir %s/state --rules-dir %s/rules.d "
	    "--listen %s --tls-cert %s/cert.pem --tls-key %s/key.pem "
	    "--tokens %s/tokens 2>%s/log", fwctld, sock, dir, dir, LISTEN,
	    dir, dir, dir, dir), 0);
	ck_assert(lab_wait_socket(sock, 20000) == 0);
	/* the TCP listener comes once the ruleset is applied */
	ck_assert(lab_wait_port(lab, "router", "tcp", 8443, 20000) == 0);
}

static void
teardown(void)
{
	char	 cmd[128];

	lab_down(lab);
	lab = NULL;
	if (dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		(void)!system(cmd);
	}
	dir[0] = '\0';
}

/* curl in a role; its output ("CODE" from -w, with -i headers if asked). */
static char *
curl(const char *role, const char *args)
{
	char	*out;
	int	 st;

	out = lab_output_status(lab, &st, role, "curl -s --max-time %d "
	    "--cacert %s/cert.pem -o /dev/null -w '%%{http_code}' %s",
	    lab_ms(5000) / 1000, dir, args);
	ck_assert_ptr_nonnull(out);
	return out;
}

START_TEST(test_token_required)
{
	char	*out;

	out = curl("router", URL "/v1/status");
	ck_assert_str_eq(out, "401");
	free(out);
	out = curl("router", "-H 'Authorization: Bearer wrong-token-0123456789' "
	    URL "/v1/status");
	ck_assert_str_eq(out, "401");
	free(out);
	out = curl("router", "-H 'Authorization: Bearer " TOKEN "x' "
	    URL "/v1/status");
	ck_assert_str_eq(out, "401");
	free(out);
	/* a problem+json body and the challenge */
	out = lab_output(lab, "router", "curl -s -i --max-time %d --cacert "
	    "%s/cert.pem " URL "/v1/ruleset", lab_ms(5000) / 1000, dir);
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(strcasestr(out, "WWW-Authenticate: Bearer"));
	ck_assert_ptr_nonnull(strstr(out, "application/problem+json"));
	ck_assert_ptr_nonnull(strstr(out, "\"status\":401"));
	free(out);
	/* plain HTTP on the TLS port gets nowhere */
	out = lab_output(lab, "router", "curl -s --max-time 5 -o /dev/null "
	    "-w '%%{http_code}' http://10.50.1.1:8443/v1/status");
	ck_assert_ptr_nonnull(out);
	ck_assert_str_ne(out, "200");
	free(out);
}
END_TEST

START_TEST(test_token_works_through_firewall)
{
	char	*out, *log, path[128];

	out = curl("router", "-H 'Authorization: Bearer " TOKEN "' "
	    URL "/v1/status");
	ck_assert_str_eq(out, "200");
	free(out);
	/* from the lan host, the firewall (default drop to self) is closed */
	out = curl("lan", "-H 'Authorization: Bearer " TOKEN "' "
	    URL "/v1/status");
	ck_assert_str_ne(out, "200");
	free(out);
	/* open it through the API itself, over TLS */
	out = curl("router", "-H 'Authorization: Bearer " TOKEN "' "
	    "-H 'Content-Type: text/plain' -X POST "
	    "--data-binary 'api-tls from lan to self tcp dport 8443 accept' "
	    URL "/v1/rules");
	ck_assert_str_eq(out, "201");
	free(out);
	out = curl("lan", "-H 'Authorization: Bearer " TOKEN "' "
	    URL "/v1/rules/api-tls");
	ck_assert_str_eq(out, "200");
	free(out);
	/* the change is logged with the token's name */
	snprintf(path, sizeof(path), "%s/log", dir);
	log = slurp(path);
	ck_assert_msg(strstr(log, "token admin: add rule") != NULL, "%s", log);
	free(log);
}
END_TEST

START_TEST(test_bad_configs_refused)
{
	int	 st;

	/* the four options go together */
	st = lab_exec(lab, "router", "%s --foreground --socket %s/x.sock "
	    "--state-dir %s/state --listen 127.0.0.1:9443 2>/dev/null",
	    fwctld, dir, dir);
	ck_assert_int_ne(st, 0);
	/* a tokens file others can read is refused */
	st = lab_exec(lab, "router", "cp %s/tokens %s/tokens.open && chmod 644 "
	    "%s/tokens.open && %s --foreground --socket %s/x.sock "
	    "--state-dir %s/state --listen 127.0.0.1:9443 --tls-cert "
	    "%s/cert.pem --tls-key %s/key.pem --tokens %s/tokens.open "
	    "2>%s/open.log", dir, dir, dir, fwctld, dir, dir, dir, dir, dir,
	    dir);
	ck_assert_int_ne(st, 0);
	{
		char	 path[128], *log;

		snprintf(path, sizeof(path), "%s/open.log", dir);
		log = slurp(path);
		ck_assert_msg(strstr(log, "readable by others") != NULL, "%s",
		    log);
		free(log);
	}
	/* nor one another user owns, or its group may write */
	{
		static const struct {
			const char *prep, *log;
		} bad[] = {
			{ "chown 65534 tokens.other", "expected root" },
			{ "chmod 620 tokens.other", "writable by its group" },
		};
		char	 path[128], *log;
		size_t	 i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			st = lab_exec(lab, "router", "cd %s && rm -f "
			    "tokens.other && cp tokens tokens.other && "
			    "chmod 600 tokens.other && %s && %s --foreground "
			    "--socket %s/x.sock --state-dir %s/state --listen "
			    "127.0.0.1:9443 --tls-cert %s/cert.pem --tls-key "
			    "%s/key.pem --tokens %s/tokens.other "
			    "2>%s/other.log", dir, bad[i].prep, fwctld, dir,
			    dir, dir, dir, dir, dir);
			ck_assert_int_ne(st, 0);
			snprintf(path, sizeof(path), "%s/other.log", dir);
			log = slurp(path);
			ck_assert_msg(strstr(log, bad[i].log) != NULL,
			    "%s: %s", bad[i].log, log);
			free(log);
		}
	}
	/* a malformed listen address */
	st = lab_exec(lab, "router", "%s --foreground --socket %s/x.sock "
	    "--state-dir %s/state --listen nonsense --tls-cert %s/cert.pem "
	    "--tls-key %s/key.pem --tokens %s/tokens 2>/dev/null", fwctld, dir,
	    dir, dir, dir, dir);
	ck_assert_int_ne(st, 0);
	/* the running daemon is untouched by all that */
	ck_assert(lab_socket_answers(sock));
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite	*s = suite_create("lab_api_tls");
	TCase	*tc = tcase_create("tls");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_token_required);
	tcase_add_test(tc, test_token_works_through_firewall);
	tcase_add_test(tc, test_bad_configs_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(tls_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
