/*
 * checkpoint.h - the PHP state a warm worker returns to after each request.
 *
 * Taken once, after MediaWiki's bootstrap and before any request: the
 * global symbol table, the static properties of every user class, the
 * php.ini settings changed so far and the shutdown functions registered.
 * checkpoint_restore() puts all of that back after a request: globals the
 * request created are removed, changed ones get their checkpoint value,
 * statics of classes loaded since go back to what they were once their
 * file was loaded (recorded as the autoload returns), or else to their
 * declared defaults.
 * Values are copied the PHP way (a reference count): an array is shared
 * until someone writes to it, an object is the same object, so what an
 * object holds is the PHP glue's business (worker/php/warm*.php), not this.
 */
#ifndef MW_CHECKPOINT_H
#define MW_CHECKPOINT_H

#include <stdbool.h>

struct config;
struct _zval_struct;	/* PHP's zval */

/* Take the checkpoint.  The names in cfg->exclude ("$wgFoo", "Class::$bar",
 * "Class::*") are kept as the requests leave them.  Everything lives in
 * the long-lived PHP request's memory: call again after a new bootstrap. */
void	checkpoint_take(const struct config *cfg);
/* Run the shutdown functions registered since the checkpoint, in order,
 * then forget them.  Must run inside zend_try: they are PHP code. */
void	checkpoint_run_shutdown_functions(void);
/* Back to the checkpoint.  Runs destructors: call inside zend_try. */
void	checkpoint_restore(void);
/* The globals and initialised class statics a checkpoint would take,
 * now, as a PHP array ("$name" => value, "Class::$prop" => value): what
 * two bootstraps are compared by.  The glue's own statics are left out. */
void	checkpoint_values(struct _zval_struct *out);
/* Forget the checkpoint; destroy its values too unless a bailout left
 * PHP in a state where running destructors is unwise. */
void	checkpoint_drop(bool destroy);

#endif
