/*
 * putback.c - mwsup_put_back(): objects' properties set back to a record.
 *
 * When a service named in snapshot.reset is made, php/warm-services.php
 * (MwsupWarmServices::made()) records the properties of the service and
 * of every object it owns, as get_mangled_object_vars() has them; after
 * every request it hands those records to mwsup_put_back().  Each declared property whose value is no
 * longer identical to the recorded one gets it back (the old value is
 * released as PHP's assignment would); unchanged properties cost a
 * comparison, which for an array or an object is a pointer comparison.
 * Doing the same in PHP, with a closure bound to each declaring class,
 * cost ~1 us per object per request.
 *
 *   mwsup_put_back(array $records, array $keep): array
 *
 * $records: key => [ object, recorded vars ].  $keep: object handle
 * (spl_object_id) => true; a property recorded null that now holds one of
 * these objects is left as it is (putBack() in warm-services.php: a
 * factory's link to the instance it made for the service container).
 * Returns the keys of the records this function leaves to that PHP code
 * (putBack()): an object with dynamic properties, a property that is a
 * PHP reference, readonly, or was uninitialized when recorded and is not
 * now (or the reverse of several of these), an object of a class with its
 * own property handler.
 * Records are checked before any of their properties is written, so a
 * record left to PHP is untouched here.
 */
#include "putback.h"

#include <main/php.h>
#include <Zend/zend_API.h>
#include <Zend/zend_objects_API.h>
#include <Zend/zend_operators.h>

/* Whether rec (an [object, vars] pair) can be set back here; its object
 * and vars are stored through the pointers. */
static bool
putback_simple(zval *rec, zend_object **objp, HashTable **varsp)
{
	zend_object *obj;
	zend_class_entry *ce;
	HashTable *vars;
	zend_property_info *pi;
	zval *zo, *zv, *slot, *saved, *p;
	uint32_t matched = 0;
	int i;

	if (Z_TYPE_P(rec) != IS_ARRAY ||
	    (zo = zend_hash_index_find(Z_ARRVAL_P(rec), 0)) == NULL ||
	    (zv = zend_hash_index_find(Z_ARRVAL_P(rec), 1)) == NULL ||
	    Z_TYPE_P(zo) != IS_OBJECT || Z_TYPE_P(zv) != IS_ARRAY)
		return false;
	obj = Z_OBJ_P(zo);
	ce = obj->ce;
	vars = Z_ARRVAL_P(zv);
	if (obj->handlers->get_properties != zend_std_get_properties ||
	    obj->handlers->write_property != zend_std_write_property ||
	    (ce->properties_info_table == NULL && ce->default_properties_count))
		return false;
	if (obj->properties != NULL) {
		ZEND_HASH_FOREACH_VAL(obj->properties, p) {
			if (Z_TYPE_P(p) != IS_INDIRECT)
				return false;	/* a dynamic property */
		} ZEND_HASH_FOREACH_END();
	}
	for (i = 0; i < ce->default_properties_count; i++) {
		pi = ce->properties_info_table[i];
		if (pi == NULL)
			return false;
		slot = OBJ_PROP_NUM(obj, i);
		saved = zend_hash_find(vars, pi->name);
		if (saved == NULL) {
			if (Z_TYPE_P(slot) != IS_UNDEF)
				return false;
			continue;
		}
		matched++;
		if (Z_ISREF_P(slot) || Z_ISREF_P(saved) || Z_TYPE_P(slot) == IS_UNDEF)
			return false;
		if ((pi->flags & ZEND_ACC_READONLY) && !zend_is_identical(slot, saved))
			return false;
	}
	if (matched != zend_hash_num_elements(vars))
		return false;	/* vars has a dynamic property */
	*objp = obj;
	*varsp = vars;
	return true;
}

static void
putback_one(zend_object *obj, HashTable *vars, HashTable *keep)
{
	zend_class_entry *ce = obj->ce;
	zval *slot, *saved, old;
	int i;

	for (i = 0; i < ce->default_properties_count; i++) {
		slot = OBJ_PROP_NUM(obj, i);
		saved = zend_hash_find(vars, ce->properties_info_table[i]->name);
		if (saved == NULL || zend_is_identical(slot, saved))
			continue;
		if (Z_TYPE_P(saved) == IS_NULL && Z_TYPE_P(slot) == IS_OBJECT &&
		    zend_hash_index_exists(keep, Z_OBJ_HANDLE_P(slot)))
			continue;
		ZVAL_COPY_VALUE(&old, slot);
		ZVAL_COPY(slot, saved);
		zval_ptr_dtor(&old);
	}
}

ZEND_NAMED_FUNCTION(mwsup_put_back)
{
	HashTable *records, *keep, *vars;
	zend_object *obj;
	zend_string *skey;
	zend_ulong ikey;
	zval *rec, key;

	ZEND_PARSE_PARAMETERS_START(2, 2)
		Z_PARAM_ARRAY_HT(records)
		Z_PARAM_ARRAY_HT(keep)
	ZEND_PARSE_PARAMETERS_END();

	array_init(return_value);
	ZEND_HASH_FOREACH_KEY_VAL(records, ikey, skey, rec) {
		if (putback_simple(rec, &obj, &vars)) {
			/* The object stays alive: the record holds it, and a
			 * destructor run by a released value cannot drop the
			 * record (warm-services.php keeps it in a static). */
			putback_one(obj, vars, keep);
			continue;
		}
		if (skey != NULL)
			ZVAL_STR_COPY(&key, skey);
		else
			ZVAL_LONG(&key, ikey);
		zend_hash_next_index_insert_new(Z_ARRVAL_P(return_value), &key);
	} ZEND_HASH_FOREACH_END();
}
