#include "daemon/itree.h"

#include <stdbool.h>
#include <stddef.h>

/* The treap's order: by lo, then by address (nodes are distinct objects). */
static bool before(const struct dx_inode *a, const struct dx_inode *b)
{
	return a->lo < b->lo || (a->lo == b->lo && (uintptr_t)a < (uintptr_t)b);
}

static uint64_t max_of(const struct dx_inode *n)
{
	return n ? n->max_hi : 0;
}

static void update(struct dx_inode *n)
{
	uint64_t m = n->hi, l = max_of(n->left), r = max_of(n->right);

	m = l > m ? l : m;
	n->max_hi = r > m ? r : m;
}

/* Split T into the nodes before KEY (*a) and the rest (*b); with
 * KEY_TOO, KEY itself goes to *a. */
static void split(struct dx_inode *t, const struct dx_inode *key, bool key_too, struct dx_inode **a,
		  struct dx_inode **b)
{
	if (!t) {
		*a = *b = NULL;
	} else if (before(t, key) || (key_too && t == key)) {
		split(t->right, key, key_too, &t->right, b);
		update(t);
		*a = t;
	} else {
		split(t->left, key, key_too, a, &t->left);
		update(t);
		*b = t;
	}
}

/* Join A and B, every node of A before every node of B. */
static struct dx_inode *merge(struct dx_inode *a, struct dx_inode *b)
{
	if (!a || !b)
		return a ? a : b;
	if (a->prio >= b->prio) {
		a->right = merge(a->right, b);
		update(a);
		return a;
	}
	b->left = merge(a, b->left);
	update(b);
	return b;
}

/* A well-mixed priority from the node's address (splitmix64's finalizer). */
static uint32_t prio_of(const struct dx_inode *n)
{
	uint64_t z = (uint64_t)(uintptr_t)n;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)(z ^ (z >> 31));
}

void dx_itree_insert(struct dx_itree *t, struct dx_inode *n)
{
	struct dx_inode *a, *b;

	n->left = n->right = NULL;
	n->prio = prio_of(n);
	update(n);
	split(t->root, n, false, &a, &b);
	t->root = merge(merge(a, n), b);
}

void dx_itree_remove(struct dx_itree *t, struct dx_inode *n)
{
	struct dx_inode *a, *mid, *b;

	split(t->root, n, false, &a, &b);
	split(b, n, true, &mid, &b); /* mid is N alone */
	t->root = merge(a, b);
	n->left = n->right = NULL;
}

static int visit(struct dx_inode *n, uint64_t lo, uint64_t hi, dx_itree_fn *fn, void *arg)
{
	int ret;

	if (!n || n->max_hi <= lo)
		return 0;
	ret = visit(n->left, lo, hi, fn, arg);
	if (ret || n->lo >= hi)
		return ret; /* everything to the right starts at or past hi too */
	if (n->hi > lo && (ret = fn(n, arg)))
		return ret;
	return visit(n->right, lo, hi, fn, arg);
}

int dx_itree_visit(const struct dx_itree *t, uint64_t lo, uint64_t hi, dx_itree_fn *fn, void *arg)
{
	return visit(t->root, lo, hi, fn, arg);
}
