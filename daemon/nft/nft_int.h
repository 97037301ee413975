/*
 * nft/nft_int.h: what the files of daemon/nft/ share (types, and what one
 * file offers the others). The layer as a whole is include/nft.h;
 * docs/design-compile.md says how it works and which file does what.
 *
 * The kernel: one long-lived netlink socket, one batch per change.
 *
 * daemon/nft/ keeps a small picture of what the kernel holds: per chain the
 * rules in order as (key, hash of the compiled rule, handle), the user
 * rules of pair chains spread over bounded sub-chains, and the named sets.
 * A plan of a few rules compiles those rules alone and puts them next to a
 * neighbour by handle; any other change compiles the new ruleset and sends
 * only the difference: rules are matched by (chain, key) and hash, the
 * longest run that kept its order stays in place (and keeps its counters),
 * the rest is deleted or inserted next to a neighbour by handle. Named
 * sets whose definition did not change keep their elements; only the
 * elements that differ are added or removed. A rule whose matches did not
 * change keeps its count when its kernel object is made again (moved,
 * grouped, ungrouped): the new object starts with the old one's counter
 * values. Without that picture (first
 * apply after start) the table is deleted and built again inside the same
 * transaction, so it is never open, unless the drift check just found it
 * exactly as the ruleset says: then it is taken as it is (adopt.c).
 * docs/design-compile.md has the layout.
 */
#ifndef FWCTL_NFT_INT_H
#define FWCTL_NFT_INT_H

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <endian.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "compile.h"
#include "nameidx.h"
#include "nft.h"
#include "ruleset.h"
#include "strmap.h"

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST	0x4
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK		11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK		10
#endif
/* kernel 6.3: delete without ENOENT (an element may have timed out) */
#define NFT_MSG_DESTROYSETELEM_	30

#define ECHO_MAX	512	/* more added rules: learn handles by dump */
#define SEG_MAX		512	/* user rules per sub-chain, as built */
#define SEG_SPLIT	(2 * SEG_MAX)	/* a segment grown past this is split */
#define FAST_MAX	512	/* plan items the single-rule path takes */
#define ELEMS_PER_MSG	128	/* keeps the nested attribute under 64 KiB */
#define MSG_ROOM	(96 * 1024)
#define BYTEORDER_HOST	1	/* nftables' BYTEORDER_HOST_ENDIAN */
#define QUERY_BUF	1024	/* room for one query (query_* in msg.c) */

enum bkind {
	BK_OTHER = 0,
	BK_TABLE,
	BK_CHAIN,
	BK_SET,
	BK_ELEM,
	BK_RULE,
	BK_BEGIN,
	BK_END,
};

/* Counter values a rule starts with: what the table we adopt had for it. */
struct seed {
	uint64_t	 packets;
	uint64_t	 bytes;
	bool		 set;
};

/* What one message of a batch is about, so an error can name it. */
struct bobj {
	enum bkind	 kind;
	char		*what;
	const struct srcloc *loc;
	uint64_t	*hslot;		/* NEWRULE: where its handle goes */
	const struct crule *rule;	/* NEWRULE: names it when refused */
};

struct batch {
	char		*buf;
	size_t		 len;
	size_t		 cap;
	uint32_t	 seq0;		/* seq of the first message */
	struct bobj	*objs;		/* by seq - seq0 */
	size_t		 nobjs;
	size_t		 objs_cap;
	uint32_t	 end_seq;
	int		 err;
	/* In a table made by this batch the kernel hands out handles from
	 * 1 up, one per chain, set and rule in message order: a rule's
	 * handle is known without asking (checked after the commit). */
	bool		 predict;
	uint64_t	 hgen;		/* handles handed out so far */
};

/*
 * What daemon/nft/ remembers of the kernel's table: per chain the rules in order,
 * each as a key, a hash of its content and its handle; no expressions and
 * no text. The user rules of a pair chain are spread over segments of at
 * most a few hundred rules: segment 0 in the chain itself, the others in
 * sub-chains "<chain>/<id>" reached by jumps, so that a commit that
 * touches one rule makes the kernel rebuild one small chain, not all of
 * them (docs/design-compile.md).
 */
struct kseg;
struct kchain;

struct kent {
	uint64_t	 hash;		/* cplan_rule_hash */
	uint64_t	 handle;
	struct kchain	*chain;
	struct kseg	*seg;		/* user rules of pair chains; NULL for
					 * the chain's own rules */
	struct kent	*next_copy;	/* the model rule's next kernel copy */
	size_t		 aux;		/* scratch for diffs */
	bool		 keep;		/* scratch for diffs */
	bool		 remake;	/* made again by the next diff: a
					 * count carried to it (counters.c) */
	char		 key[];		/* identity in its chain (crule key) */
};

struct kseg {
	uint32_t	 id;		/* 0: the chain itself */
	uint64_t	 jump;		/* handle of the jump to it (id != 0) */
	struct kent	**v;
	size_t		 n;
	size_t		 cap;
	size_t		 aux;		/* scratch */
	bool		 fresh;		/* scratch: made by this batch */
};

struct kchain {
	struct cchain	 def;
	struct kseg	**segs;		/* pair chains: segs[0] always */
	size_t		 nsegs;
	size_t		 segs_cap;
	struct kent	**own;		/* fwctl's own rules, after the jumps */
	size_t		 nown;
	size_t		 own_cap;
	uint32_t	 next_id;	/* of the next sub-chain */
	bool		 reused;	/* scratch: kept by a diff */
};

struct kstate {
	struct kchain	**v;
	size_t		 n;
	size_t		 cap;
	struct strmap	*idx;		/* chain name -> kchain */
	struct strmap	*names;		/* user rule name -> its first copy */
};

/*
 * A list (ports, addresses, ICMP types) that rules look up, as a named set
 * of the table shared by every rule with the same list: "__l/<hash of its
 * content>" (docs/design-compile.md, "Lists").
 */
#define LIST_SET_PREFIX	"__l/"

struct lset {
	char		*content;	/* canonical: type and elements */
	bool		 live;		/* in the kernel since a commit */
	bool		 fresh;		/* made by the batch being built */
	bool		 dead;		/* deleted by the batch being built */
	bool		 used;		/* scratch: a rule of the plan uses it */
	bool		 frame;		/* of interface names: the frame's
					 * alone (list_frame_only) */
	char		 name[24];
};

/* Replies to a batch. */
struct reply {
	struct batch	*b;
	bool		 echo;		/* learn handles from echoes */
	int		 error;		/* first error (positive errno) */
	uint32_t	 error_seq;
	char		 extack[256];
	bool		 end_acked;
};

struct nft {
	struct mnl_socket *nl;
	uint32_t	 portid;
	uint32_t	 seq;
	char		*table;
	uint32_t	 table_flags;	/* what NEWTABLE asks for */
	bool		 flags_known;	/* PERSIST support detected */
	bool		 have;		/* cur and st are what the kernel holds */
	struct cplan	 cur;		/* named sets only */
	struct strmap	**eidx;		/* by cur set: its elements' index */
	struct kstate	 st;		/* chains and rules */
	uint32_t	 genid;		/* after our last commit */
	uint32_t	 set_id;
	struct strmap	*lsets;		/* shared lists: name -> struct lset */
	struct lset	**lsv;		/* the same, to walk */
	size_t		 nlsv;
	size_t		 lsv_cap;
	size_t		 sndbuf;
	struct nft_stats stats;
	/* the rules (with counters) the drift check read at start, for the
	 * adoption that follows to seed counters from without reading them
	 * again; good while the generation is kept_gen */
	struct dump	*kept;
	uint32_t	 kept_gen;
	/* the picture of a table found as the ruleset says, for that
	 * adoption to take without building the table again (adopt.c) */
	struct adopt	*adopt;
	/* which pair chains share their rules, for the single-rule paths:
	 * made after a whole diff (or on first use), kept while only they
	 * change the rules (they check compile_share_kept), dropped with
	 * the picture */
	struct cpairs	*pairs;
};

struct dumped {
	char		*chain;
	char		*comment;
	uint64_t	 handle;
	uint64_t	 packets;
	uint64_t	 bytes;
	void		*exprs;		/* NFTA_RULE_EXPRESSIONS' payload */
	uint32_t	 exprs_len;
};

struct dump {
	struct dumped	*v;
	size_t		 n;
	size_t		 cap;
	int		 err;
	bool		 counters;	/* read counters too */
	bool		 exprs;		/* keep the expressions (drift) */
};

struct names {
	char		**v;
	size_t		 n;
	size_t		 cap;
	int		 err;
};

struct work {
	struct cplan	 next;
	uint64_t	*hash;		/* by next rule index */
	struct seed	*seeds;		/* by next rule index, or NULL */
	struct strmap	*eseeds;	/* group set elements: pair_key(chain,
					 * rule name) -> struct seed, or NULL */
	struct seed	*eseedv;	/* what eseeds points into */
	struct kstate	 st;		/* the picture after the commit */
	bool		 echo;
	bool		 remade;	/* kent/celem.remake set in the picture
					 * before (lost_copies) */
};

/* A table found at start as the ruleset says: its picture (adopt.c). */
struct adopt {
	struct kstate	 st;		/* handles as read */
	struct cplan	 plan;		/* what the check compiled */
	struct ruleset	*rs;		/* what it compiled it from (shared) */
	uint32_t	 gen;		/* the generation read */
	struct strmap	*klists;	/* the kernel's shared lists, by name */
	char		**knames;	/* the same, to walk */
	size_t		 nknames;
};

/* What the drift check read, for adopt_prepare. */
struct adopt_in {
	struct cplan	*p;		/* as compiled for the check: taken */
	const struct ruleset *next;	/* what it was compiled from */
	const struct dump *dp;		/* the kernel's rules, chain by chain */
	const size_t	*at_of;		/* by plan rule: its kernel rule (dump
					 * index), or dp->n */
	const char *const *jump_to;	/* by dump index: the sub-chain a
					 * layout jump goes to, or NULL */
	size_t		 nkchains;	/* chains the kernel has */
	char		**klists;	/* names of its shared lists */
	size_t		 nklists;
};

/* sock.c */
void	batch_free(struct batch *b);
struct nlmsghdr *batch_msg(struct nft *n, struct batch *b, uint16_t type,
		    uint16_t flags, enum bkind kind, const char *what,
		    const struct srcloc *loc);
void	batch_done(struct batch *b, struct nlmsghdr *nlh);
int	talk(struct nft *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
int	get_genid(struct nft *n, uint32_t *genid);
int	batch_begin(struct nft *n, struct batch *b, uint32_t genid);
int	batch_end(struct nft *n, struct batch *b);
int	batch_send(struct nft *n, struct batch *b, struct reply *rp);
#define BATCH_TRIES	3	/* batches built before the ruleset is
				 * taken to be changing under us */
int	batch_commit(struct nft *n, struct batch *b, struct reply *rp);
void	batch_gave_up(struct diags *d);
void	reply_diag(struct nft *n, struct batch *b, struct reply *rp,
		    struct diags *d);

/* kstate.c */
void	kstate_free(struct kstate *st);
int	kstate_init(struct kstate *st, size_t nrules);
struct kchain *kstate_chain(const struct kstate *st, const char *name);
struct kchain *kstate_add_chain(struct kstate *st, const struct cchain *def);
void	kstate_drop_chain(struct kstate *st, struct kchain *c);
int	ptr_push(void *vp, size_t *n, size_t *cap, void *p);
struct kseg *kchain_add_seg(struct kchain *c, uint32_t id);
const char *seg_chain(const struct kchain *c, const struct kseg *sg, char *buf,
		    size_t len);
size_t	key_name_len(const char *key);
int	kent_link(struct kstate *st, struct kchain *c, struct kseg *sg,
		    struct kent *e, struct kent *before);
struct kent *kent_new(const char *key);
struct kent *kchain_add_ent(struct kstate *st, struct kchain *c,
		    struct kseg *sg, const char *key, uint64_t hash,
		    uint64_t handle);
void	kent_drop(struct kstate *st, struct kent *e);
struct kent *kchain_find(const struct kstate *st, const struct kchain *c,
		    const char *key, bool user);
void	state_clear(struct nft *n);

/* msg.c */
size_t	group_chain(const char *set, const char **chain);
int	emit_elems(struct nft *n, struct batch *b, const struct cset *cs,
		    bool anon, uint32_t id, const struct celem *const *v,
		    size_t cnt, bool del, const struct srcloc *loc,
		    const struct strmap *seeds);
int	emit_set(struct nft *n, struct batch *b, const struct cset *cs,
		    bool anon, uint32_t id, const char *what,
		    const struct srcloc *loc, const struct strmap *seeds);
char	*rule_what(const struct crule *r);
void	put_expr(struct nlmsghdr *nlh, const struct crule *r,
		    const struct cexpr *e, const char *const *lnames,
		    const uint32_t *ids, const struct seed *seed);
int	emit_rule(struct nft *n, struct batch *b, const struct crule *r,
		    const char *chain, uint64_t before, bool echo,
		    const struct seed *seed, uint64_t *hslot);
int	emit_jump(struct nft *n, struct batch *b, const char *chain,
		    const char *target, uint64_t before, bool echo,
		    uint64_t *hslot);
int	emit_delrule(struct nft *n, struct batch *b, const char *chain,
		    const char *key, uint64_t handle);
int	emit_subchain(struct nft *n, struct batch *b, const char *name,
		    bool del);
int	emit_chain(struct nft *n, struct batch *b, const struct cchain *c,
		    bool del);
int	emit_delset(struct nft *n, struct batch *b, const struct cset *cs);
int	emit_table(struct nft *n, struct batch *b, bool del);
struct nlmsghdr *query_gen(struct nft *n, char *buf);
struct nlmsghdr *query_table(struct nft *n, char *buf);
struct nlmsghdr *query_chains(struct nft *n, char *buf);
struct nlmsghdr *query_sets(struct nft *n, char *buf);
struct nlmsghdr *query_elems(struct nft *n, char *buf, const char *set);
struct nlmsghdr *query_rules(struct nft *n, char *buf, const char *chain,
		    uint64_t handle);
void	dump_free(struct dump *dp);
void	kept_free(struct nft *n);
int	dump_one(struct nft *n, const char *chain, struct names *nm,
		    struct dump *dp);
int	dump_rules(struct nft *n, struct dump *dp);
int	dump_rules_in(struct nft *n, char *const *chains, size_t nchains,
		    struct dump *dp);
int	get_rule(struct nft *n, const char *chain, uint64_t handle,
		    struct dump *dp);
int	rule_is(struct nft *n, const char *chain, uint64_t handle,
		    const char *comment);

/* lists.c */
bool	list_shared(const struct cset *as);
void	lists_reset(struct nft *n);
void	lists_abort(struct nft *n);
void	lists_commit(struct nft *n);
const char *list_get(struct nft *n, struct batch *b, const struct cset *as,
		    const char *what, const struct srcloc *loc);
int	lists_gc(struct nft *n, struct batch *b, const struct cplan *p);
int	lists_gc_frame(struct nft *n, struct batch *b, const struct cplan *p);
int	lists_frame_leaves(const struct cplan *before, const struct cplan *after);
int	lists_adopt(struct nft *n, const struct cplan *p,
		    const struct strmap *klists, char *const *knames,
		    size_t nknames);

/* adopt.c */
void	adopt_free(struct nft *n);
void	adopt_prepare(struct nft *n, const struct adopt_in *in);
int	adopt_take(struct nft *n, const struct ruleset *next);

/* diff.c */
char	*pair_key(const char *chain, const char *key);
bool	set_same(const struct cset *a, const struct cset *b);
uint64_t next_handle(struct kent *const *v, size_t n, size_t i);
uint64_t after_seg(const struct kchain *c, size_t k);
ssize_t	elems_lacking(const struct cset *a, const struct cset *b,
		    const struct celem ***evp);
void	rule_seed(struct nft *n, const struct kent *e, struct seed *s);

/* counters.c */
void	seg_strip(char *chain);
int	elem_comment_cb(const struct nftnl_udata *attr, void *data);
void	seed_counters(struct nft *n, struct work *w);
void	seed_elem_counters(struct nft *n, struct work *w);
/* The counters of the elements of group sets sets[0..nsets) (of the
 * picture), as seeds for sets made again in their place (emit_set): *seeds
 * and *v, which the caller frees (strmap_free, free; NULL when nothing was
 * read). What cannot be read is not carried; -1 on ENOMEM only. */
int	group_seeds(struct nft *n, const struct cset *sets, size_t nsets,
	    struct strmap **seeds, struct seed **v);
int	carry_counters(struct nft *n, struct work *w,
		    const struct ruleset *prev, const struct ruleset *next);

/* fast.c */
bool	plan_elements_only(const struct nft *n, const struct ruleset *prev,
		    const struct ruleset *next, const struct plan *plan);
void	cur_eidx_free(struct nft *n);
void	cur_pack(struct nft *n);
int	apply_elems(struct nft *n, const struct ruleset *prev,
		    const struct ruleset *next, const struct plan *plan,
		    struct diags *d);
int	keep_interval(struct nft *n, const struct ruleset *next,
		    struct cplan *p);
void	split_big(struct nft *n, const struct ruleset *next);
const struct cpairs *nft_pairs(struct nft *n, const struct ruleset *next);
int	apply_rules(struct nft *n, const struct ruleset *prev,
		    const struct ruleset *next, const struct plan *plan,
		    struct diags *d);
int	apply_group(struct nft *n, const struct ruleset *prev,
		    const struct ruleset *next, const struct plan *plan,
		    struct diags *d);
int	apply_policies(struct nft *n, const struct ruleset *prev,
		    const struct ruleset *next, const struct plan *plan,
		    struct diags *d);

#endif
