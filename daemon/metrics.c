/*
 * Prometheus metrics (metrics.h).  One scrape reads one snapshot and the
 * kernel's counters once, sorts the counters by name and looks each rule,
 * NAT entry and policy up in them: O(n log n) in the rules, no allocation
 * per rule but the output buffer.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

#define METRICS_NOPS		(CHANGE_REVERT + 1)
#define METRICS_NRESULTS	9

/* Upper bounds of the apply latency buckets, in microseconds. */
static const uint64_t metrics_buckets[] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};
#define METRICS_NBUCKETS (sizeof(metrics_buckets) / sizeof(metrics_buckets[0]))

static const char *const metrics_results[METRICS_NRESULTS] = {
	"ok", "unchanged", "invalid", "conflict", "not_found", "stale",
	"refused", "failed", "other",
};

struct metrics {
	pthread_mutex_t	 mtx;
	uint64_t	 changes[METRICS_NOPS][METRICS_NRESULTS];
	uint64_t	 dry_runs;
	uint64_t	 front_restarts;
	uint64_t	 refusals;	/* by the kernel */
	uint64_t	 buckets[METRICS_NBUCKETS];
	uint64_t	 apply_count;
	uint64_t	 apply_usecs;
	time_t		 started;
};

struct metrics *
metrics_new(void)
{
	struct metrics	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	pthread_mutex_init(&m->mtx, NULL);
	m->started = time(NULL);
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->mtx);
	free(m);
}

static unsigned
metrics_result(const struct engine_event *ev)
{
	switch (ev->status) {
	case ENGINE_OK:
	case ENGINE_CREATED:
		return ev->applied ? 0 : 1;
	case ENGINE_INVALID:	return 2;
	case ENGINE_CONFLICT:	return 3;
	case ENGINE_NOTFOUND:	return 4;
	case ENGINE_STALE:	return 5;
	case ENGINE_REFUSED:	return 6;
	case ENGINE_FAILED:	return 7;
	}
	return 8;
}

void
metrics_observe(struct metrics *m, const struct engine_event *ev)
{
	size_t	 i;

	pthread_mutex_lock(&m->mtx);
	if (ev->dry_run)
		m->dry_runs++;
	else if ((unsigned)ev->op < METRICS_NOPS)
		m->changes[ev->op][metrics_result(ev)]++;
	if (ev->status == ENGINE_REFUSED)
		m->refusals++;
	/* the latency of what reached the kernel and the disk */
	if (ev->applied && !ev->dry_run) {
		for (i = 0; i < METRICS_NBUCKETS; i++)
			if (ev->usecs <= metrics_buckets[i])
				m->buckets[i]++;
		m->apply_count++;
		m->apply_usecs += ev->usecs;
	}
	pthread_mutex_unlock(&m->mtx);
}

/* A label value: backslash, quote and newline escaped. */
static void
metrics_label(FILE *f, const char *s)
{
	for (; s != NULL && *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void
metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_gauge(FILE *f, const char *name, const char *help, double v)
{
	metrics_head(f, name, "gauge", help);
	fprintf(f, "%s %.17g\n", name, v);
}

static int
metrics_ctr_cmp(const void *a, const void *b)
{
	const struct nft_counter *x = a, *y = b;

	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static const struct nft_counter *
metrics_ctr(const struct nft_counters *c, const char *name)
{
	struct nft_counter	 key;

	if (c == NULL || c->n == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.name = (char *)(uintptr_t)name;	/* bsearch key, not written */
	return bsearch(&key, c->v, c->n, sizeof(c->v[0]), metrics_ctr_cmp);
}

/* One family of per-object counters: NAME_packets_total and _bytes_total,
 * each sample labelled by lab(). */
struct metrics_objs {
	const char	*name;
	const char	*what;
	size_t		 n;
	const char	*(*key)(const struct ruleset *, size_t, char *, size_t);
	void		(*labels)(FILE *, const struct ruleset *, size_t);
};

static const char *
metrics_rule_key(const struct ruleset *rs, size_t i, char *buf, size_t len)
{
	return rs->rules[i]->name;
}

static void
metrics_rule_labels(FILE *f, const struct ruleset *rs, size_t i)
{
	const struct rule *r = rs->rules[i];

	fputs("rule=\"", f);
	metrics_label(f, r->name);
	fputs("\",from=\"", f);
	metrics_label(f, r->from);
	fputs("\",to=\"", f);
	metrics_label(f, r->to);
	fprintf(f, "\",verdict=\"%s\"", verdict_name(r->verdict));
}

static const char *
metrics_nat_key(const struct ruleset *rs, size_t i, char *buf, size_t len)
{
	return rs->nats[i]->name;
}

static void
metrics_nat_labels(FILE *f, const struct ruleset *rs, size_t i)
{
	const struct nat *n = rs->nats[i];

	fputs("nat=\"", f);
	metrics_label(f, n->name);
	fprintf(f, "\",kind=\"%s\",from=\"", nat_kind_name(n->kind));
	metrics_label(f, n->from);
	fputs("\",to=\"", f);
	metrics_label(f, n->to ? n->to : "");
	fputs("\"", f);
}

/* nft.c counts a policy's verdict as "policy FROM -> TO" */
static const char *
metrics_policy_key(const struct ruleset *rs, size_t i, char *buf,
    size_t len)
{
	snprintf(buf, len, "policy %s -> %s", rs->policies[i]->from,
	    rs->policies[i]->to);
	return buf;
}

static void
metrics_policy_labels(FILE *f, const struct ruleset *rs, size_t i)
{
	const struct policy *p = rs->policies[i];

	fputs("from=\"", f);
	metrics_label(f, p->from);
	fputs("\",to=\"", f);
	metrics_label(f, p->to);
	fprintf(f, "\",verdict=\"%s\"", verdict_name(p->verdict));
}

static void
metrics_objs(FILE *f, const struct ruleset *rs, const struct nft_counters *c,
    const struct metrics_objs *o)
{
	const struct nft_counter *k;
	char		 buf[256], help[256];
	int		 pass;
	size_t		 i;

	for (pass = 0; pass < 2; pass++) {
		snprintf(buf, sizeof(buf), "fwctl_%s_%s_total", o->name,
		    pass ? "bytes" : "packets");
		snprintf(help, sizeof(help), "%s matched by each %s (the "
		    "kernel's counter; starts again when it changes)",
		    pass ? "Bytes" : "Packets", o->what);
		metrics_head(f, buf, "counter", help);
		/* unread counters are no samples, not zeros (a reset) */
		for (i = 0; c != NULL && i < o->n; i++) {
			char	 key[2 * 64 + 16];

			k = metrics_ctr(c, o->key(rs, i, key, sizeof(key)));
			fprintf(f, "%s{", buf);
			o->labels(f, rs, i);
			fprintf(f, "} %" PRIu64 "\n", k == NULL ? 0 :
			    pass ? k->bytes : k->packets);
		}
	}
}

static void
metrics_sets(FILE *f, const struct ruleset *rs)
{
	size_t	 i;

	metrics_head(f, "fwctl_set_elements", "gauge",
	    "Elements in each named set");
	for (i = 0; i < rs->nsets; i++) {
		fputs("fwctl_set_elements{set=\"", f);
		metrics_label(f, rs->sets[i]->name);
		fprintf(f, "\",type=\"%s\"} %zu\n",
		    set_type_name(rs->sets[i]->type), rs->sets[i]->nelems);
	}
}

static void
metrics_objects(FILE *f, const struct ruleset *rs)
{
	metrics_head(f, "fwctl_objects", "gauge",
	    "Objects of the live ruleset, by kind");
	fprintf(f, "fwctl_objects{kind=\"zones\"} %zu\n"
	    "fwctl_objects{kind=\"policies\"} %zu\n"
	    "fwctl_objects{kind=\"rules\"} %zu\n"
	    "fwctl_objects{kind=\"nat\"} %zu\n"
	    "fwctl_objects{kind=\"sets\"} %zu\n", rs->nzones, rs->npolicies,
	    rs->nrules, rs->nnats, rs->nsets);
}

/* The change counters and the latency histogram, under the lock. */
static void
metrics_changes(FILE *f, struct metrics *m)
{
	unsigned	 op, res;
	size_t		 i;
	const char	*p;

	pthread_mutex_lock(&m->mtx);
	metrics_head(f, "fwctl_changes_total", "counter",
	    "Changes the engine ran (dry runs aside), by operation and "
	    "result");
	for (op = CHANGE_REPLACE; op < METRICS_NOPS; op++)
		for (res = 0; res < METRICS_NRESULTS; res++) {
			if (m->changes[op][res] == 0 && res != 0)
				continue;
			fputs("fwctl_changes_total{op=\"", f);
			for (p = edit_op_name(op); *p; p++)
				fputc(*p == ' ' ? '_' : *p, f);
			fprintf(f, "\",result=\"%s\"} %" PRIu64 "\n",
			    metrics_results[res], m->changes[op][res]);
		}
	metrics_head(f, "fwctl_dry_runs_total", "counter",
	    "Changes tried as dry runs");
	fprintf(f, "fwctl_dry_runs_total %" PRIu64 "\n", m->dry_runs);
	metrics_head(f, "fwctl_http_front_restarts_total", "counter",
	    "HTTP fronts started again after the one serving ended");
	fprintf(f, "fwctl_http_front_restarts_total %" PRIu64 "\n",
	    m->front_restarts);
	metrics_head(f, "fwctl_kernel_refusals_total", "counter",
	    "Changes the kernel refused");
	fprintf(f, "fwctl_kernel_refusals_total %" PRIu64 "\n", m->refusals);
	metrics_head(f, "fwctl_apply_duration_seconds", "histogram",
	    "Time from request to a new generation (kernel and disk)");
	/* buckets[i] counts every change up to its bound: cumulative */
	for (i = 0; i < METRICS_NBUCKETS; i++)
		fprintf(f, "fwctl_apply_duration_seconds_bucket{le=\"%g\"} %"
		    PRIu64 "\n", (double)metrics_buckets[i] / 1e6,
		    m->buckets[i]);
	fprintf(f, "fwctl_apply_duration_seconds_bucket{le=\"+Inf\"} %"
	    PRIu64 "\n", m->apply_count);
	fprintf(f, "fwctl_apply_duration_seconds_sum %.6f\n",
	    (double)m->apply_usecs / 1e6);
	fprintf(f, "fwctl_apply_duration_seconds_count %" PRIu64 "\n",
	    m->apply_count);
	pthread_mutex_unlock(&m->mtx);
}

static void
metrics_state(FILE *f, struct metrics *m, struct engine *e,
    const struct engine_status_info *info, bool have)
{
	metrics_head(f, "fwctl_build_info", "gauge",
	    "The running fwctld's version");
	fprintf(f, "fwctl_build_info{version=\"%s\",table=\"", FWCTL_VERSION);
	metrics_label(f, engine_table(e));
	fputs("\"} 1\n", f);
	metrics_gauge(f, "fwctl_start_time_seconds",
	    "When fwctld started, in seconds since the epoch",
	    (double)m->started);
	metrics_gauge(f, "fwctl_generation",
	    "Generation of the live ruleset", (double)info->generation);
	metrics_gauge(f, "fwctl_table_present",
	    "1 when fwctl's table is in the kernel", info->table_present == 1);
	metrics_gauge(f, "fwctl_drift",
	    "1 when another program changed fwctl's table", info->drift);
	metrics_gauge(f, "fwctl_live_changes", "Objects of the live ruleset "
	    "the rules directory does not say (-1: cannot tell)",
	    (double)info->live_changes);
	metrics_gauge(f, "fwctl_pending_generation", "Generation awaiting "
	    "confirmation (0: none)", (double)info->pending);
	metrics_gauge(f, "fwctl_pending_seconds_left", "Seconds until the "
	    "generation awaiting confirmation is reverted (0: none)",
	    (double)(info->pending ? info->pending_secs : 0));
	metrics_gauge(f, "fwctl_pending_deadline_timestamp_seconds", "When "
	    "the generation awaiting confirmation is reverted, in seconds "
	    "since the epoch (0: none)", info->pending ?
	    (double)(time(NULL) + (time_t)info->pending_secs) : 0);
	metrics_gauge(f, "fwctl_counters_up",
	    "1 when the kernel's counters could be read", have);
}

void
metrics_front_restart(struct metrics *m)
{
	pthread_mutex_lock(&m->mtx);
	m->front_restarts++;
	pthread_mutex_unlock(&m->mtx);
}

char *
metrics_render(struct metrics *m, struct engine *e, size_t *len)
{
	struct engine_status_info info;
	struct nft_counters	 c;
	struct snapshot		 s;
	struct diags		 d;
	struct metrics_objs	 o;
	FILE			*f;
	char			*buf = NULL;
	bool			 have;

	*len = 0;
	engine_info(e, &info);
	diags_init(&d);
	have = engine_counters(e, &c, &d) == 0;
	diags_free(&d);
	if (have)
		qsort(c.v, c.n, sizeof(c.v[0]), metrics_ctr_cmp);
	if ((f = open_memstream(&buf, len)) == NULL) {
		if (have)
			nft_counters_free(&c);
		return NULL;
	}
	metrics_state(f, m, e, &info, have);
	metrics_changes(f, m);
	engine_snapshot(e, &s);
	metrics_objects(f, s.rs);
	metrics_sets(f, s.rs);
	o = (struct metrics_objs){ "rule", "rule", s.rs->nrules,
	    metrics_rule_key, metrics_rule_labels };
	metrics_objs(f, s.rs, have ? &c : NULL, &o);
	o = (struct metrics_objs){ "nat", "NAT entry", s.rs->nnats,
	    metrics_nat_key, metrics_nat_labels };
	metrics_objs(f, s.rs, have ? &c : NULL, &o);
	o = (struct metrics_objs){ "policy", "declared policy, in the zone "
	    "pairs it covers", s.rs->npolicies,
	    metrics_policy_key, metrics_policy_labels };
	metrics_objs(f, s.rs, have ? &c : NULL, &o);
	engine_release(e, &s);
	if (have)
		nft_counters_free(&c);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
