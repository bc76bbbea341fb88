/*
 * An interval tree: intrusive nodes with a range [lo, hi), kept in a treap
 * ordered by lo (ties by address) whose nodes also know the highest hi
 * beneath them. Insert and remove take O(log n) expected; finding the nodes
 * that overlap a range takes O(log n + what is found). A file's layouts live
 * in one, so that a grant among 10,000 layouts costs what it does among few.
 */
#ifndef DX_ITREE_H
#define DX_ITREE_H

#include <stdint.h>

struct dx_inode {
	struct dx_inode *left, *right;
	uint64_t lo, hi;   /* set before insertion, unchanged while in the tree */
	uint64_t max_hi;   /* the highest hi in this subtree */
	uint32_t prio;     /* heap order: the higher, the nearer the root */
};

struct dx_itree {
	struct dx_inode *root;
};

void dx_itree_insert(struct dx_itree *t, struct dx_inode *n);
void dx_itree_remove(struct dx_itree *t, struct dx_inode *n);

/* Call FN(node, ARG) for each node overlapping [lo, hi), in order of lo,
 * until FN returns non-zero; returns that value, or 0. FN must not change
 * the tree. */
typedef int dx_itree_fn(struct dx_inode *n, void *arg);
int dx_itree_visit(const struct dx_itree *t, uint64_t lo, uint64_t hi, dx_itree_fn *fn, void *arg);

#endif
