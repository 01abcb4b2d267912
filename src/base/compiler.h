/* compiler.h: compiler and sanitizer facts, in one place.
 * Layer: base (knows nothing of coroutines). Header only.
 * Nothing here has state; every other file may include it. */
#ifndef CORUN_BASE_COMPILER_H
#define CORUN_BASE_COMPILER_H

#define CORUN__LIKELY(x) __builtin_expect(!!(x), 1)
#define CORUN__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CORUN__NOINLINE __attribute__((noinline))
/* Inlined even where the compiler would rather drop the call: gcc 12's
 * side-effect analysis (modref) deletes a call to a function whose only
 * effect is a prefetch before it is inlined. */
#define CORUN__ALWAYS_INLINE inline __attribute__((always_inline))
#define CORUN__NORETURN __attribute__((noreturn))
#define CORUN__UNUSED __attribute__((unused))
/* The cache line of the CPUs corun is tuned for (x86-64, and the usual
 * AArch64 and RISC-V cores): what objects written from several workers
 * are laid out by. */
#define CORUN__CACHE_LINE 64

#ifndef __has_feature
#define __has_feature(x) 0
#endif

/* Sanitizers announce themselves differently in gcc and clang. */
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define CORUN__ASAN 1
#else
#define CORUN__ASAN 0
#endif

#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define CORUN__TSAN 1
#else
#define CORUN__TSAN 0
#endif

#endif
