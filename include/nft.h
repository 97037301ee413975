/*
 * nft.c: the kernel. The only file that speaks netlink (libmnl, libnftnl),
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
 * the table is created or adopted and reconciled as a whole, atomically).
 * plan lists prev -> next differences (plan_diff, or a one-item plan built
 * by the caller); NULL means "compute it". nft.c diffs the compiled
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
/* Deletes our table (an explicit act: `fwctl flush`). */
int		 nft_flush(struct nft *, struct diags *);

#endif
