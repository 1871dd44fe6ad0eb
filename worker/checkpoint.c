/*
 * checkpoint.c - snapshot of PHP's global and static state, and its restore.
 *
 * The snapshot is a set of PHP values, not a memory image: restoring means
 * assigning them back, so the engine's own reference counting keeps every
 * value alive exactly as long as someone uses it, and destructors run for
 * what a request created.  Comparison is by identity (same array, same
 * object, same scalar), so a request that left a global alone costs one
 * pointer comparison.  A slot that is a PHP reference keeps its reference
 * and gets its value back inside it, so whoever shares the reference sees
 * the restored value too.
 */
#include "checkpoint.h"

#include <stdbool.h>
#include <string.h>

#include <main/php.h>
#include <main/php_globals.h>
#include <ext/standard/basic_functions.h>
#include <Zend/zend_exceptions.h>
#include <Zend/zend_ini.h>

#include "config.h"
#include "log.h"

/* The glue's own statics hold what it keeps on purpose (kept services). */
#define CHECKPOINT_GLUE_PREFIX	"mwsupwarm"

struct ckpt_class {
	zend_class_entry *ce;
	uint32_t	 count;
	zval		 values[1];	/* count of them */
};

static bool		 ckpt_taken;
static HashTable	 ckpt_globals;	/* name -> value */
static HashTable	 ckpt_classes;	/* (zend_ulong)ce -> struct ckpt_class * */
static HashTable	 ckpt_ini;	/* name -> value string (ptr), or NULL */
static uint32_t		 ckpt_shutdown_n;
static HashTable	 excl_globals;	/* names */
static HashTable	 excl_statics;	/* "class::prop", "class::*" (class lower case) */
static HashTable	 excl_classes;	/* classes named in excl_statics */

/*
 * Function statics ("static $n;" in a function or method): PHP keeps each
 * function's copy of them behind a map pointer, made from the compiled
 * defaults at first use in a request.  The list of functions that have
 * any is rebuilt only when functions or classes were added since.
 */
static HashTable	 fst_saved;	/* key -> HashTable * at the checkpoint */
static zend_op_array	**fst_list;	/* one op_array per key */
static uint32_t		 fst_n, fst_cap;
static uint32_t		 fst_functions_seen, fst_classes_seen;

/*
 * Classes loaded after the checkpoint: the statics each had when the
 * autoload that brought it in returned, that is after its file's
 * top-level code ran (Parsoid's Consts.php fills its tables so, calling
 * Consts::init() once, below the class).  A new PHP process runs that
 * code again in every request that loads the class; a warm worker loads
 * it once, so it is that state, not the declared defaults, that each
 * later request must start from.  Recorded in ckpt_classes, beside the
 * checkpoint's own classes.
 */
static zend_class_entry *(*ckpt_autoload_next)(zend_string *, zend_string *);
static uint32_t		 ckpt_autoload_depth;	/* autoloads under way */
static uint32_t		 ckpt_autoload_from;	/* class table slot at the outermost */

static const char *const checkpoint_superglobals[] = {
	"_GET", "_POST", "_COOKIE", "_SERVER", "_ENV", "_REQUEST", "_FILES",
	"_SESSION", NULL
};

static void
checkpoint_value_dtor(zval *zv)
{
	zval_ptr_dtor(zv);
}

static void
checkpoint_class_dtor(zval *zv)
{
	struct ckpt_class *c = Z_PTR_P(zv);
	uint32_t i;

	for (i = 0; i < c->count; i++)
		zval_ptr_dtor(&c->values[i]);
	efree(c);
}

static void
checkpoint_ini_dtor(zval *zv)
{
	if (Z_PTR_P(zv) != NULL)
		zend_string_release((zend_string *)Z_PTR_P(zv));
}

/* Same value, by identity: what a restore may skip. */
static bool
checkpoint_same(const zval *a, const zval *b)
{
	if (Z_TYPE_P(a) != Z_TYPE_P(b))
		return false;
	switch (Z_TYPE_P(a)) {
	case IS_UNDEF:
	case IS_NULL:
	case IS_FALSE:
	case IS_TRUE:
		return true;
	case IS_LONG:
		return Z_LVAL_P(a) == Z_LVAL_P(b);
	case IS_DOUBLE:
		return memcmp(&Z_DVAL_P(a), &Z_DVAL_P(b), sizeof(double)) == 0;
	default:
		return Z_COUNTED_P(a) == Z_COUNTED_P(b);
	}
}

/* Put value into slot; a reference stays a reference. */
static void
checkpoint_assign(zval *slot, const zval *value)
{
	zval old;

	if (Z_ISREF_P(slot))
		slot = Z_REFVAL_P(slot);
	ZVAL_COPY_VALUE(&old, slot);
	ZVAL_COPY_OR_DUP(slot, value);
	zval_ptr_dtor(&old);
}

static bool
checkpoint_is_superglobal(const zend_string *name)
{
	int i;

	for (i = 0; checkpoint_superglobals[i]; i++)
		if (zend_string_equals_cstr(name, checkpoint_superglobals[i],
		    strlen(checkpoint_superglobals[i])))
			return true;
	return false;
}

/* The value of global name as the checkpoint sees it (dereferenced), or
 * NULL for one it leaves alone: a superglobal, or unset. */
static zval *
checkpoint_global(zend_string *name, zval *val)
{
	if (name == NULL || checkpoint_is_superglobal(name))
		return NULL;
	if (Z_TYPE_P(val) == IS_INDIRECT)
		val = Z_INDIRECT_P(val);
	if (Z_TYPE_P(val) == IS_UNDEF)
		return NULL;
	ZVAL_DEREF(val);
	return val;
}

/* "$wgFoo"/"wgFoo" is a global; "Class::$bar", "Class::bar", "Class::*"
 * a static (the class name as PHP compares it: without a leading
 * backslash, any case).  Entries with "service:" are the glue's. */
static void
checkpoint_parse_exclusions(const struct config *cfg)
{
	int i;

	for (i = 0; i < cfg->nexclude; i++) {
		const char *e = cfg->exclude[i], *sep;
		zend_string *key;

		if (strncmp(e, "service:", 8) == 0)
			continue;
		if ((sep = strstr(e, "::")) == NULL) {
			if (*e == '$')
				e++;
			zend_hash_str_add_empty_element(&excl_globals, e,
			    strlen(e));
			continue;
		}
		if (*e == '\\')
			e++;
		{
			size_t clen = (size_t)(sep - e);
			const char *prop = sep + 2;

			if (*prop == '$')
				prop++;
			key = zend_string_alloc(clen + 2 + strlen(prop), 0);
			memcpy(ZSTR_VAL(key), e, clen);
			zend_str_tolower(ZSTR_VAL(key), clen);
			memcpy(ZSTR_VAL(key) + clen, "::", 2);
			memcpy(ZSTR_VAL(key) + clen + 2, prop,
			    strlen(prop) + 1);
			zend_hash_add_empty_element(&excl_statics, key);
			zend_hash_str_add_empty_element(&excl_classes,
			    ZSTR_VAL(key), clen);
			zend_string_release(key);
		}
	}
}

/* The static property table of a user class that has static properties
 * and has initialised them, or NULL: what the checkpoint covers. */
static zval *
checkpoint_user_statics(zend_class_entry *ce)
{
	if (ce->type != ZEND_USER_CLASS || ce->default_static_members_count == 0)
		return NULL;
	return CE_STATIC_MEMBERS(ce);
}

/* The name of static slot i of ce, or NULL. */
static zend_string *
checkpoint_static_name(zend_class_entry *ce, uint32_t i)
{
	zend_property_info *pi;
	zend_string *name;

	ZEND_HASH_FOREACH_STR_KEY_PTR(&ce->properties_info, name, pi) {
		if ((pi->flags & ZEND_ACC_STATIC) && (uint32_t)pi->offset == i)
			return name;
	} ZEND_HASH_FOREACH_END();
	return NULL;
}

static bool
checkpoint_static_excluded(zend_class_entry *ce, uint32_t i)
{
	zend_string *lc = ce->name, *prop;
	char key[512];
	size_t n;

	if (zend_hash_num_elements(&excl_classes) == 0)
		return false;
	n = ZSTR_LEN(lc);
	if (n + 3 >= sizeof(key))
		return false;
	memcpy(key, ZSTR_VAL(lc), n);
	zend_str_tolower(key, n);
	if (!zend_hash_str_exists(&excl_classes, key, n))
		return false;
	memcpy(key + n, "::*", 4);
	if (zend_hash_str_exists(&excl_statics, key, n + 3))
		return true;
	if ((prop = checkpoint_static_name(ce, i)) == NULL ||
	    n + 2 + ZSTR_LEN(prop) >= sizeof(key))
		return false;
	memcpy(key + n + 2, ZSTR_VAL(prop), ZSTR_LEN(prop));
	return zend_hash_str_exists(&excl_statics, key, n + 2 + ZSTR_LEN(prop));
}

static bool
checkpoint_is_glue(const zend_class_entry *ce)
{
	size_t n = sizeof(CHECKPOINT_GLUE_PREFIX) - 1;

	return ZSTR_LEN(ce->name) >= n &&
	    strncasecmp(ZSTR_VAL(ce->name), CHECKPOINT_GLUE_PREFIX, n) == 0;
}

static void
checkpoint_fstatic_dtor(zval *zv)
{
	zend_array_release(Z_PTR_P(zv));
}

/* Methods inherited unchanged share their parent's statics (one map
 * pointer offset); a function whose pointer is not an offset has its own. */
static zend_ulong
checkpoint_fstatic_key(zend_op_array *op)
{
	return ZEND_MAP_PTR_IS_OFFSET(op->static_variables_ptr) ?
	    (zend_ulong)(uintptr_t)ZEND_MAP_PTR(op->static_variables_ptr) :
	    (zend_ulong)(uintptr_t)op;
}

static void
checkpoint_fstatic_add(zend_function *f, HashTable *keys)
{
	zend_op_array *op = &f->op_array;

	if (f->type != ZEND_USER_FUNCTION || op->static_variables == NULL ||
	    zend_hash_index_add_empty_element(keys,
	    checkpoint_fstatic_key(op)) == NULL)
		return;
	if (fst_n == fst_cap) {
		fst_cap = fst_cap ? fst_cap * 2 : 256;
		fst_list = safe_erealloc(fst_list, fst_cap, sizeof(*fst_list),
		    0);
	}
	fst_list[fst_n++] = op;
}

static void
checkpoint_fstatic_scan(void)
{
	HashTable keys;
	zend_function *f;
	zend_class_entry *ce;

	fst_n = 0;
	zend_hash_init(&keys, 256, NULL, NULL, 0);
	ZEND_HASH_FOREACH_PTR(EG(function_table), f) {
		checkpoint_fstatic_add(f, &keys);
	} ZEND_HASH_FOREACH_END();
	ZEND_HASH_FOREACH_PTR(EG(class_table), ce) {
		if (ce->type != ZEND_USER_CLASS)
			continue;
		ZEND_HASH_FOREACH_PTR(&ce->function_table, f) {
			checkpoint_fstatic_add(f, &keys);
		} ZEND_HASH_FOREACH_END();
	} ZEND_HASH_FOREACH_END();
	zend_hash_destroy(&keys);
	fst_functions_seen = EG(function_table)->nNumUsed;
	fst_classes_seen = EG(class_table)->nNumUsed;
}

static bool
checkpoint_fstatic_same(HashTable *cur, HashTable *saved)
{
	zend_string *name;
	zval *v, *w;

	if (zend_hash_num_elements(cur) != zend_hash_num_elements(saved))
		return false;
	ZEND_HASH_FOREACH_STR_KEY_VAL(saved, name, w) {
		if (name == NULL || (v = zend_hash_find(cur, name)) == NULL)
			return false;
		ZVAL_DEREF(v);
		ZVAL_DEREF(w);
		if (!checkpoint_same(v, w))
			return false;
	} ZEND_HASH_FOREACH_END();
	return true;
}

static uint32_t
checkpoint_fstatic_take(void)
{
	uint32_t i;

	zend_hash_init(&fst_saved, 64, NULL, checkpoint_fstatic_dtor, 0);
	checkpoint_fstatic_scan();
	for (i = 0; i < fst_n; i++) {
		HashTable *cur = ZEND_MAP_PTR_GET(fst_list[i]->static_variables_ptr);
		HashTable *copy;
		zend_string *name;
		zval *v;

		if (cur == NULL)
			continue;
		/* Values, not the references the running code bound. */
		copy = zend_new_array(zend_hash_num_elements(cur));
		ZEND_HASH_FOREACH_STR_KEY_VAL(cur, name, v) {
			zval c;

			if (name == NULL)
				continue;
			ZVAL_DEREF(v);
			ZVAL_COPY(&c, v);
			zend_hash_add_new(copy, name, &c);
		} ZEND_HASH_FOREACH_END();
		zend_hash_index_add_new_ptr(&fst_saved,
		    checkpoint_fstatic_key(fst_list[i]), copy);
	}
	return fst_n;
}

/* Each function's statics as they were at the checkpoint: those first
 * used after it start again from their defaults, as in a new request. */
static void
checkpoint_fstatic_restore(void)
{
	uint32_t i;

	if (EG(function_table)->nNumUsed != fst_functions_seen ||
	    EG(class_table)->nNumUsed != fst_classes_seen)
		checkpoint_fstatic_scan();
	for (i = 0; i < fst_n; i++) {
		zend_op_array *op = fst_list[i];
		HashTable *cur = ZEND_MAP_PTR_GET(op->static_variables_ptr);
		HashTable *saved = zend_hash_index_find_ptr(&fst_saved,
		    checkpoint_fstatic_key(op));

		if (cur == NULL && saved == NULL)
			continue;
		if (cur != NULL && saved != NULL &&
		    checkpoint_fstatic_same(cur, saved))
			continue;
		/* Set first: a destructor run by the release may call the
		 * function again. */
		ZEND_MAP_PTR_SET(op->static_variables_ptr,
		    saved ? zend_array_dup(saved) : NULL);
		if (cur != NULL)
			zend_array_release(cur);
	}
}

/*
 * Record the statics ce has now, if it has initialised them and is not
 * recorded yet.  Returns 0 when nothing was recorded, else 1 + the number
 * of its own (not inherited) statics.
 */
static uint32_t
checkpoint_class_record(zend_class_entry *ce)
{
	struct ckpt_class *c;
	zval *table;
	uint32_t i, count, own = 0;

	if ((table = checkpoint_user_statics(ce)) == NULL ||
	    zend_hash_index_exists(&ckpt_classes, (zend_ulong)ce))
		return 0;
	count = (uint32_t)ce->default_static_members_count;
	c = emalloc(sizeof(*c) + sizeof(zval) * count);
	c->ce = ce;
	c->count = count;
	for (i = 0; i < count; i++) {
		zval *v = &table[i];

		if (Z_TYPE_P(v) == IS_INDIRECT) {
			ZVAL_UNDEF(&c->values[i]);	/* the parent's */
			continue;
		}
		ZVAL_DEREF(v);
		ZVAL_COPY(&c->values[i], v);
		own++;
	}
	zend_hash_index_add_new_ptr(&ckpt_classes, (zend_ulong)ce, c);
	return own + 1;
}

/*
 * The classes an outermost autoload added to the class table (the file's
 * parent classes and interfaces, autoloaded inside it, too: their own
 * file's code ran, and the outer file's may have changed them since).
 * Classes are appended to the table; should it have been compacted
 * meanwhile, the whole table is walked (recorded classes are skipped).
 */
static void
checkpoint_autoload_record(uint32_t from)
{
	HashTable *ht = EG(class_table);
	uint32_t i;

	if (from > ht->nNumUsed)
		from = 0;
	for (i = from; i < ht->nNumUsed; i++) {
		Bucket *b = ht->arData + i;

		if (Z_TYPE(b->val) == IS_UNDEF || b->key == NULL ||
		    ZSTR_VAL(b->key)[0] == '\0')	/* not declared yet */
			continue;
		(void)checkpoint_class_record(Z_PTR(b->val));
	}
}

static zend_class_entry *
checkpoint_autoload(zend_string *name, zend_string *lc_name)
{
	zend_class_entry *ce;

	if (!ckpt_taken)
		return ckpt_autoload_next(name, lc_name);
	if (ckpt_autoload_depth++ == 0)
		ckpt_autoload_from = EG(class_table)->nNumUsed;
	ce = ckpt_autoload_next(name, lc_name);
	if (--ckpt_autoload_depth == 0)
		checkpoint_autoload_record(ckpt_autoload_from);
	return ce;
}

void
checkpoint_take(const struct config *cfg)
{
	zend_string *name;
	zend_class_entry *ce;
	zend_ini_entry *ini;
	zval *val;
	uint32_t nclasses = 0, nstatics = 0, nfuncs;

	checkpoint_drop(true);
	zend_hash_init(&ckpt_globals, 512, NULL, checkpoint_value_dtor, 0);
	zend_hash_init(&ckpt_classes, 1024, NULL, checkpoint_class_dtor, 0);
	zend_hash_init(&ckpt_ini, 32, NULL, checkpoint_ini_dtor, 0);
	zend_hash_init(&excl_globals, 8, NULL, NULL, 0);
	zend_hash_init(&excl_statics, 8, NULL, NULL, 0);
	zend_hash_init(&excl_classes, 8, NULL, NULL, 0);
	ckpt_taken = true;
	ckpt_autoload_depth = 0;
	/* spl set its own at startup; ours goes in front of it once. */
	if (zend_autoload != NULL && zend_autoload != checkpoint_autoload) {
		ckpt_autoload_next = zend_autoload;
		zend_autoload = checkpoint_autoload;
	}
	checkpoint_parse_exclusions(cfg);

	ZEND_HASH_FOREACH_STR_KEY_VAL(&EG(symbol_table), name, val) {
		zval copy;

		if ((val = checkpoint_global(name, val)) == NULL)
			continue;
		ZVAL_COPY(&copy, val);
		zend_hash_add_new(&ckpt_globals, name, &copy);
	} ZEND_HASH_FOREACH_END();

	ZEND_HASH_FOREACH_PTR(EG(class_table), ce) {
		uint32_t n = checkpoint_class_record(ce);

		if (n > 0) {
			nstatics += n - 1;
			nclasses++;
		}
	} ZEND_HASH_FOREACH_END();

	if (EG(modified_ini_directives) != NULL) {
		ZEND_HASH_FOREACH_PTR(EG(modified_ini_directives), ini) {
			zend_hash_add_new_ptr(&ckpt_ini, ini->name,
			    ini->value ? zend_string_copy(ini->value) : NULL);
		} ZEND_HASH_FOREACH_END();
	}

	ckpt_shutdown_n = BG(user_shutdown_function_names) ?
	    zend_hash_num_elements(BG(user_shutdown_function_names)) : 0;

	nfuncs = checkpoint_fstatic_take();

	log_info("checkpoint: %u globals, %u statics of %u classes "
	    "(%u classes loaded), %u functions with static variables, "
	    "%u ini settings, %d exclusions",
	    zend_hash_num_elements(&ckpt_globals), nstatics, nclasses,
	    zend_hash_num_elements(EG(class_table)), nfuncs,
	    zend_hash_num_elements(&ckpt_ini), cfg->nexclude);
}

void
checkpoint_values(zval *out)
{
	zend_string *name, *key;
	zend_class_entry *ce;
	zval *val;

	array_init(out);
	ZEND_HASH_FOREACH_STR_KEY_VAL(&EG(symbol_table), name, val) {
		if ((val = checkpoint_global(name, val)) == NULL)
			continue;
		key = zend_string_concat2("$", 1, ZSTR_VAL(name), ZSTR_LEN(name));
		Z_TRY_ADDREF_P(val);
		zend_symtable_update(Z_ARRVAL_P(out), key, val);
		zend_string_release(key);
	} ZEND_HASH_FOREACH_END();
	ZEND_HASH_FOREACH_PTR(EG(class_table), ce) {
		zval *table;
		uint32_t i;

		if ((table = checkpoint_user_statics(ce)) == NULL ||
		    checkpoint_is_glue(ce))
			continue;
		for (i = 0; i < (uint32_t)ce->default_static_members_count; i++) {
			zend_string *prop;

			val = &table[i];
			if (Z_TYPE_P(val) == IS_INDIRECT ||
			    (prop = checkpoint_static_name(ce, i)) == NULL)
				continue;
			ZVAL_DEREF(val);
			key = zend_string_concat3(ZSTR_VAL(ce->name),
			    ZSTR_LEN(ce->name), "::$", 3, ZSTR_VAL(prop),
			    ZSTR_LEN(prop));
			Z_TRY_ADDREF_P(val);
			zend_symtable_update(Z_ARRVAL_P(out), key, val);
			zend_string_release(key);
		}
	} ZEND_HASH_FOREACH_END();
}

void
checkpoint_drop(bool destroy)
{
	if (!ckpt_taken)
		return;
	ckpt_taken = false;
	if (!destroy) {
		/* Its memory goes with the PHP request. */
		fst_list = NULL;
		fst_n = fst_cap = 0;
		return;
	}
	zend_hash_destroy(&ckpt_globals);
	zend_hash_destroy(&ckpt_classes);
	zend_hash_destroy(&ckpt_ini);
	zend_hash_destroy(&excl_globals);
	zend_hash_destroy(&excl_statics);
	zend_hash_destroy(&excl_classes);
	zend_hash_destroy(&fst_saved);
	efree(fst_list);
	fst_list = NULL;
	fst_n = fst_cap = 0;
}

void
checkpoint_run_shutdown_functions(void)
{
	HashTable *ht;

	for (;;) {
		php_shutdown_function_entry *e, *found = NULL;
		zend_string *key = NULL, *k;
		zend_ulong h, found_h = 0;
		uint32_t i = 0;
		zval retval;

		if ((ht = BG(user_shutdown_function_names)) == NULL)
			return;
		ZEND_HASH_FOREACH_KEY_PTR(ht, h, k, e) {
			if (i++ == ckpt_shutdown_n) {
				found = e;
				found_h = h;
				key = k ? zend_string_copy(k) : NULL;
				break;
			}
		} ZEND_HASH_FOREACH_END();
		if (found == NULL)
			return;
		ZVAL_UNDEF(&retval);
		found->fci.retval = &retval;
		(void)zend_call_function(&found->fci, &found->fci_cache);
		zval_ptr_dtor(&retval);
		if (EG(exception))
			zend_clear_exception();
		if ((ht = BG(user_shutdown_function_names)) != NULL) {
			if (key)
				zend_hash_del(ht, key);
			else
				zend_hash_index_del(ht, found_h);
		}
		if (key)
			zend_string_release(key);
	}
}

static void
checkpoint_restore_globals(void)
{
	zend_string *name, **todo;
	zval *val, *saved;
	uint32_t n = 0, cap, i;

	/* Destructors may change the table while it is walked: decide first,
	 * act after, looking each name up again. */
	cap = zend_hash_num_elements(&EG(symbol_table)) +
	    zend_hash_num_elements(&ckpt_globals) + 1;
	todo = emalloc(sizeof(*todo) * cap);
	ZEND_HASH_FOREACH_STR_KEY_VAL(&EG(symbol_table), name, val) {
		if (name == NULL || checkpoint_is_superglobal(name) ||
		    zend_hash_exists(&excl_globals, name))
			continue;
		if (Z_TYPE_P(val) == IS_INDIRECT)
			val = Z_INDIRECT_P(val);
		saved = zend_hash_find(&ckpt_globals, name);
		if (saved == NULL || !checkpoint_same(
		    Z_ISREF_P(val) ? Z_REFVAL_P(val) : val, saved))
			todo[n++] = zend_string_copy(name);
	} ZEND_HASH_FOREACH_END();
	ZEND_HASH_FOREACH_STR_KEY(&ckpt_globals, name) {
		if (n < cap && !zend_hash_exists(&excl_globals, name) &&
		    !zend_hash_exists(&EG(symbol_table), name))
			todo[n++] = zend_string_copy(name);
	} ZEND_HASH_FOREACH_END();

	for (i = 0; i < n; i++) {
		name = todo[i];
		saved = zend_hash_find(&ckpt_globals, name);
		val = zend_hash_find(&EG(symbol_table), name);
		if (val != NULL && Z_TYPE_P(val) == IS_INDIRECT)
			val = Z_INDIRECT_P(val);
		if (saved == NULL) {
			if (val != NULL)
				zend_hash_del(&EG(symbol_table), name);
		} else if (val == NULL || Z_TYPE_P(val) == IS_UNDEF) {
			zval copy;

			ZVAL_COPY(&copy, saved);
			if (val != NULL)
				ZVAL_COPY_VALUE(val, &copy);
			else
				zend_hash_add_new(&EG(symbol_table), name,
				    &copy);
		} else {
			checkpoint_assign(val, saved);
		}
		zend_string_release(name);
	}
	efree(todo);
}

/* What a static of a class neither the checkpoint nor an autoload
 * recorded starts as. */
static bool
checkpoint_static_default(zend_class_entry *ce, uint32_t i, zval *out)
{
	zval *def = &ce->default_static_members_table[i];

	ZVAL_COPY_OR_DUP(out, def);
	if (Z_TYPE_P(out) == IS_CONSTANT_AST &&
	    zval_update_constant_ex(out, ce) != SUCCESS) {
		zend_clear_exception();
		zval_ptr_dtor(out);
		return false;
	}
	return true;
}

static void
checkpoint_restore_statics(void)
{
	zend_class_entry *ce;

	ZEND_HASH_FOREACH_PTR(EG(class_table), ce) {
		struct ckpt_class *c;
		zval *table;
		uint32_t i, count;

		if ((table = checkpoint_user_statics(ce)) == NULL ||
		    checkpoint_is_glue(ce))
			continue;
		c = zend_hash_index_find_ptr(&ckpt_classes, (zend_ulong)ce);
		count = (uint32_t)ce->default_static_members_count;
		for (i = 0; i < count; i++) {
			zval *slot = &table[i], *cur, def;

			if (Z_TYPE_P(slot) == IS_INDIRECT)
				continue;
			cur = Z_ISREF_P(slot) ? Z_REFVAL_P(slot) : slot;
			if (c != NULL) {
				if (checkpoint_same(cur, &c->values[i]) ||
				    checkpoint_static_excluded(ce, i))
					continue;
				checkpoint_assign(slot, &c->values[i]);
				continue;
			}
			if (Z_TYPE_P(cur) <= IS_TRUE &&
			    checkpoint_same(cur,
			    &ce->default_static_members_table[i]))
				continue;
			if (checkpoint_static_excluded(ce, i) ||
			    !checkpoint_static_default(ce, i, &def))
				continue;
			if (!checkpoint_same(cur, &def))
				checkpoint_assign(slot, &def);
			zval_ptr_dtor(&def);
		}
	} ZEND_HASH_FOREACH_END();
}

static void
checkpoint_restore_ini(void)
{
	zend_ini_entry *ini;
	zend_string **names;
	uint32_t n = 0, cap, i;

	if (EG(modified_ini_directives) == NULL)
		return;
	cap = zend_hash_num_elements(EG(modified_ini_directives)) + 1;
	names = emalloc(sizeof(*names) * cap);
	ZEND_HASH_FOREACH_PTR(EG(modified_ini_directives), ini) {
		zval *saved = zend_hash_find(&ckpt_ini, ini->name);
		zend_string *v = saved ? Z_PTR_P(saved) : NULL;

		if (saved != NULL && (v == ini->value || (v && ini->value &&
		    zend_string_equals(v, ini->value))))
			continue;
		names[n++] = zend_string_copy(ini->name);
	} ZEND_HASH_FOREACH_END();
	for (i = 0; i < n; i++) {
		zval *saved = zend_hash_find(&ckpt_ini, names[i]);

		if (saved == NULL || Z_PTR_P(saved) == NULL)
			zend_restore_ini_entry(names[i], ZEND_INI_STAGE_RUNTIME);
		else if (zend_alter_ini_entry_ex(names[i], Z_PTR_P(saved),
		    ZEND_INI_SYSTEM, ZEND_INI_STAGE_RUNTIME, 1) != SUCCESS)
			log_warn("checkpoint: php setting %s: cannot set it "
			    "back to %s", ZSTR_VAL(names[i]),
			    ZSTR_VAL((zend_string *)Z_PTR_P(saved)));
		zend_string_release(names[i]);
	}
	efree(names);
}

void
checkpoint_restore(void)
{
	if (!ckpt_taken)
		return;
	ckpt_autoload_depth = 0;
	checkpoint_restore_globals();
	checkpoint_restore_statics();
	checkpoint_fstatic_restore();
	checkpoint_restore_ini();
}
