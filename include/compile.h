/*
 * compile.c: the ruleset model into nf_tables objects for one table.
 *
 * The output is fwctl's own picture of the table (struct cplan): chains,
 * named sets and rules made of expressions that map one to one onto
 * nf_tables expressions. It holds no libnftnl object, so unit tests compare
 * it as data and as text (cplan_rule_format), and nft/ alone translates it
 * into netlink messages. nft/ also diffs the plan against what the kernel
 * holds rule by rule: a rule's identity is (chain, key), its content a hash
 * of its expressions (cplan_rule_hash).
 *
 * Layout of the table is described in docs/design-compile.md.
 */
#ifndef FWCTL_COMPILE_H
#define FWCTL_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ruleset.h"

#define COMPILE_DEFAULT_TABLE	"fwctl"

/* nf_tables data types (nftables' datatype ids) used as set keys. */
#define CTYPE_NFPROTO	2	/* meta nfproto */
#define CTYPE_INETPROTO	12	/* meta l4proto */
#define CTYPE_IPV4	7
#define CTYPE_IPV6	8
#define CTYPE_PORT	13
#define CTYPE_ICMP	14
#define CTYPE_ICMPV6	29
#define CTYPE_IFNAME	41
#define CTYPE_VERDICT	0xffffff00	/* NFT_DATA_VERDICT */

enum cx_type {
	CX_META = 1,	/* key -> dreg */
	CX_PAYLOAD,	/* base, offset, len -> dreg */
	CX_CT,		/* key -> dreg */
	CX_BITWISE,	/* sreg & mask ^ xor -> dreg, len */
	CX_CMP,		/* sreg op data (len) */
	CX_RANGE,	/* sreg within data..data2 (len) */
	CX_LOOKUP,	/* sreg in set (dreg = verdict for a map) */
	CX_COUNTER,
	CX_LIMIT,
	CX_LOG,
	CX_REJECT,
	CX_VERDICT,	/* immediate to the verdict register */
	CX_IMMEDIATE,	/* immediate data -> dreg (NAT addresses, ports) */
	CX_NAT,		/* snat/dnat from registers */
	CX_MASQ,
	CX_FIB,		/* fib lookup: key = NFTA_FIB_F_* flags, op =
			 * NFT_FIB_RESULT_* -> dreg */
	CX_DYNSET,	/* update sreg in set (timeout_ms), the element
			 * holding a limit (rate, unit, burst) of its own */
};

/* One expression. Fields not used by a type stay zero. Small fields
 * are narrow: a plan of 100,000 kernel rules holds some 800,000 of these
 * (their values: meta/ct keys, fib flags and payload bases below 256,
 * registers up to NFT_REG32_15, offsets and lengths of headers). */
struct cexpr {
	enum cx_type	 type;
	uint8_t		 key;		/* meta/ct key; payload base; fib
					 * flags */
	uint8_t		 sreg;
	uint8_t		 dreg;
	uint8_t		 op;		/* NFT_CMP_* / NFT_RANGE_* */
	uint16_t	 offset;
	uint8_t		 len;		/* bytes loaded / compared */
	bool		 invert;	/* lookup: match when absent */
	uint8_t		 reject_type;	/* NFT_REJECT_* */
	uint8_t		 reject_code;
	uint8_t		 nat_type;	/* NFT_NAT_SNAT / DNAT */
	uint8_t		 nat_family;	/* NFPROTO_IPV4 / IPV6 */
	uint8_t		 reg_addr;	/* nat: 0 = none */
	uint8_t		 reg_proto;	/* nat: 0 = none */
	uint16_t	 nat_flags;	/* NF_NAT_RANGE_* */
	uint8_t		 data[16];	/* cmp value, range low, bitwise mask,
					 * immediate data */
	uint8_t		 data2[16];	/* range high, bitwise xor */
	int		 set_anon;	/* lookup: index into the rule's anonymous
					 * sets + 1, or 0 for a named set */
	int		 verdict;	/* NF_ACCEPT, NF_DROP, NFT_JUMP, NFT_GOTO */
	uint32_t	 burst;
	char		*set;		/* lookup: set name */
	char		*chain;		/* jump/goto target */
	char		*prefix;	/* log */
	uint64_t	 rate;		/* limit */
	uint64_t	 unit;		/* limit: seconds */
	uint64_t	 timeout_ms;	/* dynset: element timeout */
};

/* A set element: a key (or an interval start / end) and, in a verdict map,
 * the verdict. */
struct celem {
	uint8_t		 key[32];
	uint8_t		 key_end[32];	/* when ranged */
	uint16_t	 key_len;	/* (small: a million elements are held
					 * in the picture of a set) */
	bool		 end;		/* NFT_SET_ELEM_INTERVAL_END */
	bool		 ranged;	/* key .. key_end, both inclusive: an
					 * element of a concatenation with
					 * intervals (NFT_SET_CONCAT) */
	bool		 remake;	/* nft/'s picture: made again by the
					 * next diff (a count carried to it) */
	int		 verdict;	/* maps: NFT_JUMP / NFT_GOTO / NF_* */
	char		*chain;
	uint64_t	 timeout_ms;	/* 0 = the set's default */
	char		*comment;	/* userdata comment: in a group set, the
					 * name of the rule the element stands
					 * for */
};

struct cset {
	char		*name;		/* named sets: the user's name; a rule's
					 * lists are named by nft/lists.c
					 * ("__l/<hash>"), its maps "__set%d" */
	uint32_t	 flags;		/* NFT_SET_* (CONSTANT, and ANONYMOUS
					 * for maps, added by nft/) */
	uint32_t	 key_type;	/* CTYPE_*; concatenations shifted by 6 */
	uint32_t	 key_len;
	uint32_t	 data_type;	/* maps: CTYPE_VERDICT */
	uint32_t	 data_len;
	bool		 key_host_order; /* userdata so `nft list` prints
					 * interface names */
	uint64_t	 timeout_ms;	/* default element timeout, 0 = none */
	bool		 counters;	/* a counter per element (group sets) */
	uint64_t	 limit_rate;	/* a limit per element (a group of rules
					 * with one limit each): packets per */
	uint64_t	 limit_unit;	/* this many seconds, */
	uint32_t	 limit_burst;	/* this burst; 0 = no limit */
	uint32_t	 run;		/* group sets: the sets of one run (a
					 * long run of intervals is several)
					 * share it */
	bool		 run_edge;	/* a group set whose run has a rule of
					 * its shape next to it in the chain
					 * (one it could not take): a member
					 * leaving may let the run grow */
	bool		 run_edge_front; /* run_edge, for a rule before the
					 * run */
	bool		 run_first;	/* the first set of its run: its kernel
					 * rule stands where the run starts */
	uint8_t		 nfields;	/* NFT_SET_CONCAT: the fields' lengths, */
	uint8_t		 field_len[8];	/* unpadded, for the kernel's
					 * concatenation of intervals */
	uint32_t	 size;		/* most elements (meters), 0 = no bound */
	struct celem	*elems;
	size_t		 nelems;
	size_t		 elems_cap;
	const struct srcloc *loc;	/* the model set's (not owned) */
};

struct crule {
	char		*chain;
	char		*key;		/* identity within the chain: the rule
					 * name, with "#4"/"#6" for a rule split
					 * by family; "~..." for fwctl's own */
	char		*name;		/* user rule (or nat) name, NULL for
					 * fwctl's own rules */
	char		*comment;	/* userdata comment */
	struct cexpr	*exprs;
	size_t		 nexprs;
	size_t		 exprs_cap;
	struct cset	*anon;		/* anonymous sets used by lookups */
	size_t		 nanon;
	const struct srcloc *loc;	/* the model object's (not owned) */
};

struct cchain {
	char		*name;
	bool		 base;
	char		*type;		/* "filter", "nat" */
	uint32_t	 hook;		/* NF_INET_* */
	int32_t		 prio;
	int		 policy;	/* NF_ACCEPT / NF_DROP */
	bool		 pair;		/* a zone pair's chain: user rules, then
					 * fwctl's own (nft/ may spread the
					 * user rules over sub-chains) */
};

struct gtabs;

struct cplan {
	char		*table;
	struct cchain	*chains;
	size_t		 nchains;
	size_t		 chains_cap;
	struct cset	*sets;		/* named sets */
	size_t		 nsets;
	size_t		 sets_cap;
	struct crule	*rules;		/* grouped by chain, in chain order */
	size_t		 nrules;
	size_t		 rules_cap;
	struct gtabs	*groups;	/* the classes of rules that may be
					 * groups, per pair chain
					 * (compile_group.c) */
};

/* Compiles rs into plan (which the caller has zeroed or cplan_free'd).
 * Returns 0, or -1 with diags (the model was not valid for the kernel). */
int		 compile_ruleset(const struct ruleset *, const char *table,
		    struct cplan *, struct diags *);
void		 cplan_free(struct cplan *);

struct cpairs;

/* The kernel rules of one model rule, in every pair chain it covers (once
 * in a body shared by several) and in the order compile_ruleset gives
 * them, appended to p (which needs no chains). rs is the ruleset the rule belongs to (zones, sets). Returns 0,
 * or -1 with diags. */
int		 compile_rule_chains(const struct ruleset *, const struct rule *,
		    const struct cpairs *, struct cplan *, struct diags *);

/*
 * Pair chains covered by the same rules share them: one body chain holds
 * them and each pair chain jumps to it before its policy (compile.c,
 * "pair chains that share their rules"). struct cpairs is that layout for
 * one ruleset (compile_rule_chains computes it when given NULL: a walk of
 * the ruleset, some 5 ms at 50,000 rules). It depends only on the zones
 * and on which (from, to) the rules have, so it stays good for the next
 * ruleset when compile_share_kept says so for every rule that changed;
 * it keeps no pointer into the ruleset.
 */
struct cpairs	*compile_pairs_new(const struct ruleset *);
void		 compile_pairs_free(struct cpairs *);
/* Whether a change of rule ru (added, removed or changed, between prev
 * and next) keeps that layout: other rules with ru's (from, to) words are
 * in both. Otherwise the whole table is compiled and diffed. */
bool		 compile_share_kept(const struct ruleset *prev,
		    const struct ruleset *next, const struct rule *ru);

/*
 * Groups: a run of at least GROUP_MIN consecutive rules of a pair chain
 * that differ only in one address per side and one port per side (same
 * from/to, protocol, verdict, state, log; networks or port ranges in one
 * field at most) is one kernel rule that looks the concatenated key up in
 * a set of its own, named GROUP_SET_PREFIX "<chain>/<first rule>", with a
 * counter and the rule's name (comment) per element: a hash set, or a
 * concatenation of intervals when the run has networks or ranges.
 * compile_group.c's GROUP_MIN of 0 turns it off.
 */
#define GROUP_SET_PREFIX	"__g/"
/* A group's kernel rule: its key in the chain, GROUP_RULE_PREFIX "<first
 * rule of its set>". */
#define GROUP_RULE_PREFIX	"~g/"
/* The meter of a per-source limit: METER_SET_PREFIX "<rule>#4" (or #6). */
#define METER_SET_PREFIX	"__m/"
/* The meter set's name of rule for family (AF_INET, AF_INET6) into buf:
 * 0, -1 when it does not fit. */
int		 compile_meter_name(char *buf, size_t len, const char *rule,
		    int family);
/*
 * The keys of the rules a pair chain ends in: its policy's (a log, the
 * verdict) and the NAT entries' jump between them. They come from zones,
 * policies and NAT entries only, never from a rule.
 */
#define KEY_POLICY	"~policy"
#define KEY_POLICY_LOG	"~policy-log"
#define KEY_NAT_OPEN	"~nat-open"
bool		 compile_pair_end_key(const char *key);
/*
 * The classes of rules that may be groups (same shape but for the key),
 * per pair chain, with where each class's keys lie (blocks of addresses,
 * ports, ICMP types): a run of a class steps over the rules that cannot
 * meet any rule of its class, so a group may span rules of other shapes
 * (docs/design-compile.md, "Groups that span other rules"). The whole
 * compile makes them (cplan.groups); nft/ keeps them in its picture and
 * follows single changes with compile_groups_note.
 */
struct gtabs	*compile_groups_dup(const struct gtabs *);
void		 compile_groups_free(struct gtabs *);
/* Rule ru of rs into (sign 1) or out of (-1) the classes of every pair
 * chain it lands in (ps: compile_pairs_new). 0 or -1 (out of memory). */
int		 compile_groups_note(struct gtabs **, const struct ruleset *rs,
		    const struct rule *ru, const struct cpairs *ps, int sign);
/* Whether every class keeps the rules of rs it steps over when its keys
 * move from where before has them to where after does (a class gaining
 * or losing a block of addresses): false when some rule of rs would
 * start or stop ending its runs, or when unsure. */
bool		 compile_groups_kept(const struct ruleset *rs,
		    const struct gtabs *before, const struct gtabs *after);
bool		 compile_grouping(void);
/* GROUP_MIN: the fewest rules a group holds (0: grouping is off). */
size_t		 compile_group_min(void);
/* A rule that can join or leave the group of the rule just before it
 * without changing that group's kernel rule: same sides (no `any`) and
 * shape as rules[i - 1]. Then 0, with the pair chain (caller frees), the
 * set element of rules[i] (el) and of rules[i - 1] (pel), comments owned
 * by the caller; 1 otherwise; -1 out of memory. spans: the elements of a
 * group set with intervals (NFT_SET_CONCAT), else of a hash set (1 when
 * either rule has a network or a port range). Whether rules[i - 1] is in
 * a group, and of which kind, is nft/'s to find in its picture. */
int		 compile_group_step(const struct ruleset *, size_t i,
		    bool spans, char **chain, struct celem *el,
		    struct celem *pel);

/*
 * Where one copy of rule rs->rules[i] stands in pair chain from -> to (or
 * the body it shares), as the whole compile would have it: a kernel rule
 * of its own; an element of the group of the rule before it there (*pr),
 * which it joins or leaves without changing that group's kernel rule; or
 * something else (first in a run, between two runs, too far to look, a
 * meter set of its own), which the whole diff lays out. *chunk (with
 * CG_JOIN): the rule would start a set of its own in a run of intervals
 * (compile_group.c, GROUP_SPAN_CHUNK) and be its only element. The
 * classes (t) are those of rs: a rule in a run of another class that
 * it would end (or, leaving, let grow) is CG_UNSURE too. CG_FRONT: the
 * rule is first in its run, and *pr, the rule after it, starts the run's
 * first set (which the rule joins under its own name).
 */
enum cgroup_at { CG_ALONE, CG_JOIN, CG_FRONT, CG_UNSURE };
enum cgroup_at	 compile_group_at(const struct ruleset *, size_t i,
		    const char *from, const char *to, const struct gtabs *,
		    const struct rule **pr, bool *chunk);
/* Whether no rule of rs->rules[i]'s class comes after it in the class's
 * walk of pair chain from -> to (the classes t): a run it cannot join
 * (its key clashes with a member's) leaves it a rule of its own, and
 * nothing after it changes when it comes or goes. false when unsure. */
bool		 compile_group_last(const struct ruleset *, size_t i,
		    const char *from, const char *to, const struct gtabs *);
/* The set elements of rule ru and of pr before it in one group (as
 * compile_group_step), comments owned by the caller: 0; 1 when they do
 * not have one shape, or have a network or port range and spans is
 * false, or ru starts a set of its own in a run of intervals (spans) and
 * chunk is false; 2 when it does and chunk is true: ru is a set of one
 * element after pr's (compile_group_chunk); -1 out of memory. */
int		 compile_group_pair(const struct rule *ru,
		    const struct rule *pr, bool spans, bool chunk,
		    struct celem *el, struct celem *pel);
/* The first set of a run that ru starts (CG_FRONT), with ru's element
 * alone, and its kernel rule, into p: the caller adds the elements of the
 * set it takes the place of. 0 or -1. */
int		 compile_group_front(struct cplan *p, const struct rule *ru,
		    bool spans, const char *chain);
/* The group of rule ru alone, a set of its own in a run of intervals of
 * chain: its kernel rule and set into p. 0 or -1. */
int		 compile_group_chunk(struct cplan *p, const struct rule *ru,
		    const char *chain);
void		 cplan_set_clear(struct cset *);

/* One copy of a rule that is a group's element rather than a kernel
 * rule: in chain (a pair chain or a shared body), after rule pr. */
struct cjoin {
	char			*chain;
	const struct rule	*pr;
	bool			 chunk;	/* compile_group_at's *chunk */
	bool			 last;	/* compile_group_last */
	bool			 front;	/* CG_FRONT: pr is the rule after */
};
/*
 * compile_rule_chains for rules that may be in groups: the copies of
 * rs->rules[i] that are kernel rules of their own go to p, those that are
 * group elements to *joins (*njoins of them, chain names owned by the
 * caller: compile_joins_free). *unsure when a copy is neither for sure:
 * the whole diff must lay it out. p may be NULL (only the places).
 * Returns 0, or -1 with diags.
 */
/* The kernel rules of rs->rules[i] in one pair chain (or body) alone,
 * appended to p: for a copy that compile_rule_placed took for a group's
 * element and that cannot be one. 0, or -1 with diags. */
int		 compile_rule_alone(struct cplan *p, const struct ruleset *,
		    size_t i, const char *chain, struct diags *);
int		 compile_rule_placed(const struct ruleset *, size_t i,
		    const struct cpairs *, const struct gtabs *, struct cplan *p,
		    struct cjoin **joins, size_t *njoins, bool *unsure,
		    struct diags *);
void		 compile_joins_free(struct cjoin *, size_t);

/* Lookups for tests and nft/; NULL when absent. */
const struct cchain *cplan_chain(const struct cplan *, const char *name);
const struct cset *cplan_set(const struct cplan *, const char *name);
const struct crule *cplan_rule(const struct cplan *, const char *chain,
		    const char *key);
/* Number of rules in chain. */
size_t		 cplan_chain_nrules(const struct cplan *, const char *chain);

/* cplan.c: the plan as text, and the identity of a rule's content. */
/* Text of a rule's expressions, e.g.
 * "meta l4proto; cmp eq 06; payload th 2 2; cmp eq 0016; counter; accept",
 * anonymous sets written inline ("lookup {0016,0050-01bb}"), for tests and
 * messages. Caller frees. */
char		*cplan_rule_format(const struct crule *);
/* A 64-bit hash of what the kernel holds for a rule (expressions, their
 * anonymous sets and the comment): equal hashes mean the same rule, for
 * diffs that keep no text. */
uint64_t	 cplan_rule_hash(const struct crule *);
/* One set's definition ("ipv4 interval timeout 3600000"), caller frees. */
char		*cplan_set_format(const struct cset *);
/* One element as text, into buf. */
char		*cplan_elem_format(const struct cset *, const struct celem *,
		    char *buf, size_t len);
/* n bytes as lower-case hex: 2n characters and a NUL, into dst (keys of
 * elements, compared by text in every diff: snprintf per byte was half a
 * whole diff's time). Returns 2n. */
size_t		 hex_text(char *dst, const uint8_t *p, size_t n);

/* Name of the chain for packets from zone a to zone b (zone names, "self",
 * or "any" for interfaces in no zone). Caller frees. */
char		*compile_pair_chain(const struct ruleset *, const char *from,
		    const char *to);
/* The verdict a pair of zones resolves to: specific policy > `from -> any`
 * > `any -> to` > `any -> any` > preset > built-in default. from/to are
 * zone names, "self", or "any" for interfaces in no zone. *why (may be
 * NULL) says which one decided ("policy lan -> any", "default"). */
enum verdict	 compile_policy_verdict(const struct ruleset *,
		    const char *from, const char *to, const char **why);
/* The policy that decides that pair, or NULL (the preset, the default). */
const struct policy *compile_policy_of(const struct ruleset *,
		    const char *from, const char *to);

/* Set elements of a model set, as plan elements (interval pairs where the
 * set is an interval set: cs->flags has NFT_SET_INTERVAL). Appends to cs.
 * A named set is an interval set when one of its elements is a network
 * or a port range (compile_elem_single false), else a hash set. */
bool		 compile_elem_single(const struct set *,
		    const struct set_elem *);
int		 compile_set_elem(const struct set *, const struct set_elem *,
		    struct cset *);

/* Building blocks shared with compile_nat.c and compile_group.c. */
struct cchain	*cplan_add_chain(struct cplan *, const char *name);
struct cset	*cplan_add_set(struct cplan *);
struct celem	*cset_add_elem(struct cset *);
/* payload base/off/len -> REG1 (the caller may move dreg) */
int		 crule_payload(struct crule *, uint32_t base, uint32_t off,
		    uint32_t len);
int		 crule_l4proto(struct crule *, int proto);
/* ct state & mask != 0 (or == 0 when mask is 0) */
int		 crule_ctstate(struct crule *, uint32_t mask);
/* A limit as the kernel takes it: packets per *unit seconds, burst. */
void		 compile_limit(const struct limit *, uint64_t *rate,
		    uint64_t *unit, uint32_t *burst);
/* counter, log, verdict (reject) of rule ru */
int		 crule_tail(struct crule *, const struct rule *ru, int family);
/* Every side a packet can come from or go to: the zones, then `any`;
 * v has room for nzones + 1. Returns the count. */
size_t		 compile_sides(const struct ruleset *, const char **v);
struct gtab;
struct gclass;
/* The classes of pair chain from -> to in *t (made when missing, with
 * *t too); NULL out of memory. */
struct gtab	*compile_groups_chain(struct gtabs **t, const char *from,
		    const char *to);
/* A table the whole compile fills with many rules (done false: blocks
 * are appended), then seals (done true: sorted, each once). */
void		 compile_groups_fill(struct gtab *, bool done);
/* Rule ru (rules[at] of its ruleset) into (1) or out of (-1) its class in
 * tab: the class, NULL when ru is in none or out of memory (*err). */
struct gclass	*compile_groups_class(struct gtab *tab, const struct rule *ru,
		    size_t at, int sign, bool *err);
/* compile_group.c: when rules[in[0]] starts a run of same-shape rules of
 * pair chain from -> to (in[0..nin): the indices of the chain's rules from
 * it on, in order; cls: each rule's class there, NULL for none), the run
 * as one group in chain (0, its rules marked in used); 1 when not; -1 out
 * of memory. */
int		 compile_group_run(struct cplan *, const struct ruleset *,
		    const size_t *in, size_t nin, const char *from,
		    const char *to, const char *chain,
		    struct gclass *const *cls, bool *used);
struct cexpr	*crule_add(struct crule *, enum cx_type);
struct crule	*cplan_add_rule(struct cplan *, const char *chain,
		    const char *key, const char *name);
int		 crule_match_addrs(struct crule *, const struct ruleset *,
		    const struct addrmatch *, bool dst, int family);
int		 crule_match_ports(struct crule *, int proto,
		    const struct portmatch *, bool dst);
/* meta key -> dreg; cmp of REG1 with data; meta nfproto == family;
 * a verdict (chain for jump/goto, else NULL) */
int		 crule_meta(struct crule *, uint32_t key, uint32_t dreg);
int		 crule_cmp(struct crule *, uint32_t op, const void *data,
		    uint32_t len);
int		 crule_nfproto(struct crule *, int family);
int		 crule_verdict(struct crule *, int verdict, const char *chain);

/*
 * compile_nat.c (the NAT engineer's): fills the prerouting/postrouting
 * chains, and may add forward-filter rules for port forwards.
 */
int		 compile_nat(const struct ruleset *, struct cplan *,
		    struct diags *);
/* The DMZ preset's verdict for a pair of zones when no explicit policy
 * applies, or VERDICT_NONE when the preset has no say. */
enum verdict	 compile_preset_verdict(const struct ruleset *,
		    const char *from, const char *to);

#endif
