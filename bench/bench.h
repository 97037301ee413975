/*
 * bench.h: what bench.c (the program: workers, timing, the report) and
 * gen.c (its inputs) share.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>

/* bench.c */
void	 die(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
/* A file of the work directory (caller frees). */
char	*wpath(const char *, ...) __attribute__((format(printf, 1, 2)));
FILE	*wopen(const char *);
void	 wclose(FILE *, const char *);
char	*slurp(const char *, size_t *);

/* gen.c: rulesets of n rules of one shape (rules-N.{rules,nft,ipt},
 * pairs-N.nft), for ufw (ufw-N.rules), a set of n elements (set-N.rules,
 * set-empty.rules, elems-N.json, set-N.nft). */
void	 gen_rules(uint32_t n);
void	 gen_ufw(uint32_t n);
void	 gen_set(uint32_t n);

/*
 * Rule i of a mixed ruleset has shape i % MIX_SHAPES and serial j = i /
 * MIX_SHAPES, which makes its addresses and ports distinct.  Rules added
 * one at a time take serials from MIX_EXTRA_J on: no loaded rule has
 * them (100,000 rules use j < 12,500; every form is distinct for j <
 * 16,384).
 */
#define MIX_SHAPES	8
#define MIX_EXTRA_J	16000

extern const char *const mix_shape[MIX_SHAPES];
/* Rule (k, j) in fwctl's language, without "rule NAME". */
void	 mix_fwctl(int k, uint32_t j, char *b, size_t n);
/* The same rule for nft, into b; returns its chain. */
const char *mix_nft(int k, uint32_t j, char *b, size_t n);
/* mixed-N.{rules,nft,ipt,ip6t}, and their removal. */
void	 gen_mixed(uint32_t n);
void	 unlink_mixed(uint32_t n);

#endif
