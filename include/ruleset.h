/*
 * The ruleset model: plain data owned by one struct ruleset.
 *
 * The rule language (parse.c/print.c) and JSON (codec.c) are two views of
 * this model; validate.c checks it; compile.c turns it into nf_tables
 * objects. Every array below is owned by its parent; ruleset_free() frees
 * everything.
 *
 * Zones, policies, rules, NAT entries and sets are reference counted so
 * that a change can build the next ruleset beside the current one by
 * sharing every object it does not touch (ruleset_share): an object inside
 * a ruleset that another ruleset may hold is never modified; a change puts
 * a new object in its place (ruleset_own_set copies a shared set before its
 * elements change). *_free drops one reference.
 */
#ifndef FWCTL_RULESET_H
#define FWCTL_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "diag.h"

#define FWCTL_NAME_MAX		63	/* rule, zone, nat and set names */
#define FWCTL_IFNAME_MAX	15	/* IFNAMSIZ - 1 */
#define FWCTL_COMMENT_MAX	200	/* fits the kernel's 256-byte userdata */
#define FWCTL_LOG_PREFIX_MAX	127

/* Reserved zone words in from/to positions. */
#define ZONE_ANY	"any"
#define ZONE_SELF	"self"
#define ZONE_ALL	"all"	/* rules only: every zone and this host */

enum verdict {
	VERDICT_NONE = 0,	/* not given (invalid in a rule or policy) */
	VERDICT_ACCEPT,
	VERDICT_DROP,
	VERDICT_REJECT,
};

/* An IPv4 or IPv6 address with a prefix length; host bits are zero. */
struct addr {
	int	 family;	/* AF_INET or AF_INET6 */
	int	 prefix;	/* 0..32 or 0..128; full length for a host */
	uint8_t	 bytes[16];	/* network order; IPv4 uses the first 4 */
};

/* A source or destination match: a list of addresses, or one named set. */
struct addrmatch {
	struct addr	*addrs;
	size_t		 naddrs;
	char		*set;		/* "@name" without the '@', or NULL */
};

struct portrange {
	uint16_t	 lo;
	uint16_t	 hi;		/* == lo for a single port */
};

/*
 * A port match: a list of ports and ranges, or one named set of type port.
 * names keeps the service names the user wrote (dport ssh), so that the
 * rule prints back as written: one field per range, separated by ',',
 * empty for a number ("ssh,,https"); NULL when no range has a name.
 */
struct portmatch {
	struct portrange	*ranges;
	size_t			 nranges;
	char			*set;
	char			*names;
};

#define FWCTL_SERVICE_MAX	32	/* longest service name taken */

enum limit_unit {
	LIMIT_SECOND = 1,
	LIMIT_MINUTE,
	LIMIT_HOUR,
	LIMIT_DAY,
};

struct limit {
	uint64_t	 rate;		/* 0 = no limit */
	enum limit_unit	 unit;
	uint32_t	 burst;		/* 0 = not given */
	bool		 per_source;	/* one bucket per source address, in a
					 * bounded meter (LIMIT_METER_SIZE) */
};

/* Source addresses one per-source limit keeps, per IP version; a new
 * source past that does not match the rule until an entry expires. */
#define LIMIT_METER_SIZE	65536

/* ct state bits, same values as the kernel's NF_CT_STATE_*_BIT */
#define CTSTATE_INVALID		0x01
#define CTSTATE_ESTABLISHED	0x02
#define CTSTATE_RELATED		0x04
#define CTSTATE_NEW		0x08

#define PROTO_NONE	0
/* otherwise IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP,
 * IPPROTO_ICMPV6 */

/*
 * Where a clause of a statement starts, relative to the statement's
 * location: lines below it and the column of the clause's first word (its
 * keyword: "src", "dport", "limit"; the word itself for a protocol, a
 * verdict or a zone flag), for validate.c to point at the clause at fault.
 * col 0 = unknown, as for objects from JSON or built in code: messages
 * then name the statement. Small, since 50,000 rules are kept.
 */
struct srcpos {
	uint16_t	 dline;
	uint16_t	 col;
};

/* Clauses of a rule with a position of their own (struct rule pos[]). */
enum rule_clause {
	RC_FROM,
	RC_TO,
	RC_PROTO,
	RC_SPORT,
	RC_DPORT,
	RC_TYPE,
	RC_SRC,
	RC_DST,
	RC_STATE,
	RC_LIMIT,
	RC_PREFIX,		/* "prefix" of "log prefix" */
	RC_COMMENT,
	RC_VERDICT,
	RC_FAMILY,		/* ip4 or ip6 */
	RC_MAX
};

struct rule {
	char		*name;
	char		*from;		/* zone name, "any" or "self" */
	char		*to;		/* zone name, "any" or "self" */
	int		 family;	/* ip4/ip6: AF_INET or AF_INET6, 0 =
					 * both */
	int		 proto;		/* PROTO_NONE or IPPROTO_* */
	struct portmatch sport;		/* tcp/udp/sctp only */
	struct portmatch dport;
	uint8_t		*icmp_types;	/* icmp/icmpv6 only; none = any type */
	size_t		 nicmp_types;
	struct addrmatch src;
	struct addrmatch dst;
	unsigned	 state;		/* CTSTATE_* mask, 0 = not given */
	struct limit	 limit;
	bool		 log;
	char		*log_prefix;	/* NULL when not given */
	char		*comment;	/* NULL when not given */
	enum verdict	 verdict;
	struct srcloc	 loc;
	struct srcpos	 pos[RC_MAX];	/* clauses; ignored by rule_equal */
	unsigned	 refs;		/* ruleset.c: rulesets holding it */
	bool		 packed;	/* ruleset.c: one allocation (rule_pack) */
};

#define ZONE_EXTERNAL	0x01	/* the internet side */
#define ZONE_DMZ	0x02	/* the DMZ preset */

/*
 * Clauses of a zone with a position of their own (struct zone pos[]): the
 * flags, which can clash. Bad interfaces and networks never get past the
 * parser, so only objects without positions (JSON) can hold them.
 */
enum zone_clause {
	ZC_EXTERNAL,
	ZC_DMZ,
	ZC_MAX
};

struct zone {
	char		*name;
	char		**ifaces;	/* exact names, or "prefix*" */
	size_t		 nifaces;
	struct addr	*networks;	/* source networks of the zone */
	size_t		 nnetworks;
	unsigned	 flags;		/* ZONE_EXTERNAL, ZONE_DMZ */
	struct srcloc	 loc;
	struct srcpos	 pos[ZC_MAX];	/* clauses; ignored by zone_equal */
	unsigned	 refs;
};

/* Words of a policy with a position of their own (struct policy pos[]). */
enum policy_clause {
	PC_FROM,		/* the first zone */
	PC_TO,			/* the zone after "->" */
	PC_VERDICT,
	PC_PREFIX,		/* "prefix" of "log prefix" */
	PC_MAX
};

/* How often a policy logs, per pair of zones: rate per second, burst. */
#define POLICY_LOG_RATE		1
#define POLICY_LOG_BURST	10

struct policy {
	char		*from;		/* zone name, "any" or "self" */
	char		*to;		/* zone name, "any" or "self" */
	enum verdict	 verdict;
	bool		 log;		/* log what the policy decides, at
					 * most POLICY_LOG_RATE a second */
	char		*log_prefix;	/* NULL when not given */
	struct srcloc	 loc;
	struct srcpos	 pos[PC_MAX];	/* ignored by policy_equal */
	unsigned	 refs;
};

enum nat_kind {
	NAT_MASQUERADE = 1,
	NAT_SNAT,
	NAT_FORWARD,		/* DNAT port forwarding */
};

/* Clauses of a NAT entry with a position of their own (struct nat pos[]). */
enum nat_clause {
	NC_FROM,
	NC_TO,			/* masquerade/snat: the outgoing zone */
	NC_AS,			/* snat: "as ADDR" */
	NC_PROTO,		/* forward */
	NC_DPORT,
	NC_TARGET,		/* forward: "to ADDR[:PORT]" */
	NC_SRC,
	NC_MAX
};

struct nat {
	char		*name;
	enum nat_kind	 kind;
	char		*from;		/* zone (or "any" for masq/snat) */
	char		*to;		/* masq/snat: outgoing zone; forward: NULL */
	struct addr	 snat_addr;	/* snat: "as ADDR" (a host address) */
	int		 proto;		/* forward: IPPROTO_TCP/UDP/SCTP */
	struct portrange dport;		/* forward: external port(s) */
	struct addr	 target;	/* forward: internal host */
	uint16_t	 target_port;	/* forward: first internal port; 0 = same */
	struct addrmatch src;		/* optional source restriction */
	struct srcloc	 loc;
	struct srcpos	 pos[NC_MAX];	/* clauses; ignored by nat_equal */
	unsigned	 refs;
};

enum set_type {
	SET_IPV4 = 1,
	SET_IPV6,
	SET_PORT,
};

struct set_elem {
	union {
		struct addr		addr;	/* SET_IPV4 / SET_IPV6 */
		struct portrange	port;	/* SET_PORT */
	} key;
	uint64_t	 timeout_ms;	/* per-element timeout; 0 = set default */
	uint64_t	 expires_ms;	/* wall-clock expiry (ms since epoch) of
					 * an element with a timeout, for state
					 * files; 0 = not tracked */
	bool		 runtime;	/* added at run time (the elements API,
					 * `fwctl block`): data that a reload or
					 * a replace keeps, not part of the
					 * declared ruleset */
};

/*
 * Elements are kept in key order (set_elem_cmp) as long as they are added
 * in that order; set_sort() restores it otherwise. In order, lookups are
 * binary searches and overlaps can only be between neighbours.
 */
struct set {
	char		*name;
	enum set_type	 type;
	uint64_t	 timeout_ms;	/* default element timeout; 0 = none */
	struct set_elem	*elems;
	size_t		 nelems;
	size_t		 elems_cap;
	struct srcloc	 loc;
	bool		 unsorted;	/* elems are not in key order */
	uint64_t	 expiry_hint;	/* <= the earliest expires_ms of an
					 * element; 0 = no element expires */
	unsigned	 refs;
};

/* A pointer array that owns its elements. */
#define RS_ARRAY(type, name) \
	type	**name; size_t n##name; size_t name##_cap

struct ruleset {
	RS_ARRAY(struct zone, zones);
	RS_ARRAY(struct policy, policies);
	RS_ARRAY(struct rule, rules);	/* evaluation order */
	RS_ARRAY(struct nat, nats);
	RS_ARRAY(struct set, sets);
	/* ruleset_borrow: the rules came without references; only those
	 * added since are this ruleset's own. */
	bool	 rules_borrowed;
};

/* ruleset.c: construction, copy, comparison, lookup */
struct ruleset	*ruleset_new(void);
void		 ruleset_free(struct ruleset *);
/* A deep copy: nothing is shared with the original. */
struct ruleset	*ruleset_dup(const struct ruleset *);
/* A copy that shares every object with the original (a copy of the pointer
 * arrays): what the journal's replay edits for a change. */
struct ruleset	*ruleset_share(const struct ruleset *);
/*
 * ruleset_share without a reference on each rule (rules_borrowed): no
 * pass over every rule object for a change to one.  The rules stay the
 * lender's, which must outlive the borrower until either takes them over:
 * ruleset_settle_rules (the borrower takes a reference on each rule but
 * own, the one rule it added, or NULL), or the lender's last user sets
 * its nrules to 0 and frees it (the references pass to the borrower).
 * ruleset_free of a borrower leaves the rules alone, its own included.
 */
struct ruleset	*ruleset_borrow(const struct ruleset *);
void		 ruleset_settle_rules(struct ruleset *, const struct rule *own);
/* Model equality; source locations and element expiry times are ignored. */
bool		 ruleset_equal(const struct ruleset *, const struct ruleset *);

/* Appends (takes ownership). -1 on ENOMEM. */
int		 ruleset_add_zone(struct ruleset *, struct zone *);
int		 ruleset_add_policy(struct ruleset *, struct policy *);
int		 ruleset_add_rule(struct ruleset *, struct rule *);
int		 ruleset_add_nat(struct ruleset *, struct nat *);
int		 ruleset_add_set(struct ruleset *, struct set *);
/* Inserts a rule at index pos (0 = first; nrules = last). */
int		 ruleset_insert_rule(struct ruleset *, size_t pos, struct rule *);
/* Detach and return the object at index i (caller frees). */
struct rule	*ruleset_remove_rule(struct ruleset *, size_t i);
struct zone	*ruleset_remove_zone(struct ruleset *, size_t i);
struct policy	*ruleset_remove_policy(struct ruleset *, size_t i);
struct nat	*ruleset_remove_nat(struct ruleset *, size_t i);
struct set	*ruleset_remove_set(struct ruleset *, size_t i);
/* Puts obj (taken) at index i in place of the object there (released). */
void		 ruleset_replace_rule(struct ruleset *, size_t i, struct rule *);
void		 ruleset_replace_zone(struct ruleset *, size_t i, struct zone *);
void		 ruleset_replace_policy(struct ruleset *, size_t i,
		    struct policy *);
void		 ruleset_replace_set(struct ruleset *, size_t i, struct set *);
/* The set at index i, copied first (with room for extra elements) when
 * another ruleset shares it, so that it may be changed; NULL on ENOMEM. */
struct set	*ruleset_own_set(struct ruleset *, size_t i, size_t extra);
/* Set i with the elements marked in drop (or NULL) removed and the n of
 * add merged (set_merge_elems): a new set, in one pass, when another
 * ruleset shares it, else in place. -1 on ENOMEM. */
int		 ruleset_update_set(struct ruleset *, size_t i,
		    const struct set_elem *add, size_t n,
		    const unsigned char *drop);
/* Index of this very rule (pointer), or -1: a scan of pointers only. */
ssize_t		 ruleset_rule_index(const struct ruleset *, const struct rule *);

/* Index of the named object, or -1. */
ssize_t		 ruleset_find_zone(const struct ruleset *, const char *);
/* Whether the from/to word of a rule (a zone, any, self or all) covers
 * side (a zone, any for traffic in no zone, self, or a word itself):
 * any is every zone and no zone but never self, all is everything. */
bool		 zone_word_covers(const char *word, const char *side);
ssize_t		 ruleset_find_rule(const struct ruleset *, const char *);
ssize_t		 ruleset_find_nat(const struct ruleset *, const char *);
ssize_t		 ruleset_find_set(const struct ruleset *, const char *);
ssize_t		 ruleset_find_policy(const struct ruleset *, const char *from,
		    const char *to);

/* Merge src into dst, moving every object (src is left empty). Used to
 * read a rules directory file by file. */
int		 ruleset_merge(struct ruleset *dst, struct ruleset *src);

/* *_new: one reference; *_ref: one more; *_free: one less, the last
 * frees. */
struct zone	*zone_new(void);
struct zone	*zone_ref(struct zone *);
void		 zone_free(struct zone *);
struct zone	*zone_dup(const struct zone *);
bool		 zone_equal(const struct zone *, const struct zone *);
struct policy	*policy_new(void);
struct policy	*policy_ref(struct policy *);
void		 policy_free(struct policy *);
struct policy	*policy_dup(const struct policy *);
bool		 policy_equal(const struct policy *, const struct policy *);
struct rule	*rule_new(void);
struct rule	*rule_ref(struct rule *);
void		 rule_free(struct rule *);
struct rule	*rule_dup(const struct rule *);
/* A copy in one allocation, for the rules a ruleset keeps: a fraction of
 * the memory and of the work to free. Never to be changed in place. */
struct rule	*rule_pack(const struct rule *);
/* Packs the rules of rs that no other ruleset shares. */
int		 ruleset_pack_rules(struct ruleset *);
bool		 rule_equal(const struct rule *, const struct rule *);
/* rule_equal but for the comment and how ports were written (ssh or 22):
 * the same packets, counted alike. */
bool		 rule_same_match(const struct rule *, const struct rule *);
struct nat	*nat_new(void);
struct nat	*nat_ref(struct nat *);
void		 nat_free(struct nat *);
struct nat	*nat_dup(const struct nat *);
bool		 nat_equal(const struct nat *, const struct nat *);
struct set	*set_new(void);
struct set	*set_ref(struct set *);
void		 set_free(struct set *);
struct set	*set_dup(const struct set *);
/* Compares name, type, timeout and the elements (keys and timeouts) as a
 * multiset, whatever the order they were given in. */
bool		 set_equal(const struct set *, const struct set *);
/* Appends (the set stays in order when e sorts last). */
int		 set_add_elem(struct set *, const struct set_elem *);
/* Index of the element with this key, or -1. O(log n) in order. */
ssize_t		 set_find_elem(const struct set *, const struct set_elem *);
void		 set_remove_elem(struct set *, size_t i);
/* Key order: addresses by family, address, then wider prefix first; ports
 * by low end, then wider range first. 0 = the same key. */
int		 set_elem_cmp(enum set_type, const struct set_elem *,
		    const struct set_elem *);
/* Puts the elements in key order (duplicates stay, side by side, the
 * shorter timeout first). */
void		 set_sort(struct set *);
void		 set_elems_sort(enum set_type, struct set_elem *, size_t);
/* Where an element with this key is or would go in an ordered set. */
size_t		 set_lower_bound(const struct set *, const struct set_elem *);
/*
 * Merges n elements, in key order, none of them in s, into the ordered s:
 * one pass over s.
 */
int		 set_merge_elems(struct set *s, const struct set_elem *add,
		    size_t n);
/* Removes the elements whose drop[i] is set, in one pass. */
void		 set_remove_marked(struct set *, const unsigned char *drop);
/* A new set: the ordered s without the elements marked 1 in drop (or
 * NULL) and with add (n, as for set_merge_elems), copied in stretches
 * between them. */
struct set	*set_merge_copy(const struct set *s, const struct set_elem *add,
		    size_t n, const unsigned char *drop);
/* Gives back the big element array kept for the next copy of a set. */
void		 set_spare_drop(void);

void		 addrmatch_clear(struct addrmatch *);
int		 addrmatch_copy(struct addrmatch *, const struct addrmatch *);
bool		 addrmatch_equal(const struct addrmatch *,
		    const struct addrmatch *);
void		 portmatch_clear(struct portmatch *);
/* Appends range r, written as service name (NULL for a number). */
int		 portmatch_add(struct portmatch *, const struct portrange *r,
		    const char *name);
/* The service name range i was written as, in buf; NULL for a number. */
const char	*portmatch_name(const struct portmatch *, size_t i, char *buf,
		    size_t len);
/* The same ports, however they were written. */
bool		 portmatch_same_ports(const struct portmatch *,
		    const struct portmatch *);
int		 portmatch_copy(struct portmatch *, const struct portmatch *);
bool		 portmatch_equal(const struct portmatch *,
		    const struct portmatch *);

/* addr.c: addresses, ports and names as text */
/* Parses "192.0.2.1", "192.0.2.0/24", "2001:db8::/32". Host bits set under
 * the prefix are an error. Returns 0, or -1 with a reason in *why. */
int		 addr_parse(const char *, struct addr *, const char **why);
/* Writes the canonical form ("10.0.0.1", "10.0.0.0/8") into buf. */
char		*addr_format(const struct addr *, char *buf, size_t len);
bool		 addr_equal(const struct addr *, const struct addr *);
bool		 addr_is_host(const struct addr *);
/* true when a lies inside network n */
bool		 addr_in_network(const struct addr *a, const struct addr *n);
/* Names: [A-Za-z_][A-Za-z0-9_.-]*, at most FWCTL_NAME_MAX bytes. */
bool		 name_valid(const char *);
bool		 ifname_valid(const char *);
const char	*verdict_name(enum verdict);
int		 verdict_parse(const char *, enum verdict *);
const char	*set_type_name(enum set_type);
int		 set_type_parse(const char *, enum set_type *);
const char	*nat_kind_name(enum nat_kind);
const char	*proto_name(int proto);
int		 proto_parse(const char *, int *proto);
/*
 * A service name of /etc/services ("ssh") as a port: the entry for proto
 * (tcp, udp, sctp) first, else one of any protocol, since the registry
 * gives a service one number whatever the protocol. -1 when unknown or not
 * a name (letters, digits, '-', '_', '.', '+', a letter first, at most
 * FWCTL_SERVICE_MAX bytes).
 */
int		 service_parse(const char *, int proto, uint16_t *port);
bool		 service_name_valid(const char *);
const char	*limit_unit_name(enum limit_unit);
int		 limit_unit_parse(const char *, enum limit_unit *);
/* ICMP / ICMPv6 type names ("echo-request"); NULL / -1 when unknown */
const char	*icmp_type_name(int proto, uint8_t type);
int		 icmp_type_parse(int proto, const char *, uint8_t *type);
/* ct state words; CTSTATE_* bit or 0 */
unsigned	 ctstate_parse(const char *);
const char	*ctstate_name(unsigned bit);
/* Durations: "30s", "10m", "1h", "2d", "500ms", combinations "1h30m".
 * Canonical printing uses the largest units that are exact. */
int		 duration_parse(const char *, uint64_t *ms);
char		*duration_format(uint64_t ms, char *buf, size_t len);

/* The longest timeout of a set or an element: 100 years of 365 days (the
 * kernel takes at most 2^64 ns, about 584 years). */
#define FWCTL_TIMEOUT_MAX_MS	(36500ULL * 86400 * 1000)
#define FWCTL_TIMEOUT_MAX_TEXT	"36500d"
/* The burst of a limit that gives none, as the kernel is sent it. */
#define FWCTL_LIMIT_BURST_DEFAULT	5
/*
 * validate.c: whether the kernel can hold limit l: it keeps
 * (unit in ns / rate) * burst in 64 bits and refuses what overflows.
 */
bool		 limit_fits(const struct limit *l);

/* validate.c: where a clause starts, pos relative to the statement at
 * stmt, in buf; the statement itself when the position is unknown. */
const struct srcloc *srcpos_loc(const struct srcloc *stmt,
		    const struct srcpos *pos, struct srcloc *buf);

/* validate.c: every problem, not only the first. Returns the number of
 * errors added to diags (0 = valid). */
int		 validate_ruleset(const struct ruleset *, struct diags *);
/*
 * The same checks for one object about to join rs, with the same messages
 * (names unique in rs are the caller's to check):
 * validate_rule: r at any position; validate_nat: n as entry idx of rs
 * (checked against entries 0..idx-1); validate_set_elems: n elements, in
 * key order, none already in the ordered set s, about to be added to it.
 */
/* validate_policies: the policies alone (what a policy refers to is
 * zones; nothing refers to a policy). */
int		 validate_policies(const struct ruleset *, struct diags *);
int		 validate_rule(const struct ruleset *, const struct rule *,
		    struct diags *);
int		 validate_nat(const struct ruleset *, const struct nat *,
		    size_t idx, struct diags *);
int		 validate_set_elems(const struct set *s,
		    const struct set_elem *add, size_t n, struct diags *);

#endif
