/*
 * sup.c - the process-wide state, defined apart from main() so that test
 * and fuzz programs can link the supervisor's modules without it.
 */
#include "sup.h"

struct sup sup;
