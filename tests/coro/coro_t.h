/* coro_t.h: t.h for the tests in this directory, with T_PTR_EQ/T_PTR_NE
 * that work: t.h's versions expand to `const void *t_a_ = ..., t_b_ = ...`,
 * which declares t_b_ as `const void` and does not compile. A typedef keeps
 * both declarators pointers. (Reported to the lead; drop this file once
 * t.h is fixed the same way.) */
#ifndef CORUN_TESTS_CORO_T_H
#define CORUN_TESTS_CORO_T_H

#include "t.h"

typedef const void *t_cptr_;
#undef T_PTR_EQ
#undef T_PTR_NE
#define T_PTR_EQ(a, b) T_CMP_(a, ==, b, t_cptr_, "%p")
#define T_PTR_NE(a, b) T_CMP_(a, !=, b, t_cptr_, "%p")

#endif
