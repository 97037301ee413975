/*
 * nft.h: the kernel. daemon/nft/ alone speaks netlink (libmnl, libnftnl),
 * together with compile.c which builds the nf_tables objects. Knows nothing
 * of HTTP or JSON.
 *
 * Every write goes through one long-lived netlink socket, so that the table
 * can be owned (NFT_TABLE_F_OWNER|PERSIST where the kernel has it: it
 * outlives the daemon but nobody else can change it while we run).
 */
#ifndef FWCTL_NFT_H
#define FWCTL_NFT_H

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "plan.h"
#include "ruleset.h"

struct nft;

struct nft_counter {
	char		*name;		/* rule (or nat entry) name, or
					 * "policy FROM -> TO" */
	uint64_t	 packets;
	uint64_t	 bytes;
};

struct nft_counters {
	struct nft_counter	*v;
	size_t			 n;
};

/* What the last transaction sent, for tests and benchmarks. */
struct nft_stats {
	size_t	 msgs;		/* netlink messages in the batch, batch
				 * begin and end included; 0 = none sent */
	size_t	 rules_added;
	size_t	 rules_deleted;
	size_t	 rules_replaced;
	size_t	 elems_added;
	size_t	 elems_deleted;
	size_t	 bytes;		/* size of the batch */
	bool	 full_rebuild;	/* the table was rebuilt from scratch */
	size_t	 compiled_rules; /* model rules (and nat entries) compiled */
	size_t	 chains_added;	/* NEWCHAIN, sub-chains included */
};

/* Opens the netlink socket for table "inet <table>". Does not touch the
 * kernel's ruleset. NULL with diags on error. */
struct nft	*nft_open(const char *table, struct diags *);
/* Closes the socket; the table stays in the kernel. */
void		 nft_close(struct nft *);

/*
 * Makes the kernel's table agree with next, in one transaction.
 * prev is what the kernel is known to hold (the ruleset last applied
 * through this handle), or NULL when unknown (first apply after start:
 * the table is created or adopted and reconciled as a whole, atomically;
 * right after an nft_drift_find of next that found nothing, a table laid
 * out exactly as next compiles is taken as it is, with one NEWTABLE).
 * plan lists prev -> next differences (plan_diff, or a one-item plan built
 * by the caller); NULL means "compute it". daemon/nft/ diffs the compiled
 * tables itself (see docs/design-compile.md); a plan made only of
 * PLAN_ELEMENT items is sent as it is, without compiling. Unchanged rules
 * keep their counters; elements of sets that did not change survive.
 * A change that changes nothing in the kernel sends nothing.
 * On failure nothing has changed in the kernel; diags name the object the
 * kernel refused (rule name, and file:line:col where known). Returns 0/-1.
 */
int		 nft_apply(struct nft *, const struct ruleset *prev,
		    const struct ruleset *next, const struct plan *plan,
		    struct diags *);
/* What the last nft_apply sent. */
const struct nft_stats *nft_last_stats(const struct nft *);

/* Packets and bytes per rule name (and nat entry). */
int		 nft_counters(struct nft *, struct nft_counters *,
		    struct diags *);
void		 nft_counters_free(struct nft_counters *);
/* 1 if our table is in the kernel, 0 if not, -1 on error. */
int		 nft_table_present(struct nft *);
/* true when another process changed our table since our last commit. */
bool		 nft_drifted(struct nft *);
/*
 * Drift: what differs between the kernel's table and the one next
 * compiles to, one line per object, named the way a user knows it:
 *   "rule ssh (chain lan-self) is missing"
 *   "rule web (chain wan-self) differs from the ruleset"
 *   "policy lan -> wan (chain lan-wan) is missing"
 *   "nat entry web (chain prerouting) is missing"
 *   "chain wan-self has a rule fwctl did not make (handle 42: ip saddr
 *    10.50.0.2 accept)"  (or: comment "..." when it has one)
 *   "chain input differs from the ruleset (policy accept where the
 *    ruleset says drop)", "chain foo is not fwctl's", "chain x is missing"
 *   "set adm is missing", "set adm lacks element 10.50.1.10",
 *   "set adm has an element fwctl did not add: 10.50.1.99",
 *   "set adm differs from the ruleset (its type, flags or timeout)",
 *   "set foo is not fwctl's", "table inet fwctl is missing"
 * A rule is fwctl's when a rule in its chain (or the chain's sub-chains)
 * has its comment and, expression by expression, what nft_apply would
 * send (anonymous sets by their elements); so a rule edited by hand is
 * reported twice: the model rule "differs" and the kernel's rule is one
 * "fwctl did not make". Counters, handles, rule order within a chain
 * (nft cannot move a rule without making a new one) and the layout
 * (sub-chains, the jumps to them) do not count. Rules merged into a group
 * are compared as the group's set elements (named by their rule).
 * Named sets: the declared elements (and those fwctl added at run time,
 * which next holds) are compared as keys or intervals, whatever the set's
 * storage. An element with a timeout (its own or the set's) that the
 * kernel lacks is not reported: it may have expired while fwctld was
 * stopped. Every element the kernel has and next does not is reported,
 * with or without a timeout.
 * At most 200 lines, then "and N more".
 */
struct nft_drift {
	char	**v;
	size_t	  n;		/* 0: no drift */
	bool	  table_missing; /* no table at all (v says so too) */
};

/* Reads the kernel's table (no write) and compares it with next, compiled
 * as nft_apply would. 0 with *out filled, -1 with diags on error (out is
 * then empty). Does not change what a later nft_apply(n, NULL, next, ...)
 * does. */
int		 nft_drift_find(struct nft *, const struct ruleset *next,
		    struct nft_drift *out, struct diags *);
void		 nft_drift_free(struct nft_drift *);

/* Deletes our table (an explicit act: `fwctl flush`). */
int		 nft_flush(struct nft *, struct diags *);

#endif
